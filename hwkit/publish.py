"""Every file a person or the LMS reads, written in one step from the gradebook view (gradebook_view.py):
grades-<assignment>.csv, grades-canvas-<assignment>.csv, grades-summary-<assignment>.png, each student's
feedback folder (index.html and the notebooks' pages) and the feedback zips. `hwkit grade`, `export` and
`release-feedback` all end here, so whichever ran last, the files agree, and running them again changes
nothing unless a grade changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .canvas import canvas_column, write_canvas_csv
from .course import Course
from .course_config import course_config, course_settings
from .release import release_feedback
from .report import write_grades_csv, write_summaries, write_summary_figure
from .results import GradeRun

PAGES_KEY = ".hwkit-pages"  # in a feedback folder: what the notebooks' pages were last generated from


@dataclass(frozen=True)
class Published:
    grades_csv: Path
    canvas_csv: Path
    figure: Path
    zips: list[Path]


def publish(course: Course, run: GradeRun) -> Published:
    """Write every report of `run` (the gradebook view)."""
    grades_csv, canvas_csv = write_grade_files(course, run, course.grades_csv)
    refresh_notebook_pages(course, run)
    write_summaries(run, course)
    figure = write_summary_figure(run, course.summary_figure)
    return Published(grades_csv, canvas_csv, figure, release_feedback(course))


def write_grade_files(course: Course, run: GradeRun, path: Path) -> list[Path]:
    """grades.csv at `path` and, beside it, the file Canvas's gradebook import reads (names from the roster)."""
    write_grades_csv(run, path)
    canvas = path.with_name(course.canvas_csv.name)
    write_canvas_csv(run, run.roster, canvas_column(course.assignment, course_config(course)), canvas)
    return [path, canvas]


def refresh_notebook_pages(course: Course, run: GradeRun) -> list[str]:
    """nbgrader's GenerateFeedback again, on the course gradebook, for every student whose notebook pages miss
    what the gradebook holds now. The grading worker wrote them from its scratch gradebook: the judge's
    points, no TA's points or comments, no late penalty; a student's pages are generated again once those
    differ from what they show (a key in the folder says what that was). Returns the students."""
    stale = []
    for student, grades in run.by_student().items():
        folder = course.feedback / student / course.assignment
        executed = course.autograded / student / course.assignment
        if student in run.absent or not all(g.graded for g in grades) or not executed.is_dir():
            continue
        lateness = run.late.get(student)
        key = json.dumps([[g.notebook, g.scores, g.comments] for g in grades] + [lateness.points if lateness else 0])
        mark = folder / PAGES_KEY
        if mark.exists():
            fresh = mark.read_text() == key
        else:  # the worker's own pages: right while no TA has graded and there is no penalty
            fresh = not (any(g.comments or any(s is not None for s in g.manual_scores.values()) for g in grades)
                         or (lateness and lateness.points))
        if not fresh:
            stale.append((student, folder, key))
    if stale:
        api = _nbgrader_api(course)
        for student, folder, key in stale:
            done = api.generate_feedback(course.assignment, student, force=True)
            if done.get("success"):
                (folder / PAGES_KEY).write_text(key)
    return [student for student, _, _ in stale]


def _nbgrader_api(course: Course):
    """nbgrader's API on the course folder and its gradebook (generate_feedback reads autograded/)."""
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(course)
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course_settings(course)[1]
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
