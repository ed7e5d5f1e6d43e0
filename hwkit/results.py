"""What grading produces, per student and notebook: the types every report reads."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NotebookGrade:
    """Points of one student's notebook per graded cell, and what went wrong."""

    student: str
    notebook: str
    scores: dict[str, float | None]  # None: waits for a human grader
    max_scores: dict[str, float]
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s or 0.0 for s in self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())


@dataclass
class GradeRun:
    grades: list[NotebookGrade]
    notes: dict[str, list[str]]  # student -> notes not tied to a notebook

    cached: list[str] = field(default_factory=list)  # students whose earlier result was reused
    seconds: float = 0.0

    def students(self) -> list[str]:
        return sorted({g.student for g in self.grades})
