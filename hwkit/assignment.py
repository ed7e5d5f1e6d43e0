"""The assignment model: what one assignment of the course is, read once from the course folder.

Everything hwkit needs to know about an assignment comes from here, never from a name written in
hwkit: its notebooks (the instructor notebooks in source/<assignment>/, in a stable order), their
questions with their points and who grades them (an autograded test cell, or a TA: a written answer
or an nbgrader task), and the instructor's optional packages, found by convention:
  source/<assignment>/<name>_checks/   the public checks students get (one such package)
  grader_tests/<name>_hidden/          the instructor-only references and hidden cases of those checks
An ordinary nbgrader assignment has neither (a copy of an assignment keeps its packages' names).

`load(course)` parses each instructor notebook once per command (a notebook changed on disk is
read again) and raises CourseError with one sentence when the assignment does not exist.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .course import Course, CourseError
from .notebooks import BadNotebook, read_notebook


@dataclass(frozen=True)
class Question:
    """One graded cell of an instructor notebook (nbgrader's grade_id and points)."""

    id: str
    points: float
    auto: bool  # an autograded test cell; otherwise a TA grades it in formgrader


@dataclass(frozen=True)
class AssignmentNotebook:
    """One instructor notebook and its questions, in notebook order."""

    name: str  # file name, e.g. "Lab.ipynb"
    questions: tuple[Question, ...]

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def max_scores(self) -> dict[str, float]:
        return {q.id: q.points for q in self.questions}

    @property
    def auto(self) -> list[Question]:
        return [q for q in self.questions if q.auto]

    @property
    def manual(self) -> list[str]:
        """The grade_ids a TA grades by hand in formgrader: written answers and nbgrader tasks."""
        return [q.id for q in self.questions if not q.auto]


@dataclass(frozen=True)
class Assignment:
    """One assignment of the course: its notebooks and questions, and the instructor's packages."""

    name: str
    source: Path
    release: Path
    notebooks: tuple[AssignmentNotebook, ...]
    checks: str | None  # package of public checks in source/<name>/ (shipped with the release), if any
    hidden: str | None  # instructor-only package in grader_tests/ (never shipped), if any
    grader_tests: Path

    def notebook(self, name: str) -> AssignmentNotebook:
        return next(nb for nb in self.notebooks if nb.name == name)

    @property
    def notebook_names(self) -> list[str]:
        return [nb.name for nb in self.notebooks]

    @property
    def max_scores(self) -> dict[str, dict[str, float]]:
        """notebook -> grade_id -> points (autograded, written and task cells, in notebook order)."""
        return {nb.name: nb.max_scores for nb in self.notebooks}

    @property
    def total_points(self) -> float:
        return sum(q.points for nb in self.notebooks for q in nb.questions)

    @property
    def checks_folder(self) -> Path | None:
        return self.source / self.checks if self.checks else None

    @property
    def hidden_folder(self) -> Path | None:
        return self.grader_tests / self.hidden if self.hidden else None


def assignments_of(course: Course) -> list[str]:
    """The assignments of the course: the folders of source/ that hold an instructor notebook."""
    source = course.root / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def load(course: Course) -> Assignment:
    """The model of `course.assignment` (CourseError naming the course's assignments if there is none)."""
    folder = course.source
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        known = ", ".join(assignments_of(course)) or "none yet"
        raise CourseError(f"--assignment {course.assignment}: {folder} holds no instructor notebook (the course's "
                          f"assignments: {known}): check the name, or put the assignment's notebooks there.")
    stamps = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.ipynb")))
    return _load(course, stamps)


@functools.lru_cache(maxsize=16)
def _load(course: Course, stamps: tuple[tuple[str, int, int], ...]) -> Assignment:
    notebooks = tuple(AssignmentNotebook(name, _questions(course.source / name)) for name, _, _ in stamps)
    checks = checks_package(course.source)
    hidden = hidden_package(checks) if checks else None
    return Assignment(
        name=course.assignment, source=course.source, release=course.release, notebooks=notebooks,
        checks=checks, hidden=hidden if hidden and (course.grader_tests / hidden / "__init__.py").is_file() else None,
        grader_tests=course.grader_tests)


def checks_package(source: Path) -> str | None:
    """The checks package in the assignment's instructor folder `source` (a package named <name>_checks), if any."""
    found = sorted(p.parent.name for p in source.glob("*_checks/__init__.py"))
    if len(found) > 1:
        raise CourseError(f"{source} holds {len(found)} checks packages ({', '.join(found)}): keep one.")
    return found[0] if found else None


def hidden_package(checks: str) -> str:
    """The instructor-only package that goes with a checks package: <name>_hidden in grader_tests/."""
    return checks.removesuffix("_checks") + "_hidden"


def _questions(path: Path) -> tuple[Question, ...]:
    """The graded cells of an instructor notebook (nbgrader's grades and tasks), in order."""
    from nbgrader import utils as nbgrader_utils

    try:
        nb = read_notebook(path)
    except BadNotebook as exc:
        raise CourseError(f"the instructor notebook {path} cannot be read ({exc}): fix or restore it.") from None
    questions = []
    for cell in nb.cells:
        if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_task(cell):
            meta = cell.metadata["nbgrader"]
            auto = cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
            questions.append(Question(meta["grade_id"], float(meta.get("points", 0)), auto))
    return tuple(questions)
