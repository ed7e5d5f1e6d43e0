"""An LMS download archive (`hwkit grade --archive downloads.zip`): every file of the zip (nested folders
allowed) that a naming reads belongs to that student, extracted into scratch/<student>/<assignment>/ (never
into submitted/) and read there as a submitted folder (intake.py).

Two namings, told apart per file (a name both read is refused: pass `--archive-regex`):
  * nbgrader's `zip_collect` convention (Blackboard's download): ARCHIVE_FILENAME_REGEX, like
    FileNameCollectorPlugin.named_regexp, gives `student_id` and `file_id`, and may give `timestamp`:
        hw2_alice_attempt_2024-03-01-14-05-00_Lab.ipynb
    `--archive-regex` replaces it (and turns the Canvas naming off);
  * Canvas's "Download Submissions" zip as it is (canvas_download.py): the Canvas user id matched to the
    roster's `lms_user_id`, its `-1` resubmissions and `LATE` marks read by the rules documented there.
The archive's structure comes first: in an archive with a folder per student (a folder named like an LMS
entry, or exactly a student id), a file belongs to the student of its folder, and a file in alice's folder
named as bob's submission is refused with a note, never bob's; so is one slipped among other students' files
or into a deeper folder while bob's own folder holds his (`_owned`, `_one_place`). When a file was handed in
several times the latest attempt counts.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from .canvas_download import CanvasFile, handed_in, read_canvas_name
from .course import Course
from .course_config import course_settings
from .intake import Submission, expected_cells, inspect
from .late import load_policy
from .roster import STUDENT_ID, read_roster

# `{assignment}` is replaced by the assignment's name; the prefix is optional.
ARCHIVE_FILENAME_REGEX = (r"^(?:(?P<assignment>{assignment})_)?(?P<student_id>\w+?)_attempt_"
                          r"(?P<timestamp>[0-9]{4}(?:-[0-9]{2}){5})_(?P<file_id>.+)$")
MAX_MEMBER_BYTES = 50 * 2**20
MAX_ARCHIVE_BYTES = 2 * 2**30


@dataclass
class ArchiveIntake:
    submissions: list[Submission]
    notes: list[str]  # about archive members that belong to no student


@dataclass(frozen=True)
class _Name:
    """What a member's name says under the naming that reads it."""

    student: str
    file_id: str
    order: str  # a later attempt sorts higher: the nbgrader timestamp, or Canvas's attachment id
    timestamp: str | None = None  # when it was handed in, as the name gives it
    canvas: CanvasFile | None = None


