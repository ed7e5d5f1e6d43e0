"""The class roster: nbgrader's students table, imported from a CSV with `nbgrader db student import`.

The CSV is nbgrader's format: a header row with `id` (the student id, as in submitted/<id>/ and the LMS
file names) and optionally first_name, last_name, email and lms_user_id (the LMS's own user id, used by the
Canvas export and to read Canvas's downloads). Every value is trimmed; every bad row is listed before
anything is imported (blank or malformed ids, duplicate ids or lms_user_ids). Everyone on the roster appears
in grades-<assignment>.csv: who handed in nothing gets 0 points and "no submission".
"""
from __future__ import annotations

import csv
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from .course import Course, nbgrader
from .course_config import course_settings

COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")


STUDENT_ID = re.compile(r"\w[\w.@-]{0,99}")  # becomes a folder name, a gradebook id, a console column


class RosterError(ValueError):
    """A roster file hwkit cannot import: `problems`, one sentence each that says what to fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


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


def roster_problems(rows: list[tuple[str, Student]]) -> list[str]:
    """Every problem of a roster, one sentence each: (where, e.g. "line 3", and the row's student) per row."""
    problems = []
    for where, student in rows:
        if not student.id:
            problems.append(f"{where} has no student id: fill in the `id` column")
        elif not STUDENT_ID.fullmatch(student.id):
            problems.append(f"{where}: {student.id!r} is not a student id (letters, digits, _ . @ -, as in "
                            "submitted/<id>/): fix it")
        if student.lms_user_id and not student.lms_user_id.isdigit():
            problems.append(f"{where}: lms_user_id {student.lms_user_id!r} is not a Canvas user id (digits only): "
                            "fix it or leave it empty")
    for column in ("id", "lms_user_id"):
        seen: dict[str, list[str]] = {}
        for where, student in rows:
            if getattr(student, column):
                seen.setdefault(getattr(student, column), []).append(where)
        problems += [f"{' and '.join(places)} have the same {column} {value!r}: each student once, each id once"
                     for value, places in seen.items() if len(places) > 1]
    return problems


def check_roster_file(path: Path) -> list[Student]:
    """The students of a roster CSV, every value trimmed; RosterError listing every problem."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [(name or "").strip() for name in reader.fieldnames or []]
            if "id" not in header:
                raise RosterError([f"{path} has no `id` column: its first line must be a header such as "
                                   f"{','.join(COLUMNS[:4])}"])
            reader.fieldnames = header
            lines = [{k: (v or "").strip() for k, v in row.items() if k in COLUMNS} for row in reader]
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError([f"cannot read {path} ({error}): give a CSV file with columns {','.join(COLUMNS[:4])}"]) \
            from error
    students = [Student(**{k: v or None for k, v in line.items()} | {"id": line.get("id", "")}) for line in lines]
    if not students:
        raise RosterError([f"{path} lists no students: add one line per student below the header"])
    problems = roster_problems([(f"line {n}", s) for n, s in enumerate(students, 2)])
    if problems:
        raise RosterError([f"{path}, {problem}" for problem in problems])
    return students


def import_roster(course: Course, path: Path) -> list[str]:
    """Import a roster CSV into the course gradebook with nbgrader's `db student import` (students already
    there are updated); returns the ids imported."""
    students = check_roster_file(path)
    with tempfile.TemporaryDirectory(prefix="hwkit-roster-") as tmp:
        clean = Path(tmp) / "students.csv"  # trimmed, without the byte-order mark spreadsheet programs write
        with clean.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows([getattr(s, c) or "" for c in COLUMNS] for s in students)
        done = nbgrader(course.root, "db", "student", "import", str(clean), env=course.env())
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RosterError([f"nbgrader could not import {path} ({last[0]}): check the file's columns"])
    return [s.id for s in students]


def read_roster(db_url: str) -> dict[str, Student]:
    """Every student in the gradebook (imported, or added by grading), by id."""
    with Gradebook(db_url) as gradebook:
        return {s.id: Student(s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in gradebook.students}


def roster_ids(course: Course) -> set[str]:
    """The ids of the course gradebook's students (none before a roster is imported or a student graded)."""
    return set(read_roster(course_settings(course)[1])) if course.gradebook.exists() else set()
