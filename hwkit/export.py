"""`hwkit export`: grades-<assignment>.csv from the course gradebook, with the points TAs gave in formgrader
beside the autograded ones (run it after grading written answers by hand).

nbgrader and nbformat are imported only once the gradebook is known to exist: they take seconds,
and `hwkit export` before anything was graded should say so at once."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .course import Course, CourseError
from .results import GradeRun, NotebookGrade

if TYPE_CHECKING:
    from nbgrader.api import Gradebook


def export_from_gradebook(course: Course) -> GradeRun:
    """Every student's points as the course gradebook has them now: autograded scores, plus the
    points (and extra credit) TAs gave in formgrader. A written answer not graded yet is None.
    CourseError when nothing has been graded yet."""
    if not course.gradebook.exists():
        raise CourseError(f"nothing graded yet ({course.gradebook} does not exist): run `hwkit grade` first.")
    from nbgrader.api import Gradebook

    from .assignment import load as load_assignment

    grades: list[NotebookGrade] = []
    notes: dict[str, list[str]] = {}
    students = {p.name for p in course.submitted.iterdir() if p.is_dir() and not p.name.startswith(".")} \
        if course.submitted.is_dir() else set()
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        graded = {s.student.id for s in gradebook.assignment_submissions(course.assignment)} \
            if course.assignment in {a.name for a in gradebook.assignments} else set()
        if not graded:
            raise CourseError(f"nothing graded yet (the gradebook has no {course.assignment} submission): "
                              "run `hwkit grade` first.")
        model = load_assignment(course)
        for student in sorted(students | graded):
            notes[student] = [] if student in graded else ["not graded yet: run `hwkit grade`"]
            for notebook in model.notebooks:
                name = notebook.name
                grade = NotebookGrade.zero(student, name, notebook.max_scores, manual=notebook.manual)
                executed = course.autograded / student / course.assignment / name
                if student not in graded:
                    grade.mark_not_graded("not in the gradebook: run `hwkit grade`")
                elif not executed.exists():
                    grade.problems.append(f"{name} was not graded (missing, unreadable or could not be executed): "
                                          "0 points")
                else:
                    _scores_from_gradebook(gradebook, grade, course, executed)
                grades.append(grade)
    return GradeRun(grades, notes)


def _scores_from_gradebook(gradebook: Gradebook, grade: NotebookGrade, course: Course, executed: Path) -> None:
    import nbformat
    from nbgrader.api import MissingEntry

    from .notebooks import error_messages

    try:
        notebook = gradebook.find_submission_notebook(Path(grade.notebook).stem, course.assignment, grade.student)
    except MissingEntry:
        grade.problems.append(f"{grade.notebook} has no grades in the gradebook: 0 points")
        return
    comments = {c.name: c.comment for c in notebook.comments if c.comment}
    executed_nb = None
    for cell in notebook.grades:
        if cell.name not in grade.scores:
            continue
        if cell.needs_manual_grade and cell.manual_score is None:
            grade.scores[cell.name] = None  # waits for a TA in formgrader
            continue
        # nbgrader's rule: a TA's score replaces the autograder's; extra credit adds to it.
        score = float(cell.score or 0) + float(cell.extra_credit or 0)
        grade.scores[cell.name] = score
        maximum = grade.max_scores[cell.name]
        if cell.manual_score is not None:
            if cell.needs_manual_grade:  # nbgrader flags hand grades again when it re-autogrades
                grade.problems.append(f"{cell.name}: graded by hand, flagged for review after re-grading")
            if score < maximum or cell.name in comments:
                comment = f" ({comments[cell.name]})" if cell.name in comments else ""
                grade.problems.append(f"{cell.name}: {score:g} / {maximum:g} graded by hand{comment}")
        elif score < maximum:
            executed_nb = executed_nb or nbformat.read(executed, as_version=4)
            reason = "; ".join(error_messages(executed_nb, cell.name)) or "the test cell wrote to stderr or did not run"
            grade.problems.append(f"{cell.name}: {reason}")


def export_grades(course: Course, out: Path | None = None) -> int:
    """Write grades-<assignment>.csv (or `out`) from the gradebook and print the table; the exit code."""
    out = out or course.grades_csv
    if not out.parent.is_dir():
        raise CourseError(f"--out {out}: the folder {out.parent} does not exist; create it or choose another file.")
    run = export_from_gradebook(course)
    from .report import console_table  # matplotlib and friends: after the checks
    from .term import complete_run, write_grade_files

    run = complete_run(course, run)
    out, canvas = write_grade_files(course, run, out)
    print(console_table(run, course.assignment))
    waiting = sum(1 for g in run.grades for s in g.scores.values() if s is None)
    print(f"\n{len(run.students())} student(s) exported to {out} (for Canvas's gradebook import: {canvas.name}); "
          f"{waiting} written answer(s) still wait for a grade in formgrader")
    return 0
