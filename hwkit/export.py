"""`hwkit export` and `hwkit release-feedback`: every report written again from the course gradebook (after TAs
graded written answers in formgrader, or a roster or late policy changed), and what the console says then.

nbgrader and nbformat are imported only once the gradebook is known to exist: they take seconds,
and `hwkit export` before anything was graded should say so at once."""
from __future__ import annotations

from pathlib import Path

from .course import Course, CourseError
from .results import GradeRun


def export_from_gradebook(course: Course) -> GradeRun:
    """Every student's points as the course gradebook has them now (gradebook_view.read_view). CourseError when
    nothing has been graded yet."""
    if not course.gradebook.exists():
        raise CourseError(f"nothing graded yet ({course.gradebook} does not exist): run `hwkit grade` first.")
    from .gradebook_view import read_view

    return read_view(course)


def export_grades(course: Course, out: Path | None = None) -> int:
    """Write every report from the gradebook (grades-<assignment>.csv also at `out`, if given) and print the
    table; the exit code."""
    if out is not None and not out.parent.is_dir():
        raise CourseError(f"--out {out}: the folder {out.parent} does not exist; create it or choose another file.")
    run = export_from_gradebook(course)
    from .publish import publish, write_grade_files
    from .report import console_table

    published = publish(course, run)
    if out is not None and out.resolve() != published.grades_csv.resolve():
        write_grade_files(course, run, out)
    print(console_table(run, course.assignment))
    waiting = sum(1 for g in run.grades for s in g.manual_scores.values() if s is None and g.graded
                  and g.student not in run.absent)
    zips = published.zips[0].parent if published.zips else "-"
    print(f"\n{len(run.students())} student(s) exported to {out or published.grades_csv} (for Canvas's gradebook "
          f"import: {published.canvas_csv.name}), feedback zips in {zips}; {waiting} written answer(s) still wait "
          "for a grade in formgrader")
    return 0


def release_grades_feedback(course: Course) -> int:
    """`hwkit release-feedback`: the reports from the gradebook, then where the zips are; the exit code."""
    run = export_from_gradebook(course)
    from .publish import publish

    zips = publish(course, run).zips
    if not zips:
        raise CourseError(f"no feedback in {course.feedback}/<student>/{course.assignment}/: run `hwkit grade` first.")
    print(f"{len(zips)} feedback zip(s), one per student (<student>.zip), in {zips[0].parent}: upload each to its "
          "student in the LMS (grades-<assignment>.csv and the Canvas file were written again from the same gradebook)")
    return 0
