"""What grading produces, per student and notebook: the types every report reads."""
from __future__ import annotations

from dataclasses import dataclass, field

GRADED = "graded"
NOT_GRADED = "not graded"  # prefix of the status of a notebook whose grading did not finish


@dataclass
class NotebookGrade:
    """Points of one student's notebook per graded cell, and what went wrong.

    status: "graded", or "not graded: <reason>" when grading did not finish (a crashed worker, a
    judge that could not run the notebook): then the scores are no grade at all, not 0 points, and
    every report shows the notebook as not graded."""

    student: str
    notebook: str
    scores: dict[str, float | None]  # None: waits for a human grader
    max_scores: dict[str, float]
    problems: list[str] = field(default_factory=list)
    status: str = GRADED

    @property
    def graded(self) -> bool:
        return self.status == GRADED

    @property
    def total(self) -> float:
        return sum(s or 0.0 for s in self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    def mark_not_graded(self, reason: str) -> None:
        if self.graded:
            self.status = f"{NOT_GRADED}: {reason}"


@dataclass
class GradeRun:
    grades: list[NotebookGrade]
    notes: dict[str, list[str]]  # student -> notes not tied to a notebook

    cached: list[str] = field(default_factory=list)  # students whose earlier result was reused
    seconds: float = 0.0
    sandboxed: bool | None = None  # False: student code ran without a sandbox (hwkit grade --unsandboxed); None: unknown
    retried: list[str] = field(default_factory=list)  # students whose grading was retried on a fresh worker

    def students(self) -> list[str]:
        return sorted({g.student for g in self.grades})

    def not_graded(self) -> dict[str, str]:
        """student -> why (the first notebook's reason) for every student with a notebook not graded."""
        found: dict[str, str] = {}
        for g in self.grades:
            if not g.graded:
                found.setdefault(g.student, g.status)
        return found
