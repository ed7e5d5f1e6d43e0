"""The numbers of the class report: per question (mean, share of full marks, not graded, discrimination, the time
the judge's checks of the student's code took), the common mistakes (the judge's diagnoses grouped by question and
cause), the exceptions students' cells raised (grouped by type and place) and the written answers' TA points.

Every score comes from the course's nbgrader gradebook (judge verdicts and TA points), read in one function,
`gradebook_scores`; the diagnoses, exceptions and times, which the gradebook does not hold, from the grading cache
(cache.py) of the students the gradebook has.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .assignment import load as load_assignment
from .cache import cached_records
from .course import Course
from .results import NotebookGrade


@dataclass(frozen=True)
class ClassScores:
    """The gradebook's scores of one assignment: student -> question -> points; None: not graded (an autograded
    question flagged for review, e.g. its grading did not finish) or waiting for a TA (a written answer)."""

    points: dict[str, float]  # question -> its points, in notebook order
    auto: dict[str, bool]  # question -> autograded (else a TA grades it)
    scores: dict[str, dict[str, float | None]]


def gradebook_scores(course: Course) -> ClassScores:
    """Every submission's scores in the course gradebook (the one source of truth), in one query (nbgrader's
    objects load each submission's rows one query at a time: a minute for 2,000 students)."""
    from nbgrader.api import Assignment, BaseCell, Grade, Gradebook, SubmittedAssignment, SubmittedNotebook

    from .course_config import course_settings

    model = load_assignment(course)
    points = {q.id: q.points for nb in model.notebooks for q in nb.questions}
    auto = {q.id: q.auto for nb in model.notebooks for q in nb.questions}
    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(course_settings(course)[1]) as gradebook:
        rows = (gradebook.db.query(SubmittedAssignment.student_id, BaseCell.name, Grade.score, Grade.manual_score,
                                   Grade.needs_manual_grade)
                .join(Grade.notebook).join(SubmittedNotebook.assignment).join(SubmittedAssignment.assignment)
                .join(Grade.cell).filter(Assignment.name == course.assignment))
        for student, question, score, manual, needs_manual in rows:
            row = scores.setdefault(student, {})
            if question in points:  # export.py's rule: waiting for a TA until one gives points
                row[question] = None if needs_manual and manual is None else float(score or 0.0)
    return ClassScores(points, auto, scores)


@dataclass
class QuestionStats:
    question: str
    points: float
    auto: bool
    graded: int  # students with a score
    not_graded: int  # students without one (autograded: grading did not finish; written: waiting for a TA)
    mean: float | None
    full_marks: float | None  # share of graded students with all the points
    discrimination: float | None  # correlation with the rest of the total (None: no spread)
    median_seconds: float | None = None
    slowest_seconds: float | None = None
    slowest_student: str = ""


@dataclass
class Group:
    """Students who share a mistake (a diagnosis's question and cause) or an exception (type, cell, line)."""

    key: tuple
    students: list[str] = field(default_factory=list)
    example: str = ""  # a case, or an exception's message (the first student's)

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class Written:
    question: str
    points: float
    given: dict[float, int]  # TA points -> students
    waiting: list[str]


@dataclass
class ClassStats:
    students: list[str]
    totals: dict[str, float]  # student -> points graded so far (students with every autograded question graded)
    max_total: float
    questions: list[QuestionStats]
    mistakes: list[Group]  # key (question, cause); most students first
    exceptions: list[Group]  # key (type, cell, line)
    written: list[Written]


def class_stats(course: Course, scores: ClassScores | None = None) -> ClassStats:
    scores = scores or gradebook_scores(course)
    records = {s: r for s, r in cached_records(course).items() if s in scores.scores}
    return compute_stats(scores, {s: grades for s, (grades, _) in records.items()},
                         {s: timings for s, (_, timings) in records.items()})


def compute_stats(scores: ClassScores, grades: dict[str, list[NotebookGrade]],
                  timings: dict[str, dict[str, float]]) -> ClassStats:
    """The statistics of `scores`, with each student's cached grades (diagnoses, exceptions) and timings."""
    students = sorted(scores.scores)
    complete = [s for s in students if all(scores.scores[s].get(q) is not None
                                           for q, auto in scores.auto.items() if auto)]
    totals = {s: sum(v or 0.0 for v in scores.scores[s].values()) for s in complete}
    questions = [_question(q, scores, complete, totals, timings) for q in scores.points]
    written = [_written(q, scores, complete) for q, auto in scores.auto.items() if not auto]
    return ClassStats(students, totals, sum(scores.points.values()), questions, _mistakes(grades),
                      _exceptions(grades), written)


def _question(question: str, scores: ClassScores, complete: list[str], totals: dict[str, float],
              timings: dict[str, dict[str, float]]) -> QuestionStats:
    points = scores.points[question]
    given = {s: scores.scores[s][question] for s in scores.scores if scores.scores[s].get(question) is not None}
    values = list(given.values())
    stats = QuestionStats(question, points, scores.auto[question], len(values), len(scores.scores) - len(values),
                          statistics.fmean(values) if values else None,
                          sum(v >= points for v in values) / len(values) if values else None,
                          _discrimination(question, scores, [s for s in complete if s in given], totals))
    seconds = {s: t[question] for s, t in timings.items() if question in t}
    if seconds:
        stats.median_seconds = statistics.median(seconds.values())
        stats.slowest_student = max(seconds, key=seconds.get)
        stats.slowest_seconds = seconds[stats.slowest_student]
    return stats


def _discrimination(question: str, scores: ClassScores, students: list[str], totals: dict[str, float]) -> float | None:
    """Pearson correlation of the question's points with the rest of the total (the item-rest correlation)."""
    if len(students) < 3:
        return None
    item = np.array([scores.scores[s][question] for s in students], dtype=float)
    rest = np.array([totals[s] for s in students], dtype=float) - item
    if item.std() == 0 or rest.std() == 0:
        return None
    return float(np.corrcoef(item, rest)[0, 1])


def _mistakes(grades: dict[str, list[NotebookGrade]]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for student in sorted(grades):
        for grade in grades[student]:
            for diagnosis in grade.diagnoses:
                group = groups.setdefault((diagnosis.question, diagnosis.cause), Group((diagnosis.question,
                                                                                       diagnosis.cause)))
                if student not in group.students:
                    group.students.append(student)
                    group.example = group.example or diagnosis.case
    return sorted(groups.values(), key=lambda g: (-g.count, g.key))


def _exceptions(grades: dict[str, list[NotebookGrade]]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for student in sorted(grades):
        for grade in grades[student]:
            for error in grade.errors:
                key = (error.kind, f"{grade.notebook} {error.cell}", error.line)
                group = groups.setdefault(key, Group(key))
                if student not in group.students:
                    group.students.append(student)
                    group.example = group.example or error.message
    return sorted(groups.values(), key=lambda g: (-g.count, g.key))


def _written(question: str, scores: ClassScores, complete: list[str]) -> Written:
    given = Counter(scores.scores[s][question] for s in complete if scores.scores[s].get(question) is not None)
    waiting = [s for s in sorted(scores.scores) if scores.scores[s].get(question) is None]
    return Written(question, scores.points[question], dict(sorted(given.items())), waiting)
