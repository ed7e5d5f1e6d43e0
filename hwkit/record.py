"""Recording grades: reading one student's results out of a worker's scratch gradebook, and writing
them into the course gradebook with nbgrader's own API (manual grades are kept)."""
from __future__ import annotations

import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .assignment import load as load_assignment
from .course import Course
from .intake import Submission
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
    gives a missing notebook; a manual score already there is kept and flagged for review."""
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gradebook:
        warnings.simplefilter("ignore")  # SQLAlchemy chatter from nbgrader's add_submission
        gradebook.update_or_create_student(result.student)
        extra = {"timestamp": result.timestamp} if result.timestamp else {}
        submission = gradebook.update_or_create_submission(assignment, result.student, **extra)
        for notebook in submission.notebooks:
            record = result.notebooks.get(notebook.name)
            for cell_grade in notebook.grades:
                if record and cell_grade.name in record["grades"]:
                    cell_grade.auto_score, needs = record["grades"][cell_grade.name]
                else:
                    cell_grade.auto_score, needs = 0.0, False
                cell_grade.needs_manual_grade = bool(needs or cell_grade.manual_score is not None)
            for comment in notebook.comments:
                comment.auto_comment = (record or {}).get("comments", {}).get(comment.name)
            notebook.late_submission_penalty = (record or {}).get("late_submission_penalty")
        gradebook.db.commit()
