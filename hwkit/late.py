"""Due dates and late penalties: the course's policy, as an nbgrader LateSubmissionPlugin.

The policy lives in nbgrader_config.py (`c.LatePolicy.due_dates`, `percent_per_day`, `max_percent`) and is
nbgrader's own plugin, so nbgrader's AssignLatePenalties uses the same rule. A due date is an ISO 8601 date and
time, with a UTC offset or without one (then UTC), read by `parse_due` (policy.py rejects anything else before
grading). The config is the only source of due dates: each run writes the config's due date to the gradebook's
assignment, or removes the gradebook's when the config names none (so removing one from the config removes
it everywhere); the submission's timestamp (timestamp.txt or the LMS file name) is in the gradebook too. hwkit
applies the rule whenever it writes grades-<assignment>.csv, to the points earned so far (a TA's points included), and
records each notebook's penalty in the gradebook, where formgrader and `nbgrader export` read it.
"""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Dict, Float, Unicode

from .course import Course, CourseError
from .results import GradeRun, Lateness

DAY = 86400.0
# ISO 8601 date and time, seconds optional, an optional UTC offset (a space before it is allowed, as nbgrader writes)
DUE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})? ?(Z|[+-][0-9]{2}:?[0-9]{2})?")


def parse_due(text: str) -> datetime:
    """A due date as a naive UTC datetime (as the gradebook stores it); ValueError saying why not."""
    text = text.strip()
    if not DUE_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not an ISO date and time such as '2025-03-08 23:59:59' or "
                         "'2025-03-08 23:59:59+08:00'")
    try:
        moment = datetime.fromisoformat(re.sub(r" (?=[-+Z])", "", text).replace("Z", "+00:00"))
    except ValueError as error:  # e.g. 2025-02-30
        raise ValueError(f"{text!r} is no date: {error}") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class LatePolicy(LateSubmissionPlugin):
    """percent_per_day % of the points earned per started day late, at most max_percent %."""

    due_dates = Dict(value_trait=Unicode(), default_value={},
                     help="assignment -> due date, e.g. {'hw2': '2024-03-02 23:59:59 +0800'} (no offset: UTC)"
                     ).tag(config=True)
    percent_per_day = Float(0.0, help="percent of the points earned taken off per started day late").tag(config=True)
    max_percent = Float(100.0, help="the most a late submission loses, in percent of its points").tag(config=True)

    def due(self, assignment: str) -> datetime | None:
        """The assignment's due date in UTC, None when the config names none (CourseError when it is no date:
        every command stops in one sentence, not only `hwkit grade`, which checks it first)."""
        text = self.due_dates.get(assignment)
        try:
            return parse_due(text) if text else None
        except ValueError as error:
            raise CourseError(f"c.LatePolicy.due_dates[{assignment!r}] in nbgrader_config.py: {error}; fix it.") \
                from None

    def percent(self, seconds_late: float) -> float:
        if seconds_late <= 0:
            return 0.0
        if self.penalty_method == "zero":
            return 100.0
        return min(self.max_percent, self.percent_per_day * math.ceil(seconds_late / DAY))

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        return round(score * self.percent(total_seconds_late) / 100, 2)


def load_policy(course: Course) -> LatePolicy:
    """The late policy of the course's nbgrader_config.py."""
    from .course_config import course_config

    return LatePolicy(config=course_config(course))


def apply_late_policy(course: Course, run: GradeRun, db_url: str) -> dict[str, Lateness]:
    """Each submitting student's lateness and penalty (points earned so far x the policy's percent), also
    recorded per notebook in the gradebook. Students without a timestamp are not late."""
    policy = load_policy(course)
    due = policy.due(course.assignment)
    found: dict[str, Lateness] = {}
    with Gradebook(db_url) as gradebook:
        try:
            assignment = gradebook.find_assignment(course.assignment)
        except MissingEntry:
            return found
        assignment.duedate = due  # the config's, or none: never an earlier run's
        for submission in assignment.submissions:
            student = submission.student.id
            grades = {g.notebook: g for g in run.grades if g.student == student}
            if not grades or student in run.absent:
                continue
            seconds = submission.total_seconds_late
            lateness = Lateness(_iso(submission.timestamp), _iso(submission.duedate), seconds, policy.percent(seconds))
            for notebook in submission.notebooks:
                grade = grades.get(f"{notebook.name}.ipynb")
                penalty = None
                if seconds > 0 and grade is not None and grade.graded:
                    earned = grade.total
                    penalty = min(earned, max(0.0, policy.late_submission_penalty(student, earned, seconds)))
                    lateness.points += penalty
                    lateness.notebooks[grade.notebook] = penalty
                notebook.late_submission_penalty = penalty
            lateness.points = round(lateness.points, 2)
            found[student] = lateness
        gradebook.db.commit()
    return found


def _iso(moment) -> str | None:
    return moment.isoformat(sep=" ") if moment is not None else None


def describe(lateness: Lateness) -> str:
    """e.g. "late by 1 day 2 h: -10% (-6.6 points)"; "" when on time."""
    if not lateness.late:
        return ""
    days, hours = divmod(math.ceil(lateness.seconds_late / 3600), 24)
    span = " ".join(p for p in (f"{days} day{'s' * (days != 1)}" if days else "", f"{hours} h" if hours else "") if p)
    return f"late by {span}: -{lateness.percent:g}% (-{lateness.points:g} points)"
