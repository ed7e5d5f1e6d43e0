"""The regrade report: after a check was fixed mid-term and `hwkit grade` ran again, who gained or lost
points, per student and question, against the previous run's scores of the same assignment (the per-student
results hwkit keeps in autograded/.hwkit-cache/<assignment>/). Printed, and written to
regrade-<assignment>-<date-time>.csv in the course folder."""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_folder
from .course import Course
from .results import GradeRun

Scores = dict[str, dict[tuple[str, str], float | None]]  # student -> (notebook, question) -> points


@dataclass(frozen=True)
class Change:
    student: str
    notebook: str
    question: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


def previous_scores(course: Course) -> Scores:
    """Every student's scores as the last run that graded them recorded them; read before grading again."""
    found: Scores = {}
    for path in sorted(cache_folder(course).glob("*.json")):
        try:
            grades = json.loads(path.read_text())["grades"]
        except (OSError, ValueError, KeyError):
            continue
        for grade in grades:
            table = found.setdefault(grade["student"], {})
            table.update({(grade["notebook"], q): s for q, s in grade["scores"].items()})
    return found


def changes(previous: Scores, run: GradeRun) -> tuple[list[Change], list[str]]:
    """(every question whose points changed, the students compared): students graded again in this run
    (not reused from the cache) who had a previous result."""
    found, compared = [], []
    regraded = {s for s in run.students() if s not in run.cached and s in previous}
    for student, grades in run.by_student().items():
        if student not in regraded or not all(g.graded for g in grades):
            continue
        compared.append(student)
        for grade in grades:
            for question, after in grade.scores.items():
                before = previous[student].get((grade.notebook, question))
                if before != after and (before is not None or after is not None):
                    found.append(Change(student, grade.notebook, question, before, after))
    return found, compared


def report_regrade(course: Course, previous: Scores, run: GradeRun) -> list[str]:
    """Console lines about the regrade (none when nobody had a previous result); the CSV when points changed."""
    found, compared = changes(previous, run)
    if not compared:
        return []
    if not found:
        return [f"regrade: {len(compared)} student(s) graded again, no score changed"]
    path = course.root / f"regrade-{course.assignment}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "notebook", "question", "before", "after", "change"])
        for c in found:
            writer.writerow([c.student, Path(c.notebook).stem, c.question, _fmt(c.before), _fmt(c.after),
                             f"{c.delta:+g}"])
    students = sorted({c.student for c in found})
    lines = [f"regrade: {len(students)} of {len(compared)} student(s) graded again changed score ({path.name}):"]
    for student in students:
        mine = [c for c in found if c.student == student]
        lines.append(f"  {student} {sum(c.delta for c in mine):+g}: "
                     + ", ".join(f"{c.question} {_fmt(c.before) or '-'} -> {_fmt(c.after) or '-'}" for c in mine))
    return lines


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
