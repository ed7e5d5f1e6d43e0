"""A grading run as the term's reports show it: everyone on the roster (who handed in nothing: 0 points,
"no submission") and each student's late penalty; grades.csv and the Canvas import file beside it."""
from __future__ import annotations

from pathlib import Path

from .assignment import load as load_assignment
from .canvas import canvas_column, write_canvas_csv
from .course import Course
from .course_config import course_config, course_settings
from .late import apply_late_policy, describe
from .report import write_grades_csv
from .results import NO_SUBMISSION, GradeRun, NotebookGrade
from .roster import read_roster


def complete_run(course: Course, run: GradeRun) -> GradeRun:
    """Add the roster's students who submitted nothing, and every student's lateness (the penalty is also
    recorded in the gradebook). Without a gradebook the run is returned as it is."""
    if not course.gradebook.exists():
        return run
    _, db_url = course_settings(course)
    roster = read_roster(db_url)
    absent = sorted(set(roster) - set(run.students()))
    if absent:
        shape = _notebooks(course, run)
        for student in absent:
            run.grades.extend(NotebookGrade.zero(student, name, points, [NO_SUBMISSION], manual)
                              for name, (points, manual) in shape.items())
            run.notes.setdefault(student, []).append(f"{NO_SUBMISSION}: on the roster, nothing handed in")
        run.grades.sort(key=lambda grade: grade.student)  # stable: each student's notebooks keep their order
        run.absent = absent
    run.late = apply_late_policy(course, run, db_url)
    for student, lateness in run.late.items():  # the feedback page lists the run's notes
        if lateness.late:
            run.notes.setdefault(student, []).append(
                f"handed in {lateness.submitted_at}, due {lateness.due}: {describe(lateness)} so far "
                "(the late policy's percentage applies to every point, a TA's too)")
    return run


def _notebooks(course: Course, run: GradeRun) -> dict[str, tuple[dict[str, float], list[str]]]:
    """notebook -> (points per question, written questions), as the run's students have them (the same
    columns in every report), or from source/ when nobody handed in anything."""
    if run.grades:
        first = run.by_student()[run.grades[0].student]
        return {g.notebook: (g.max_scores, g.manual) for g in first}
    return {nb.name: (nb.max_scores, nb.manual) for nb in load_assignment(course).notebooks}


def write_grade_files(course: Course, run: GradeRun, path: Path) -> list[Path]:
    """grades.csv at `path` and, beside it, the file Canvas's gradebook import reads (names from the roster)."""
    write_grades_csv(run, path)
    canvas = path.with_name(course.canvas_csv.name)
    roster = read_roster(course_settings(course)[1]) if course.gradebook.exists() else {}
    write_canvas_csv(run, roster, canvas_column(course.assignment, course_config(course)), canvas)
    return [path, canvas]
