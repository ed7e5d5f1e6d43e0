"""`hwkit release-feedback`: one zip per student with their feedback pages, ready to upload to the LMS.

nbgrader's own `release_feedback` needs an exchange (JupyterHub); without one, this is the hand-over:
feedback-release/<assignment>/<student>.zip holds feedback/<student>/<assignment>/ (index.html, the
summary of every reason points were lost, and one HTML page per notebook), nothing else. Written with every
other report (publish.py); a zip whose files did not change is left as it is (its comment holds their digest).
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from .course import Course
from .feedback import MATHJAX

RELEASE_FOLDER = "feedback-release"


def release_folder(course: Course) -> Path:
    return course.root / RELEASE_FOLDER / course.assignment


def release_feedback(course: Course) -> list[Path]:
    """Zip every student's feedback folder (an earlier release's zips of students without feedback are removed);
    returns every student's zip."""
    target = release_folder(course)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    students = sorted(p for p in course.feedback.iterdir() if p.is_dir()) if course.feedback.is_dir() else []
    for student in students:
        folder = student / course.assignment
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) \
            if folder.is_dir() else []
        if not files:
            continue
        archive = target / f"{student.name}.zip"
        digest = _digest(folder, files)
        if not _zip_comment(archive) == digest:
            partial = archive.with_suffix(".zip.tmp")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in files:  # MathJax's files stored as they are: the same in every zip, mostly fonts
                    stored = path.relative_to(folder).parts[0] == MATHJAX
                    zf.write(path, Path(course.assignment) / path.relative_to(folder),
                             compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
                zf.comment = digest
            partial.replace(archive)  # a zip is whole or absent
        written.append(archive)
    for stale in set(target.glob("*.zip")) - set(written):
        stale.unlink()
    return written


def _digest(folder: Path, files: list[Path]) -> bytes:
    """What the zip would hold: names and contents (MathJax's files, always the same copy: names and sizes)."""
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(folder)
        digest.update(str(name).encode() + b"\0")
        digest.update(str(path.stat().st_size).encode() if name.parts[0] == MATHJAX else path.read_bytes())
    return digest.hexdigest().encode()


def _zip_comment(archive: Path) -> bytes | None:
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.comment
    except (OSError, zipfile.BadZipFile):
        return None
