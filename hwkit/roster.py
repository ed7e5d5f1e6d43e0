"""The class roster: nbgrader's students table, imported from a CSV with `nbgrader db student import`.

The CSV is nbgrader's format: a header row with `id` (the student id, as in submitted/<id>/ and the LMS
file names) and optionally first_name, last_name, email and lms_user_id (the LMS's own user id, used by the
Canvas export). Everyone on the roster appears in grades-<assignment>.csv: who handed in nothing gets 0 points and
"no submission".
"""
from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from .course import Course, nbgrader

COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")


class RosterError(ValueError):
    """A roster file hwkit cannot import; the message says what to fix."""


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None

    @property
    def sortable_name(self) -> str:
        """"Last, First" as LMS gradebooks show it; the id when the roster has no name."""
        names = [n for n in (self.last_name, self.first_name) if n]
        return ", ".join(names) or self.id


def check_roster_file(path: Path) -> list[str]:
    """The student ids of a roster CSV; RosterError when it is not nbgrader's format."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [(name or "").strip() for name in reader.fieldnames or []]
            if "id" not in header:
                raise RosterError(f"{path} has no `id` column: its first line must be a header such as "
                                  f"{','.join(COLUMNS[:4])}")
            ids = [(row.get("id") or "").strip() for row in reader]
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"cannot read {path} ({error}): "
                          f"give a CSV file with columns {','.join(COLUMNS[:4])}") from error
    blank = [str(n + 2) for n, student in enumerate(ids) if not student]
    if blank:
        raise RosterError(f"{path}: line(s) {', '.join(blank)} have no student id: fill in the `id` column")
    if not ids:
        raise RosterError(f"{path} lists no students: add one line per student below the header")
    return ids


def import_roster(course: Course, path: Path) -> list[str]:
    """Import a roster CSV into the course gradebook with nbgrader's `db student import` (students already
    there are updated); returns the ids imported."""
    ids = check_roster_file(path)
    with tempfile.TemporaryDirectory(prefix="hwkit-roster-") as tmp:
        clean = Path(tmp) / "students.csv"  # without the byte-order mark spreadsheet programs write
        clean.write_text(path.read_text(encoding="utf-8-sig"), encoding="utf-8")
        done = nbgrader(course.root, "db", "student", "import", str(clean), env=course.env())
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RosterError(f"nbgrader could not import {path} ({last[0]}): check the file's columns")
    return ids


def read_roster(db_url: str) -> dict[str, Student]:
    """Every student in the gradebook (imported, or added by grading), by id."""
    with Gradebook(db_url) as gradebook:
        return {s.id: Student(s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in gradebook.students}
