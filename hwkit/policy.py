"""The course's policy checked before any work: `hwkit grade` runs `check_policy` first and, on any problem,
prints each (one sentence that says what to fix), exits 2 and writes nothing.

What is checked: nbgrader_config.py loads; `c.LatePolicy.due_dates` names assignments of the course (source/)
and gives each an ISO date and time (late.parse_due: a UTC offset is kept, none means UTC); `percent_per_day`
and `max_percent` are numbers from 0 to 100; `c.CanvasExport.assignment_ids` names assignments of the course
and gives Canvas ids (digits); the roster in the gradebook (roster.roster_problems: ids, duplicates,
lms_user_ids). `due_date_line` is the console's sentence on the due date a run applies.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from .assignment import assignments_of
from .course import CONFIG, Course
from .course_config import course_config, course_settings
from .late import parse_due


@dataclass(frozen=True)
class Problem:
    """One thing to fix before grading: where it is, and one sentence on what is wrong and what to do."""

    where: str  # e.g. "nbgrader_config.py", "the roster"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_policy(course: Course) -> list[Problem]:
    """Every problem of the course's grading policy and roster (empty: grading may start)."""
    try:
        config = course_config(course)
    except Exception as error:  # anything the instructor's Python file raises
        return [Problem(CONFIG, f"cannot be loaded ({type(error).__name__}: {error}): fix the file")]
    known = assignments_of(course)
    late, canvas = config.LatePolicy, config.CanvasExport
    problems = _names(late.get("due_dates", {}), "c.LatePolicy.due_dates", known)
    for name, text in _items(late.get("due_dates", {})):
        try:
            parse_due(str(text))
        except ValueError as error:
            problems.append(Problem(CONFIG, f"c.LatePolicy.due_dates[{name!r}]: {error}"))
    for option in ("percent_per_day", "max_percent"):
        value = late.get(option, 0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 100:
            problems.append(Problem(CONFIG, f"c.LatePolicy.{option} = {value!r}: give a number of percent from 0 "
                                            "to 100"))
    problems += _names(canvas.get("assignment_ids", {}), "c.CanvasExport.assignment_ids", known)
    problems += [Problem(CONFIG, f"c.CanvasExport.assignment_ids[{name!r}] = {value!r}: give the Canvas assignment "
                                 "id, the digits after /assignments/ in its address")
                 for name, value in _items(canvas.get("assignment_ids", {})) if not str(value).strip().isdigit()]
    return problems + _roster(course)


def _items(mapping) -> list[tuple[str, object]]:
    return list(mapping.items()) if isinstance(mapping, dict) else []


def _names(mapping, option: str, known: list[str]) -> list[Problem]:
    if not isinstance(mapping, dict):
        return [Problem(CONFIG, f"{option} must be a dict of assignment -> value, e.g. {{{known[0]!r}: ...}}")]
    return [Problem(CONFIG, f"{option} names {name!r}, which is not an assignment of the course "
                            f"({', '.join(known)}): use the name of its folder in source/")
            for name in mapping if name not in known]


def _roster(course: Course) -> list[Problem]:
    if not course.gradebook.exists():
        return []
    from .roster import read_roster, roster_problems

    students = read_roster(course_settings(course)[1])
    return [Problem("the roster", f"{problem} (in {course.gradebook.name}: correct the roster CSV and run hwkit "
                                  "roster again)")
            for problem in roster_problems([(f"student {s.id!r}", s) for s in students.values()])]


def due_date_line(course: Course) -> str:
    """The due date a run applies, and where it comes from."""
    from .late import load_policy

    due = load_policy(course).due(course.assignment)
    if due is None:
        return (f"due date of {course.assignment}: none (c.LatePolicy.due_dates in {CONFIG} names none): "
                "no late penalty")
    return f"due date of {course.assignment}: {due:%Y-%m-%d %H:%M:%S} UTC (c.LatePolicy.due_dates in {CONFIG})"
