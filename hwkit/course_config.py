"""What the course's own files say about grading: its nbgrader_config.py (course id, gradebook URL,
the late policy's and Canvas's settings) and the points of each question (the instructor notebooks)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .course import Course
from .notebooks import grade_cells, read_notebook

if TYPE_CHECKING:
    from traitlets.config import Config


def max_scores(course: Course) -> dict[str, dict[str, float]]:
    """notebook -> grade_id -> points, from the instructor notebooks (graded cells and nbgrader tasks,
    in notebook order)."""
    table = {}
    for name in course.notebook_names():
        nb = read_notebook(course.source / name)
        graded = {c.grade_id: c.points for c in grade_cells(nb)}
        cells = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") in graded:
                cells[meta["grade_id"]] = graded[meta["grade_id"]]
            elif meta.get("task"):  # a written task, graded by hand in formgrader
                cells[meta["grade_id"]] = float(meta.get("points", 0))
        table[name] = cells
    return table


def course_config(course: Course) -> Config:
    """The course's nbgrader_config.py, loaded (a traitlets Config)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()


def course_settings(course: Course) -> tuple[str, str]:
    """(course_id, db_url) from the course's nbgrader_config.py."""
    config = course_config(course)
    course_id = config.CourseDirectory.get("course_id", "default_course")
    db_url = config.CourseDirectory.get("db_url", f"sqlite:///{course.gradebook}")
    return str(course_id), str(db_url)
