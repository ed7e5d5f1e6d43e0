"""Recording grades: reading one student's results out of a worker's scratch gradebook, and writing
them into the course gradebook with nbgrader's own API (a TA's grades are kept); the parent's side of every
graded student (`Recorder`: its folders, the gradebook, the judge's record in the cache, whole or not at all);
and which attempt of each student is graded (the latest across every intake so far: a copy of each graded
submission is kept in autograded/.hwkit-intake/<assignment>/<student>/, so a student absent from a later
intake is graded again from it when a check changed)."""
from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import parse_utc

from .assignment import load as load_assignment
from .cache import store_cached
from .course import Course
from .intake import Submission
from .interrupts import deferred_interrupt
from .progress import Progress
from .results import NOT_GRADED, Diagnosis, NotebookGrade, StudentResult


def harvest_gradebook(scratch: Path, assignment: str, submission: Submission,
                      maxima: dict[str, dict[str, float]], judged: dict[str, tuple]) -> StudentResult:
    """Scores (with reasons) and the raw gradebook records of one student in a scratch course."""
    course = Course(scratch, assignment)
    model = load_assignment(course)
    records: dict[str, dict] = {}
    timestamp = None
    db = scratch / "gradebook.db"
    grades = []
    with Gradebook(f"sqlite:///{db}") as gradebook:
        try:
            sub = gradebook.find_submission(assignment, submission.student)
            timestamp = sub.timestamp.isoformat() if sub.timestamp else None
        except MissingEntry:
            sub = None
        for name, cell_max in maxima.items():
            grade = NotebookGrade.zero(submission.student, name, cell_max, submission.notes.get(name, []),
                                       manual=model.notebook(name).manual)
            executed = scratch / "autograded" / submission.student / assignment / name
            if name in submission.notebooks:
                if not executed.exists() or sub is None:
                    grade.problems.append(f"{name} could not be executed (nbgrader failed on it): 0 points")
                else:
                    _fill_scores(gradebook, grade, course, judged.get(name))
                    nb = gradebook.find_submission_notebook(Path(name).stem, assignment, submission.student)
                    records[Path(name).stem] = {  # not graded: every cell flagged for a TA in formgrader
                        "late_submission_penalty": nb.late_submission_penalty,
                        "grades": {g.name: [g.auto_score, g.needs_manual_grade or not grade.graded] for g in nb.grades},
                        "comments": {c.name: c.auto_comment for c in nb.comments}}
            grades.append(grade)
    return StudentResult(submission.student, grades, records, timestamp)


def _fill_scores(gradebook: Gradebook, grade: NotebookGrade, course: Course, judged: tuple | None) -> None:
    """Scores from the gradebook (the judge's verdicts for the autograded questions) and the reasons
    points were lost: the verdicts, then the errors the notebook's own code raised while the judge ran it."""
    try:
        notebook = gradebook.find_submission_notebook(Path(grade.notebook).stem, course.assignment, grade.student)
    except MissingEntry:
        grade.problems.append(f"{grade.notebook} has no grades in the gradebook: 0 points")
        return
    for cell_grade in notebook.grades:
        if cell_grade.name not in grade.max_scores:
            continue
        # Written answers wait for a TA (None) until graded in formgrader.
        grade.scores[cell_grade.name] = None if cell_grade.needs_manual_grade else float(cell_grade.score or 0)
    if judged is None:
        grade.mark_not_graded(f"{grade.notebook} was not judged (its autograded questions have no verdict)")
        return
    verdicts, ran = judged
    unjudged = next((v.message for v in verdicts if v.message.startswith(NOT_GRADED)), None)
    if unjudged is not None:  # the judge could not even run the notebook's cells: no grade, not 0 points
        grade.mark_not_graded(unjudged[len(NOT_GRADED):].lstrip(": "))
        return
    grade.problems.extend(v.message for v in verdicts if not v.passed)
    grade.diagnoses.extend(Diagnosis(v.question, v.case, v.cause) for v in verdicts if not v.passed)
    grade.errors.extend(ran.raised)
    if any(not v.passed for v in verdicts):  # errors in the student's own cells explain failing questions
        grade.problems.extend(f"error in {e}" for e in ran.errors[:5])
        if len(ran.errors) > 5:
            grade.problems.append(f"... and {len(ran.errors) - 5} more cells with errors")


