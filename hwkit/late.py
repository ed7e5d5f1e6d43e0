"""Due dates and late penalties: the course's policy, as an nbgrader LateSubmissionPlugin.

The policy lives in nbgrader_config.py (`c.LatePolicy.due_dates`, `percent_per_day`, `max_percent`) and is
nbgrader's own plugin, so nbgrader's AssignLatePenalties uses the same rule. The due date is written to the
gradebook's assignment (as `nbgrader db assignment add --duedate` does; one set there is used when the config
names none); the submission's timestamp (timestamp.txt or the LMS file name) is in the gradebook too. hwkit
applies the rule whenever it writes grades-<assignment>.csv, to the points earned so far (a TA's points included), and
records each notebook's penalty in the gradebook, where formgrader and `nbgrader export` read it.
"""
from __future__ import annotations

import math

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Dict, Float, Unicode

from .course import Course
from .results import GradeRun, Lateness

DAY = 86400.0


class LatePolicy(LateSubmissionPlugin):
    """percent_per_day % of the points earned per started day late, at most max_percent %."""

    due_dates = Dict(value_trait=Unicode(), default_value={},
                     help="assignment -> due date, e.g. {'hw2': '2024-03-02 23:59:59 +0800'} (no offset: UTC)"
                     ).tag(config=True)
    percent_per_day = Float(0.0, help="percent of the points earned taken off per started day late").tag(config=True)
    max_percent = Float(100.0, help="the most a late submission loses, in percent of its points").tag(config=True)

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
    due = policy.due_dates.get(course.assignment)
    found: dict[str, Lateness] = {}
    with Gradebook(db_url) as gradebook:
        try:
            assignment = gradebook.find_assignment(course.assignment)
        except MissingEntry:
            return found
        if due:
            gradebook.update_or_create_assignment(course.assignment, duedate=due)
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
