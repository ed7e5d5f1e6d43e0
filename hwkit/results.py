"""What grading produces, per student and notebook: the types every report reads (and the cache stores)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .roster import Student

GRADED = "graded"
NOT_GRADED = "not graded"  # prefix of the status of a notebook whose grading did not finish
NO_SUBMISSION = "no submission"  # the status of a student on the roster who handed in nothing (0 points)


@dataclass(frozen=True)
class Diagnosis:
    """Why one autograded question lost its points, as the judge decided it: the class report groups the
    class's failures by (question, cause), never by reading them out of a message."""

    question: str
    case: str  # the case that failed first ("" when the failure is not one case's: a time limit, a crash)
    cause: str  # the judge's reason, without the question and the case


@dataclass(frozen=True)
class CodeError:
    """An exception a cell of the student's code raised when the judge ran the notebook's cells (reported by the
    student's own process: data to show, escaped, never to trust)."""

    cell: str  # the cell's grade id, or "#<index>" for an untracked cell
    kind: str  # the exception's type name
    line: int  # the line of the cell it was raised in (0: unknown)
    message: str


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
    manual: list[str] = field(default_factory=list)  # questions graded by hand (written answers)
    comments: dict[str, str] = field(default_factory=dict)  # question -> a TA's comment (formgrader)
    diagnoses: list[Diagnosis] = field(default_factory=list)  # the autograded questions it failed, and why
    errors: list[CodeError] = field(default_factory=list)  # what the student's cells raised in the judge's run

    @classmethod
    def from_dict(cls, data: dict) -> NotebookGrade:
        """A grade as `dataclasses.asdict` wrote it (cache.py); records written before diagnoses existed load
        without them."""
        data = dict(data)
        data["diagnoses"] = [Diagnosis(**d) for d in data.get("diagnoses", [])]
        data["errors"] = [CodeError(**e) for e in data.get("errors", [])]
        return cls(**data)

    @property
    def graded(self) -> bool:
        return self.status == GRADED

    @property
    def total(self) -> float:
        return sum(s or 0.0 for s in self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    @property
    def automatic(self) -> float:
        return sum(s or 0.0 for q, s in self.scores.items() if q not in self.manual)

    @property
    def automatic_max(self) -> float:
        return sum(m for q, m in self.max_scores.items() if q not in self.manual)

    @property
    def manual_scores(self) -> dict[str, float | None]:
        """The written questions' points; None: not graded by a TA yet."""
        return {q: self.scores.get(q) for q in self.manual}

    @classmethod
    def zero(cls, student: str, notebook: str, max_scores: dict[str, float], problems: list[str] | None = None,
             manual: list[str] | None = None) -> NotebookGrade:
        """No points yet on every question of `max_scores` (what a notebook scores until its cells pass)."""
        return cls(student, notebook, dict.fromkeys(max_scores, 0.0), dict(max_scores), list(problems or []),
                   manual=list(manual or []))

    @classmethod
    def not_graded(cls, student: str, notebook: str, max_scores: dict[str, float], reason: str) -> NotebookGrade:
        """No grade at all (empty scores, not 0 points) because grading did not finish, and why."""
        grade = cls(student, notebook, dict.fromkeys(max_scores), dict(max_scores))
        grade.mark_not_graded(reason)
        return grade

    def mark_not_graded(self, reason: str) -> None:
        if self.graded:
            self.status = f"{NOT_GRADED}: {reason}"


@dataclass
class StudentResult:
    """One student as a grading worker hands it to the parent (picklable: it crosses the process pool)."""

    student: str
    grades: list[NotebookGrade]
    notebooks: dict[str, dict]  # notebook (stem) -> its gradebook records, for the course gradebook (record.py)
    timestamp: str | None  # when the student handed in (ISO), as the scratch gradebook has it
    log: str = ""  # nbgrader's log, when it graded none of the student's notebooks
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # where the worker's time went
    autograded: str = ""  # the worker's autograded/<student> and feedback/<student> folders
    feedback: str = ""


@dataclass
class Lateness:
    """When a student handed in, against the assignment's due date, and the points the course's late
    policy takes off (hwkit/late.py)."""

    submitted_at: str | None  # the submission's timestamp as the gradebook has it
    due: str | None
    seconds_late: float = 0.0
    percent: float = 0.0  # of the points earned
    points: float = 0.0
    notebooks: dict[str, float] = field(default_factory=dict)  # notebook -> its share of `points`

    @property
    def late(self) -> bool:
        return self.seconds_late > 0


@dataclass
class GradeRun:
    grades: list[NotebookGrade]
    notes: dict[str, list[str]]  # student -> notes not tied to a notebook

    cached: list[str] = field(default_factory=list)  # students whose earlier result was reused
    seconds: float = 0.0
    # False: student code ran without a sandbox (hwkit grade --unsandboxed); None: unknown
    sandboxed: bool | None = None
    retried: list[str] = field(default_factory=list)  # students whose grading was retried on a fresh worker
    absent: list[str] = field(default_factory=list)  # on the roster, nothing submitted: 0 points
    late: dict[str, Lateness] = field(default_factory=dict)  # student -> lateness (students with a timestamp)
    roster: dict[str, Student] = field(default_factory=dict)  # student -> names, email, LMS id
    new: list[str] = field(default_factory=list)  # graded in this run, not in the gradebook before
    replaced: list[str] = field(default_factory=list)  # graded in this run, in the gradebook before
    kept: dict[str, str] = field(default_factory=dict)  # student -> why this run's copy was not graded

    def by_student(self) -> dict[str, list[NotebookGrade]]:
        """student -> their notebooks' grades, in the run's order."""
        table: dict[str, list[NotebookGrade]] = {}
        for grade in self.grades:
            table.setdefault(grade.student, []).append(grade)
        return table

    def students(self) -> list[str]:
        return sorted({g.student for g in self.grades})

    def not_graded(self) -> dict[str, str]:
        """student -> why (the first notebook's reason) for every student with a notebook not graded."""
        found: dict[str, str] = {}
        for g in self.grades:
            if not g.graded:
                found.setdefault(g.student, g.status)
        return found
