"""What the course's nbgrader_config.py says about grading: course id, gradebook URL, the late policy's and
Canvas's settings (what the instructor notebooks say is the assignment model, assignment.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .course import Course

if TYPE_CHECKING:
    from traitlets.config import Config


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
