"""The regrade report: after a check was fixed mid-term and `hwkit grade` ran again, who gained or lost
points, per student and autograded question, against the last complete run of the same assignment.
Printed, and written to regrade-<assignment>-<date-time>.csv in the course folder.

The baseline is the judge's recorded verdicts (cache.py) as a grading run finds them, kept in
autograded/.hwkit-cache/<assignment>/regrade.baseline until a run completes: a run that was
interrupted leaves it, so the next run's report still covers every student graded since the last complete
run (those whose record changed since the baseline). The points now are the gradebook view's.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_folder, records
from .course import Course
from .results import GradeRun

Scores = dict[str, dict[tuple[str, str], float | None]]  # student -> (notebook, question) -> points
Baseline = dict[str, tuple[str | None, dict[tuple[str, str], float | None]]]  # student -> (record key, scores)
BASELINE = "regrade.baseline"  # JSON; not a student's record


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
    """Every student's scores as the last run that graded them recorded them."""
    return {student: scores for student, (_, scores) in _snapshot(course).items()}


def _snapshot(course: Course) -> Baseline:
    return {student: (record.get("key"), {(g.notebook, q): s for g in record["grades"] for q, s in g.scores.items()})
            for student, record in records(course).items()}


def start_baseline(course: Course) -> Baseline:
    """The records of the last complete run: an interrupted run's baseline if one is left, else a snapshot now."""
    path = cache_folder(course) / BASELINE
    try:
        saved = json.loads(path.read_text())
        return {s: (key, {tuple(k.split("\t", 1)): v for k, v in scores.items()}) for s, (key, scores) in saved.items()}
    except (OSError, ValueError):
        pass
    baseline = _snapshot(course)
    if not baseline:  # nothing graded before: nothing to compare, nothing to keep
        return baseline
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({s: (key, {"\t".join(k): v for k, v in scores.items()})
                                   for s, (key, scores) in baseline.items()}))
    os.replace(partial, path)
    return baseline


def finish_baseline(course: Course) -> None:
    """A run completed: the next report compares with it."""
    (cache_folder(course) / BASELINE).unlink(missing_ok=True)


def changes(baseline: Baseline, run: GradeRun, keys: dict[str, str | None]) -> tuple[list[Change], list[str]]:
    """(every autograded question whose points changed, the students compared): students graded since the
    baseline (their record's key changed; `keys`: the records' keys now) who had a result in it."""
    found, compared = [], []
    for student, grades in run.by_student().items():
        if student not in baseline or keys.get(student) in (None, baseline[student][0]):
            continue
        if not all(g.graded for g in grades):
            continue
        compared.append(student)
        for grade in grades:
            for question, after in grade.scores.items():
                if question in grade.manual:
                    continue  # a TA's, not the checks'
                before = baseline[student][1].get((grade.notebook, question))
                if before != after and (before is not None or after is not None):
                    found.append(Change(student, grade.notebook, question, before, after))
    return found, compared


def report_regrade(course: Course, baseline: Baseline, run: GradeRun) -> list[str]:
    """Console lines about the regrade (none when nobody had a previous result); the CSV when points changed."""
    found, compared = changes(baseline, run, {s: r.get("key") for s, r in records(course).items()})
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
