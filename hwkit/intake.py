"""Intake: find every student's notebooks and say clearly what is wrong with them.

Two sources, treated alike once read:
  * submitted/<student_id>/<assignment>/ folders (nbgrader's layout), optionally with
    nbgrader's timestamp.txt;
  * an LMS download archive (`hwkit grade --archive downloads.zip`), following nbgrader's
    `zip_collect` conventions: every file in the zip (nested folders allowed) whose name
    matches ARCHIVE_FILENAME_REGEX (like FileNameCollectorPlugin.named_regexp, it must
    provide `student_id` and `file_id`, and may provide `timestamp`) belongs to that
    student; the default reads LMS names such as
        hw1_alice_attempt_2024-03-01-14-05-00_Planar_MLP.ipynb
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
    return {name: {c.grade_id for c in grade_cells(read_notebook(course.source / name))}
            for name in course.notebook_names()}


def collect(course: Course) -> list[Submission]:
    """Every student folder under submitted/ that is a submission of this assignment, in a stable order: one
    that holds only other assignments of the course is another assignment's student."""
    if not course.submitted.is_dir():
        return []
    from .assignment import assignments_of

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


def collect_archive(course: Course, archive: Path, scratch: Path,
                    pattern: str = ARCHIVE_FILENAME_REGEX) -> ArchiveIntake:
    """Extract the members of an LMS download into scratch/<student>/<assignment>/ and inspect them."""
    notes: list[str] = []
    regex = re.compile(pattern.replace("{assignment}", re.escape(course.assignment)))
    chosen: dict[tuple[str, str], tuple[str, zipfile.ZipInfo]] = {}
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        return ArchiveIntake([], [f"{archive.name}: not a readable zip archive ({exc})"])
    total = 0
    with zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename).name
            if info.is_dir() or not name or name.startswith(".") or "__MACOSX" in info.filename:
                continue
            match = regex.match(name)
            if not match or not match.groupdict().get("student_id") or not match.groupdict().get("file_id"):
                notes.append(f"{info.filename}: name does not match the archive filename pattern; ignored")
                continue
            fields = match.groupdict()
            if fields.get("assignment") and fields["assignment"] != course.assignment:
                notes.append(f"{info.filename}: for assignment {fields['assignment']}, "
                             f"not {course.assignment}; ignored")
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                notes.append(f"{info.filename}: larger than {MAX_MEMBER_BYTES // 2**20} MB; ignored")
                continue
            key = (fields["student_id"], fields["file_id"])
            stamp = fields.get("timestamp") or ""
            if key in chosen and chosen[key][0] >= stamp:
                notes.append(f"{info.filename}: a later attempt of {fields['file_id']} by {fields['student_id']} "
                             "is in the archive; this one is ignored")
                continue
            if key in chosen:
                notes.append(f"{chosen[key][1].filename}: a later attempt by {fields['student_id']} "
                             "is in the archive; this one is ignored")
            chosen[key] = (stamp, info)
        submissions = []
        students = sorted({student for student, _ in chosen})
        cells = expected_cells(course)
        for student in students:
            folder = scratch / student / course.assignment
            folder.mkdir(parents=True, exist_ok=True)
            stamps = []
            for (owner, file_id), (stamp, info) in sorted(chosen.items()):
                if owner != student:
                    continue
                total += info.file_size
                if total > MAX_ARCHIVE_BYTES:
                    notes.append(f"{info.filename}: the archive holds more than "
                                 f"{MAX_ARCHIVE_BYTES // 2**30} GB; ignored")
                    continue
                safe = PurePosixPath(file_id).name  # no folders, no ../ escapes
                with zf.open(info) as src:
                    data = src.read(MAX_MEMBER_BYTES + 1)
                (folder / safe).write_bytes(data[:MAX_MEMBER_BYTES])
                stamps.append(stamp)
            submission = inspect(scratch / student, course, cells)
            stamp = max(stamps, default="")
            if re.fullmatch(r"[0-9]{4}(-[0-9]{2}){5}", stamp or ""):
                submission.timestamp = str(datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S"))
            submissions.append(submission)
    return ArchiveIntake(submissions, notes)
