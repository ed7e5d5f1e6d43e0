"""The one read of the course gradebook every report is derived from: `read_view(course)`, a GradeRun of
one assignment as nbgrader's gradebook holds it now.

Per student and notebook: the autograded points (the judge's verdicts, as `hwkit grade` recorded them), a
TA's points and comments from formgrader (nbgrader's rule: a TA's score replaces the autograder's, extra
credit adds), written answers no TA has graded yet (None), the late penalty (late.py, recorded back in the
gradebook) and the roster's names. What the gradebook cannot hold comes from the judge's record of the last
grading (cache.py): why points were lost, a notebook whose grading did not finish (NOT GRADED, never 0), the
notes of the intake. Everyone on the roster is in it; who handed in nothing has 0 points, "no submission".
grades-<assignment>.csv, the Canvas file, the console, the figure, the feedback pages and zips and the
regrade report are all written from this one view (publish.py), so they cannot disagree.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .assignment import load as load_assignment
from .cache import records
from .course import Course, CourseError
from .course_config import course_settings
from .late import apply_late_policy, describe
from .results import NO_SUBMISSION, GradeRun, NotebookGrade
from .roster import read_roster


def read_view(course: Course) -> GradeRun:
    """The assignment's grades as the gradebook has them; CourseError when nothing has been graded yet."""
    if not course.gradebook.exists():
        raise CourseError(f"nothing graded yet ({course.gradebook} does not exist): run `hwkit grade` first.")
    model = load_assignment(course)
    _, db_url = course_settings(course)
    roster = read_roster(db_url)
    recorded = records(course)
    run = GradeRun([], {}, roster=roster)
    with Gradebook(db_url) as gradebook:
        try:
            submissions = {s.student.id: s for s in gradebook.find_assignment(course.assignment).submissions}
        except MissingEntry:
            submissions = {}
        if not submissions and not recorded:
            raise CourseError(f"nothing graded yet (the gradebook has no {course.assignment} submission): "
                              "run `hwkit grade` first.")
        for student in sorted(set(roster) | set(submissions) | set(recorded)):
            record = recorded.get(student, {})
            if student not in submissions and not record:
                run.absent.append(student)
                run.notes[student] = [f"{NO_SUBMISSION}: on the roster, nothing handed in"]
            elif record.get("notes"):
                run.notes[student] = list(record["notes"])
            verdicts = {g.notebook: g for g in record.get("grades", [])}
            notebooks = {nb.name: nb for nb in submissions[student].notebooks} if student in submissions else {}
            for notebook in model.notebooks:
                grade = NotebookGrade.zero(student, notebook.name, notebook.max_scores,
                                           [NO_SUBMISSION] if student in run.absent else [], notebook.manual)
                verdict = verdicts.get(notebook.name)
                if verdict is not None:
                    grade.problems, grade.status = list(verdict.problems), verdict.status
                stored = notebooks.get(Path(notebook.name).stem)
                if record and student not in submissions:  # recorded, but the gradebook lost it: no grade, not 0
                    grade.mark_not_graded("not in the gradebook: run `hwkit grade`")
                if not grade.graded:
                    grade.scores = dict.fromkeys(grade.scores)
                elif stored is not None:
                    _points(stored, grade)
                run.grades.append(grade)
    sandboxed = {r.get("sandboxed") for r in recorded.values()}
    run.sandboxed = False if False in sandboxed else (True if sandboxed == {True} else None)
    run.late = apply_late_policy(course, run, db_url)
    for student, lateness in run.late.items():  # the feedback page lists the run's notes
        if lateness.late:
            run.notes.setdefault(student, []).append(
                f"handed in {lateness.submitted_at}, due {lateness.due}: {describe(lateness)} "
                "(the late policy's percentage applies to every point, a TA's too)")
    return run


def _points(stored, grade: NotebookGrade) -> None:
    """A notebook's points and a TA's comments from its gradebook record (nbgrader's SubmittedNotebook)."""
    for cell in stored.grades:
        if cell.name not in grade.scores:
            continue
        extra = float(cell.extra_credit or 0)
        if cell.manual_score is not None:
            grade.scores[cell.name] = float(cell.manual_score) + extra
        elif cell.auto_score is None:
            grade.scores[cell.name] = None  # a written answer: waits for a TA in formgrader
        else:
            grade.scores[cell.name] = float(cell.auto_score or 0) + extra
    grade.comments = {c.name: c.manual_comment for c in stored.comments
                      if c.manual_comment and c.name in grade.scores}
