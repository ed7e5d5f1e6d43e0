"""`hwkit grade`: autograde every submitted/<student>/hw1/ with nbgrader, in a scratch copy.

Students' files are copied into a scratch course before nbgrader sees them, so nothing
under submitted/ is ever written; unreadable notebooks are reported and left out, so the
rest of that student's work and every other student are still graded.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .course import Course, nbgrader
from .intake import Submission, collect
from .notebooks import error_messages, grade_cells, read_notebook


@dataclass
class NotebookGrade:
    """Points of one student's notebook per graded cell, and what went wrong."""

    student: str
    notebook: str
    scores: dict[str, float | None]  # None: waits for a human grader
    max_scores: dict[str, float]
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s or 0.0 for s in self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())


@dataclass
class GradeRun:
    grades: list[NotebookGrade]
    notes: dict[str, list[str]]  # student -> notes not tied to a notebook

    def students(self) -> list[str]:
        return sorted({g.student for g in self.grades})


def max_scores(course: Course) -> dict[str, dict[str, float]]:
    """notebook -> grade_id -> points, from the instructor notebooks."""
    return {name: {c.grade_id: c.points for c in grade_cells(read_notebook(course.source / name))}
            for name in course.notebook_names()}


def prepare_scratch(course: Course, scratch: Path, submissions: list[Submission]) -> None:
    """A throwaway course: config, source, grader tests, gradebook and copies of the notebooks."""
    shutil.copy(course.root / "nbgrader_config.py", scratch)
    shutil.copytree(course.source, scratch / "source" / course.assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(course.grader_tests, scratch / "grader_tests", ignore=shutil.ignore_patterns("__pycache__"))
    for submission in submissions:
        target = scratch / "submitted" / submission.student / course.assignment
        target.mkdir(parents=True)
        for name, path in submission.notebooks.items():
            shutil.copyfile(path, target / name)  # under the expected name, even if renamed


def autograde(scratch: Path, course: Course, timeout: int) -> str:
    """Register the assignment from source/ and autograde every submission in `scratch`."""
    env = course.env()
    setup = nbgrader(scratch, "generate_assignment", course.assignment, "--force", env=env)
    if setup.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed in the scratch course:\n{setup.stderr}")
    done = nbgrader(scratch, "autograde", course.assignment, "--force", f"--Execute.timeout={timeout}", env=env)
    feedback = nbgrader(scratch, "generate_feedback", course.assignment, "--force", env=env)
    return done.stdout + done.stderr + feedback.stderr


def harvest(scratch: Path, course: Course, submission: Submission, maxima: dict[str, dict[str, float]]) -> list[NotebookGrade]:
    """Scores of one student's notebooks from the scratch gradebook, with reasons for lost points."""
    grades = []
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        for name, cell_max in maxima.items():
            grade = NotebookGrade(submission.student, name, dict.fromkeys(cell_max, 0.0), dict(cell_max),
                                  list(submission.notes.get(name, [])))
            executed = scratch / "autograded" / submission.student / course.assignment / name
            if name in submission.notebooks:
                if not executed.exists():
                    grade.problems.append(f"{name} could not be executed (the kernel died or nbgrader failed): 0 points")
                else:
                    _fill_scores(gradebook, grade, course, executed)
            grades.append(grade)
    return grades


def _fill_scores(gradebook: Gradebook, grade: NotebookGrade, course: Course, executed: Path) -> None:
    try:
        notebook = gradebook.find_submission_notebook(Path(grade.notebook).stem, course.assignment, grade.student)
    except MissingEntry:
        grade.problems.append(f"{grade.notebook} has no grades in the gradebook: 0 points")
        return
    for cell_grade in notebook.grades:
        # Written answers wait for a TA (None) until graded in formgrader.
        grade.scores[cell_grade.name] = None if cell_grade.needs_manual_grade else float(cell_grade.score or 0)
    executed_nb = nbformat.read(executed, as_version=4)
    for grade_id, score in grade.scores.items():
        if score is not None and score < grade.max_scores[grade_id]:
            reason = "; ".join(error_messages(executed_nb, grade_id)) or "the test cell wrote to stderr or did not run"
            grade.problems.append(f"{grade_id}: {reason}")


def publish(scratch: Path, course: Course) -> None:
    """Copy autograded notebooks, feedback and the gradebook from the scratch course into the course."""
    for kind in ("autograded", "feedback"):
        if (scratch / kind).exists():
            for student in (scratch / kind).iterdir():
                target = getattr(course, kind) / student.name
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(student, target)
    shutil.copy(scratch / "gradebook.db", course.gradebook)


def grade(course: Course, timeout: int = 20) -> GradeRun:
    """Autograde every submission; write autograded/, feedback/ and the gradebook of `course`."""
    submissions = collect(course)
    maxima = max_scores(course)
    grades: list[NotebookGrade] = []
    with tempfile.TemporaryDirectory(prefix="hwkit-grade-") as tmp:
        scratch = Path(tmp)
        prepare_scratch(course, scratch, submissions)
        autograde(scratch, course, timeout)
        for submission in submissions:
            grades.extend(harvest(scratch, course, submission, maxima))
        publish(scratch, course)
    return GradeRun(grades, {s.student: s.notes.get("*", []) for s in submissions})