def merge_into_gradebook(db_url: str, course_id: str, assignment: str, result: StudentResult) -> None:
    """Write one student's autograde results into the course gradebook with nbgrader's API.

    Notebooks that were not graded (missing or unreadable) get 0 automatic points, as nbgrader
    gives a missing notebook; a TA's score already there is kept, and flagged for review only when the
    student handed in again (another timestamp)."""
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gradebook:
        warnings.simplefilter("ignore")  # SQLAlchemy chatter from nbgrader's add_submission
        gradebook.update_or_create_student(result.student)
        extra = {"timestamp": result.timestamp} if result.timestamp else {}
        try:
            before = gradebook.find_submission(assignment, result.student).timestamp
        except MissingEntry:
            before = None
        submission = gradebook.update_or_create_submission(assignment, result.student, **extra)
        resubmitted = before is not None and before != submission.timestamp
        for notebook in submission.notebooks:
            record = result.notebooks.get(notebook.name)
            for cell_grade in notebook.grades:
                if record and cell_grade.name in record["grades"]:
                    cell_grade.auto_score, needs = record["grades"][cell_grade.name]
                else:
                    cell_grade.auto_score, needs = 0.0, False
                # A TA's grade stands through a regrade of the same submission; a new one needs a new look.
                cell_grade.needs_manual_grade = bool(needs) and (cell_grade.manual_score is None or resubmitted)
            for comment in notebook.comments:
                comment.auto_comment = (record or {}).get("comments", {}).get(comment.name)
            notebook.late_submission_penalty = (record or {}).get("late_submission_penalty")
        gradebook.db.commit()


def gradebook_students(db_url: str, assignment: str) -> dict[str, object]:
    """student -> the timestamp of their graded submission (None: none known)."""
    try:
        with Gradebook(db_url) as gradebook:
            return {s.student.id: s.timestamp for s in gradebook.find_assignment(assignment).submissions}
    except MissingEntry:
        return {}


NOT_IN_INTAKE = "not in this intake"


def _copies(course: Course) -> Path:
    return course.autograded / ".hwkit-intake" / course.assignment


def keep_copy(course: Course, submission: Submission) -> None:
    """The graded submission as it came in (notebooks under their expected names, timestamp, intake notes)."""
    target = _copies(course) / submission.student
    partial = target.with_name(f".{submission.student}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, partial / name)
    (partial / "intake.json").write_text(json.dumps({"timestamp": submission.timestamp, "notes": submission.notes}))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)


def kept_copies(course: Course, students: list[str]) -> list[Submission]:
    """The kept copies of `students`' last graded submissions (those that have one)."""
    found = []
    for student in students:
        folder = _copies(course) / student
        try:
            intake = json.loads((folder / "intake.json").read_text())
        except (OSError, ValueError):
            continue
        notebooks = {p.name: p for p in sorted(folder.glob("*.ipynb"))}
        found.append(Submission(student, notebooks, intake["notes"], intake["timestamp"]))
    return found


def latest_attempts(ordered: list[Submission], known: dict[str, object]) -> tuple[list[Submission], dict[str, str]]:
    """The submissions to grade (each student's latest attempt across every intake so far), and student -> why
    their graded submission is kept: absent from this intake, or this copy is older than the graded one."""
    here = {s.student for s in ordered}
    kept = {student: NOT_IN_INTAKE for student in known if student not in here}
    latest = []
    for s in ordered:
        graded_at = known.get(s.student)
        if graded_at is not None and s.timestamp and parse_utc(s.timestamp) < graded_at:
            kept[s.student] = f"this copy ({s.timestamp}) is older than the graded one ({graded_at})"
        else:
            latest.append(s)
    return latest, dict(sorted(kept.items()))


@dataclass
class Recorder:
    """The parent's side of every graded student: publish its folders, merge it into the course
    gradebook, cache it, count it."""

    course: Course
    course_id: str
    db_url: str
    keys: dict[str, str]
    results: dict[str, list[NotebookGrade]]
    bar: Progress | None
    on_result: Callable[[str], None] | None
    sandboxed: bool

    def finished(self, submission: Submission, result: StudentResult, worker: str | None = None) -> None:
        grades = result.grades
        if result.log and grades:
            grades[0].problems.append("nbgrader could not grade the submission: " +
                                      result.log.strip().splitlines()[-1][:300])
        graded = all(g.graded for g in grades)
        with deferred_interrupt():  # whole or not at all
            self._publish(result)
            merge_into_gradebook(self.db_url, self.course_id, self.course.assignment, result)
            keep_copy(self.course, submission)
            # a notebook not graded is tried again next run (no key)
            store_cached(self.course, submission.student, self.keys[submission.student] if graded else None, grades,
                         result.timings, submission.notes.get("*"), self.sandboxed)
            self.results[submission.student] = grades
        if self.on_result:
            self.on_result(submission.student)
        if self.bar:
            self.bar.update(submission.student, "" if graded else " (NOT GRADED)", worker)

    def not_graded(self, submission: Submission, grades: list[NotebookGrade]) -> None:
        with deferred_interrupt():  # recorded without a key: shown NOT GRADED, never reused
            store_cached(self.course, submission.student, None, grades, {}, submission.notes.get("*"), self.sandboxed)
            self.results[submission.student] = grades
        if self.bar:
            self.bar.update(submission.student, " (NOT GRADED)")

    def _publish(self, result: StudentResult) -> None:
        """The student's autograded notebooks and feedback of this assignment replace the previous ones (the
        student's folders of other assignments stay as they are)."""
        for kind, source in (("autograded", result.autograded), ("feedback", result.feedback)):
            target = getattr(self.course, kind) / result.student / self.course.assignment
            shutil.rmtree(target, ignore_errors=True)
            if (Path(source) / self.course.assignment).is_dir():
                shutil.copytree(Path(source) / self.course.assignment, target)