@dataclass
class _Reader:
    """The namings an archive's file names are read with."""

    regex: re.Pattern
    canvas: bool  # Canvas's naming too (not when the user gave --archive-regex)
    assignment: str
    expected: set[str]  # the assignment's notebook names
    lms_users: dict[str, str]  # Canvas user id -> roster id

    def read(self, name: str) -> _Name | str | None:
        """The name's fields, or why a name a naming reads is refused, or None when no naming reads it."""
        fields = _fields(self.regex, name)
        canvas = read_canvas_name(name, self.expected) if self.canvas else None
        if fields and canvas:
            return "read both as nbgrader's and as Canvas's naming; ignored (pass --archive-regex to choose)"
        if canvas:
            student = self.lms_users.get(canvas.user)
            if student is None:
                return (f"Canvas user {canvas.user} ({canvas.name}) is not on the roster (no student with lms_user_id "
                        f"{canvas.user}); not graded: add them with hwkit roster, then grade again")
            return _Name(student, canvas.file, f"{canvas.attachment:020d}", canvas=canvas)
        if not fields:
            return None
        if fields.get("assignment") and fields["assignment"] != self.assignment:
            return f"for assignment {fields['assignment']}, not {self.assignment}; ignored"
        if not STUDENT_ID.fullmatch(fields["student_id"]):
            return f"{fields['student_id']!r} is not a student id (letters, digits, _ . @ -); ignored"
        stamp = fields.get("timestamp") or ""
        when = (str(datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S"))
                if re.fullmatch(r"[0-9]{4}(-[0-9]{2}){5}", stamp) else None)
        return _Name(fields["student_id"], fields["file_id"], stamp, when)


@dataclass(frozen=True)
class _Claim:
    """An archive member a naming reads, and what its name says."""

    info: zipfile.ZipInfo
    name: _Name

    @property
    def student(self) -> str:
        return self.name.student


def collect_archive(course: Course, archive: Path, scratch: Path, pattern: str | None = None,
                    times: dict[str, datetime] | None = None) -> ArchiveIntake:
    """Extract the members of an LMS download into scratch/<student>/<assignment>/ and inspect them. pattern: the
    --archive-regex (None: nbgrader's naming and Canvas's); times: Canvas user id -> when handed in (UTC)."""
    notes: list[str] = []
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        return ArchiveIntake([], [f"{archive.name}: not a readable zip archive ({exc})"])
    regex = re.compile((pattern or ARCHIVE_FILENAME_REGEX).replace("{assignment}", re.escape(course.assignment)))
    reader = _Reader(regex, pattern is None, course.assignment, set(expected_cells(course)), _lms_users(course))
    with zf:
        claims = _owned(_claims(zf, reader, notes), reader, notes)
        chosen = _latest(claims, notes)
        return ArchiveIntake(_extract(zf, chosen, course, scratch, notes, times or {}), notes)


def _lms_users(course: Course) -> dict[str, str]:
    """Canvas user id -> student id, from the roster in the course gradebook."""
    if not course.gradebook.exists():
        return {}
    return {s.lms_user_id.strip(): s.id for s in read_roster(course_settings(course)[1]).values() if s.lms_user_id}


def _claims(zf: zipfile.ZipFile, reader: _Reader, notes: list[str]) -> list[_Claim]:
    """Every member a naming reads, with the student its own name gives."""
    claims = []
    for info in zf.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or not path.name or path.name.startswith(".") or "__MACOSX" in info.filename:
            continue
        read = reader.read(path.name)
        if read is None:
            notes.append(f"{info.filename}: name does not match the archive filename pattern; ignored")
        elif isinstance(read, str):
            notes.append(f"{info.filename}: {read}")
        elif info.file_size > MAX_MEMBER_BYTES:
            notes.append(f"{info.filename}: larger than {MAX_MEMBER_BYTES // 2**20} MB; ignored")
        else:
            claims.append(_Claim(info, read))
    return claims


def _fields(regex: re.Pattern, name: str) -> dict[str, str] | None:
    match = regex.match(name)
    fields = match.groupdict() if match else {}
    return fields if fields.get("student_id") and fields.get("file_id") else None


def _owned(claims: list[_Claim], reader: _Reader, notes: list[str]) -> list[_Claim]:
    """The claims the archive's structure allows. A folder named for a student (named like an LMS entry,
    or exactly a student id the archive's file names give) holds that student's files only: a file in
    it named as another student's is refused. Then `_one_place`."""
    named = {claim.student for claim in claims}
    kept = []
    for claim in claims:
        owner = _folder_owner(claim.info.filename, reader, named)
        if owner is None or owner[0] == claim.student:
            kept.append(claim)
        else:
            notes.append(f"{claim.info.filename}: named as {claim.student}'s submission but inside {owner[1]}/, "
                         f"{owner[0]}'s folder; ignored (a file in one student's folder never counts for another)")
    return _one_place(kept, notes)


def _one_place(claims: list[_Claim], notes: list[str]) -> list[_Claim]:
    """A student's files come from one folder. A student's folder is the outermost folder holding
    nobody else's files; when a student has one, the student's files elsewhere (among other students'
    files, or in a deeper folder of their own, as inside another student's folder) are refused, and
    two such folders at the same depth are a conflict nobody wins. Without one (every file in a
    shared listing, as a flat LMS download is) each file's name decides, as it does for the files at
    the archive's top level (no student puts a file there)."""
    def folders(claim: _Claim) -> tuple[str, ...]:
        return PurePosixPath(claim.info.filename).parts[:-1]

    students_under: dict[tuple[str, ...], set[str]] = {}
    for claim in claims:
        for depth in range(1, len(folders(claim)) + 1):
            students_under.setdefault(folders(claim)[:depth], set()).add(claim.student)
    slots = [next((folders(c)[:d] for d in range(1, len(folders(c)) + 1)
                   if students_under[folders(c)[:d]] == {c.student}), None) for c in claims]
    homes: dict[str, set[tuple[str, ...]]] = {}
    for claim, slot in zip(claims, slots):
        if slot is not None:
            homes.setdefault(claim.student, set()).add(slot)
    kept = []
    for claim, slot in zip(claims, slots):
        home = homes.get(claim.student, set())
        best = [h for h in home if len(h) == min(map(len, home))]
        if not home or best == [slot] or not folders(claim):  # the archive's top level: the LMS named it
            kept.append(claim)
            continue
        where = ", ".join(sorted("/".join(h) + "/" for h in best))
        why = ("it is among other students' files" if slot is None else "it is deeper than that" if len(best) == 1
               else "two folders claim the student: resolve it by hand")
        notes.append(f"{claim.info.filename}: named as {claim.student}'s submission, but {claim.student}'s own "
                     f"folder is {where}; {why}; ignored")
    return kept


def _folder_owner(filename: str, reader: _Reader, named: set[str]) -> tuple[str, str] | None:
    """(student, folder) of the outermost folder of `filename` that names a student, if any."""
    folders = PurePosixPath(filename).parts[:-1]
    for depth, folder in enumerate(folders, 1):
        read = reader.read(folder)
        student = read.student if isinstance(read, _Name) else folder if folder in named else None
        if student:
            return student, "/".join(folders[:depth])
    return None


def _latest(claims: list[_Claim], notes: list[str]) -> dict[tuple[str, str], _Claim]:
    """Per student and file, the latest attempt."""
    chosen: dict[tuple[str, str], _Claim] = {}
    for claim in claims:
        key = (claim.student, claim.name.file_id)
        if key in chosen and chosen[key].name.order >= claim.name.order:
            notes.append(f"{claim.info.filename}: a later attempt of {claim.name.file_id} by {claim.student} "
                         "is in the archive; this one is ignored")
            continue
        if key in chosen:
            notes.append(f"{chosen[key].info.filename}: a later attempt by {claim.student} "
                         "is in the archive; this one is ignored")
        chosen[key] = claim
    return chosen


def _extract(zf: zipfile.ZipFile, chosen: dict[tuple[str, str], _Claim], course: Course, scratch: Path,
             notes: list[str], times: dict[str, datetime]) -> list[Submission]:
    submissions, total = [], 0
    cells = expected_cells(course)
    due = load_policy(course).due(course.assignment)
    for student in sorted({student for student, _ in chosen}):
        folder = scratch / student / course.assignment
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for (owner, file_id), claim in sorted(chosen.items()):
            if owner != student:
                continue
            total += claim.info.file_size
            if total > MAX_ARCHIVE_BYTES:
                notes.append(f"{claim.info.filename}: the archive holds more than "
                             f"{MAX_ARCHIVE_BYTES // 2**30} GB; ignored")
                continue
            safe = PurePosixPath(file_id).name  # no folders, no ../ escapes
            if safe in ("", ".", ".."):
                notes.append(f"{claim.info.filename}: no file name after the pattern's parts; ignored")
                continue
            with zf.open(claim.info) as src:
                data = src.read(MAX_MEMBER_BYTES + 1)
            (folder / safe).write_bytes(data[:MAX_MEMBER_BYTES])
            names.append(claim.name)
        submission = inspect(scratch / student, course, cells)
        submission.timestamp = max((n.timestamp for n in names if n.timestamp), default=None)
        canvas = [n.canvas for n in names if n.canvas]
        if canvas:  # Canvas's zip holds one submission per student: any file marked LATE marks it
            submission.timestamp, why = handed_in(canvas[0].user, any(c.late for c in canvas), due, times)
            if why:
                submission.note("*", why)
        submissions.append(submission)
    return submissions
