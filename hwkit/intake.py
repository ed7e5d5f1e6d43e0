"""Intake: find every student's notebooks and say clearly what is wrong with them.

Two sources, treated alike once read:
  * submitted/<student_id>/<assignment>/ folders (nbgrader's layout), optionally with
    nbgrader's timestamp.txt;
  * an LMS download archive (`hwkit grade --archive downloads.zip`), following nbgrader's
    `zip_collect` conventions: every file in the zip (nested folders allowed) whose name
    matches ARCHIVE_FILENAME_REGEX (like FileNameCollectorPlugin.named_regexp, it must
    provide `student_id` and `file_id`, and may provide `timestamp`) belongs to that
    student; the default reads LMS names such as
        hw2_alice_attempt_2024-03-01-14-05-00_Lab.ipynb
    The archive's structure comes first: in an archive with a folder per student (a folder named
    like an LMS entry, or exactly a student id), a file belongs to the student of its folder, and
    a file in alice's folder named as bob's submission is refused with a note, never bob's; so is
    one slipped among other students' files or into a deeper folder while bob's own folder holds
    his (`_owned`, `_one_place`).
    Student ids are letters, digits, `_ . @ -` (they become folder names and console columns).
    The archive is extracted into a scratch folder, never into submitted/. When a file was
    handed in several times the latest attempt counts.

Nothing here writes under submitted/; a malformed file is reported (by student and file,
with a reason), never fatal to the run.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

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


# ---- LMS archives (nbgrader zip_collect conventions) -------------------------------------------
# `{assignment}` is replaced by the assignment's name; the prefix is optional.
ARCHIVE_FILENAME_REGEX = (r"^(?:(?P<assignment>{assignment})_)?(?P<student_id>\w+?)_attempt_"
                          r"(?P<timestamp>[0-9]{4}(?:-[0-9]{2}){5})_(?P<file_id>.+)$")
MAX_MEMBER_BYTES = 50 * 2**20
MAX_ARCHIVE_BYTES = 2 * 2**30


@dataclass
class ArchiveIntake:
    submissions: list[Submission]
    notes: list[str]  # about archive members that belong to no student


STUDENT_ID = re.compile(r"\w[\w.@-]{0,99}")  # becomes a folder name, a gradebook id, a console column


@dataclass(frozen=True)
class _Claim:
    """An archive member whose name the LMS pattern reads, and what its name says."""

    info: zipfile.ZipInfo
    student: str
    file_id: str
    stamp: str


def collect_archive(course: Course, archive: Path, scratch: Path,
                    pattern: str = ARCHIVE_FILENAME_REGEX) -> ArchiveIntake:
    """Extract the members of an LMS download into scratch/<student>/<assignment>/ and inspect them."""
    notes: list[str] = []
    regex = re.compile(pattern.replace("{assignment}", re.escape(course.assignment)))
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        return ArchiveIntake([], [f"{archive.name}: not a readable zip archive ({exc})"])
    with zf:
        claims = _owned(_claims(zf, regex, course.assignment, notes), regex, notes)
        chosen = _latest(claims, notes)
        return ArchiveIntake(_extract(zf, chosen, course, scratch, notes), notes)


def _claims(zf: zipfile.ZipFile, regex: re.Pattern, assignment: str, notes: list[str]) -> list[_Claim]:
    """Every member the pattern reads, with the student its own name gives."""
    claims = []
    for info in zf.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or not path.name or path.name.startswith(".") or "__MACOSX" in info.filename:
            continue
        fields = _fields(regex, path.name)
        if fields is None:
            notes.append(f"{info.filename}: name does not match the archive filename pattern; ignored")
        elif fields.get("assignment") and fields["assignment"] != assignment:
            notes.append(f"{info.filename}: for assignment {fields['assignment']}, not {assignment}; ignored")
        elif not STUDENT_ID.fullmatch(fields["student_id"]):
            notes.append(f"{info.filename}: {fields['student_id']!r} is not a student id (letters, digits, _ . @ -); "
                         "ignored")
        elif info.file_size > MAX_MEMBER_BYTES:
            notes.append(f"{info.filename}: larger than {MAX_MEMBER_BYTES // 2**20} MB; ignored")
        else:
            claims.append(_Claim(info, fields["student_id"], fields["file_id"], fields.get("timestamp") or ""))
    return claims


def _fields(regex: re.Pattern, name: str) -> dict[str, str] | None:
    match = regex.match(name)
    fields = match.groupdict() if match else {}
    return fields if fields.get("student_id") and fields.get("file_id") else None


def _owned(claims: list[_Claim], regex: re.Pattern, notes: list[str]) -> list[_Claim]:
    """The claims the archive's structure allows. A folder named for a student (named like an LMS entry,
    or exactly a student id the archive's file names give) holds that student's files only: a file in
    it named as another student's is refused. Then `_one_place`."""
    named = {claim.student for claim in claims}
    kept = []
    for claim in claims:
        owner = _folder_owner(claim.info.filename, regex, named)
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


def _folder_owner(filename: str, regex: re.Pattern, named: set[str]) -> tuple[str, str] | None:
    """(student, folder) of the outermost folder of `filename` that names a student, if any."""
    folders = PurePosixPath(filename).parts[:-1]
    for depth, folder in enumerate(folders, 1):
        fields = _fields(regex, folder)
        student = fields["student_id"] if fields else folder if folder in named else None
        if student:
            return student, "/".join(folders[:depth])
    return None


def _latest(claims: list[_Claim], notes: list[str]) -> dict[tuple[str, str], _Claim]:
    """Per student and file, the latest attempt."""
    chosen: dict[tuple[str, str], _Claim] = {}
    for claim in claims:
        key = (claim.student, claim.file_id)
        if key in chosen and chosen[key].stamp >= claim.stamp:
            notes.append(f"{claim.info.filename}: a later attempt of {claim.file_id} by {claim.student} "
                         "is in the archive; this one is ignored")
            continue
        if key in chosen:
            notes.append(f"{chosen[key].info.filename}: a later attempt by {claim.student} "
                         "is in the archive; this one is ignored")
        chosen[key] = claim
    return chosen


def _extract(zf: zipfile.ZipFile, chosen: dict[tuple[str, str], _Claim], course: Course, scratch: Path,
             notes: list[str]) -> list[Submission]:
    submissions, total = [], 0
    cells = expected_cells(course)
    for student in sorted({student for student, _ in chosen}):
        folder = scratch / student / course.assignment
        folder.mkdir(parents=True, exist_ok=True)
        stamps = []
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
            stamps.append(claim.stamp)
        submission = inspect(scratch / student, course, cells)
        stamp = max(stamps, default="")
        if re.fullmatch(r"[0-9]{4}(-[0-9]{2}){5}", stamp or ""):
            submission.timestamp = str(datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S"))
        submissions.append(submission)
    return submissions
