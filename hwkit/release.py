"""`hwkit release-feedback`: one zip per student with their feedback pages, ready to upload to the LMS.

nbgrader's own `release_feedback` needs an exchange (JupyterHub); without one, this is the hand-over:
feedback-release/<assignment>/<student>.zip holds feedback/<student>/<assignment>/ (index.html, the
summary of every reason points were lost, and one HTML page per notebook), nothing else.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from .course import Course

RELEASE_FOLDER = "feedback-release"


def release_folder(course: Course) -> Path:
    return course.root / RELEASE_FOLDER / course.assignment


def release_feedback(course: Course) -> list[Path]:
    """Zip every student's feedback folder (replacing an earlier release); returns the zips written."""
    target = release_folder(course)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written = []
    students = sorted(p for p in course.feedback.iterdir() if p.is_dir()) if course.feedback.is_dir() else []
    for student in students:
        folder = student / course.assignment
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        if not files:
            continue
        archive = target / f"{student.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, Path(course.assignment) / path.relative_to(folder))
        written.append(archive)
    return written
