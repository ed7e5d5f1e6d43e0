"""Intake: find every student's notebooks and say clearly what is wrong with them.

Two sources, treated alike once read:
  * submitted/<student_id>/<assignment>/ folders (nbgrader's layout), optionally with
    nbgrader's timestamp.txt (read here);
  * an LMS download archive (`hwkit grade --archive downloads.zip`: lms_archive.py), extracted into a
    scratch folder of the same layout and read here too.

Nothing here writes under submitted/; a malformed file is reported (by student and file,
with a reason), never fatal to the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .assignment import assignments_of, load
from .course import Course
from .notebooks import BadNotebook, grade_cells, read_notebook


@dataclass
class Submission:
    """One student's assignment folder: the notebooks to grade (by expected name) and intake notes."""

    student: str
    notebooks: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # notebook name (or "*") -> messages
    timestamp: str | None = None  # nbgrader's timestamp.txt content, if any

    def note(self, notebook: str, message: str) -> None:
        self.notes.setdefault(notebook, []).append(message)


def expected_cells(course: Course) -> dict[str, set[str]]:
    """grade_ids of every source notebook, used to recognise a renamed notebook."""
    return {nb.name: {q.id for q in nb.questions} for nb in load(course).notebooks}


def collect(course: Course) -> list[Submission]:
    """Every student folder under submitted/ that is a submission of this assignment, in a stable order: one
    that holds only other assignments of the course is another assignment's student."""
    if not course.submitted.is_dir():
        return []
    cells = expected_cells(course)
    others = set(assignments_of(course)) - {course.assignment}
    return [inspect(folder, course, cells) for folder in sorted(course.submitted.iterdir())
            if folder.is_dir() and not folder.name.startswith(".")
            and ((folder / course.assignment).is_dir() or not any((folder / a).is_dir() for a in others))]


def inspect(student_dir: Path, course: Course, cells: dict[str, set[str]]) -> Submission:
    submission = Submission(student_dir.name)
    folder = student_dir / course.assignment
    if not folder.is_dir():
        for name in cells:
            submission.note(name, f"no {course.assignment}/ folder in the submission: nothing to grade")
        return submission
    unknown = []
    for path in sorted(folder.iterdir()):
        if path.name in cells:
            try:
                read_notebook(path)
                submission.notebooks[path.name] = path
            except BadNotebook as bad:
                submission.note(path.name, f"{path.name} cannot be graded: {bad}")
        elif path.suffix == ".ipynb":
            unknown.append(path)
        elif path.name == "timestamp.txt":
            submission.timestamp = path.read_text(errors="replace").strip()[:64] or None
        elif path.is_dir():
            if path.name not in ("__pycache__", ".ipynb_checkpoints") and not _is_support_file(path, course):
                submission.note("*", f"ignored extra folder {path.name}/")
        elif path.is_file() and not _is_support_file(path, course):
            submission.note("*", f"ignored extra file {path.name}")
    for path in unknown:
        _place_renamed(path, submission, cells)
    for name in cells:
        if name not in submission.notebooks and name not in submission.notes:
            submission.note(name, f"{name} is missing from the submission")
    return submission


def _is_support_file(path: Path, course: Course) -> bool:
    """Helpers we ship (they are replaced by the instructor's copies when grading)."""
    return (course.source / path.name).exists()


def _place_renamed(path: Path, submission: Submission, cells: dict[str, set[str]]) -> None:
    """Grade a renamed notebook under the name whose test cells it carries, if that one is missing."""
    try:
        ids = {c.grade_id for c in grade_cells(read_notebook(path))}
    except BadNotebook as bad:
        submission.note("*", f"ignored {path.name}: {bad}")
        return
    matches = [name for name, expected in cells.items() if ids & expected and name not in submission.notebooks]
    if len(matches) == 1:
        submission.notebooks[matches[0]] = path
        submission.note(matches[0], f"{path.name} was renamed; graded as {matches[0]}")
    else:
        submission.note("*", f"ignored {path.name}: not one of the assignment's notebooks")


def not_on_roster(students: list[str], roster: set[str]) -> list[str]:
    """The warning naming the students graded who are not on the roster (none when there is no roster yet)."""
    strangers = sorted(set(students) - roster) if roster else []
    if not strangers:
        return []
    return [f"not on the roster, graded anyway: {', '.join(strangers)} (add them with hwkit roster, or check "
            "the ids: a student id must be the roster's `id`)"]
