"""The grading cache: autograded/.hwkit-cache/<assignment>/<student>.json records the judge's verdicts
on a student's last graded submission of one assignment (the reasons points were lost, each notebook's
status, the run's notes, whether it ran sandboxed), keyed by a hash of the submission and of everything
else that decides a grade (source/, grader_tests/, nbgrader_config.py, the grading code and templates, the
grading settings). A killed run resumes where it stopped; grading twice regrades nothing; a change to a
check regrades everyone. A student whose grading did not finish is recorded apart, with no key: shown NOT
GRADED, never reused. The points themselves are read from the gradebook (gradebook_view.py). The class report
reads the judge's diagnoses and times of the last grading from it (`cached_records`).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from .course import Course
from .intake import Submission
from .results import NotebookGrade
from .settings import GradingSettings

CACHE_VERSION = "hwkit-grade-5"  # 4: NotebookGrade.status; 5: a folder per assignment
HASH_IGNORE = ("__pycache__", ".ipynb_checkpoints", ".pyc")
GRADING_CODE = ("grade.py", "worker.py", "judge.py", "judge_socket.py", "observer.py", "course_config.py",
                "record.py", "safe_html.py", "sandbox.py", "walls.py", "cgroups.py", "forkserver.py",
                "kernel_forkserver.py", "feedback.py", "notebooks.py", "intake.py", "assignment.py", "wire.py",
                "cell_judge.py", "standins.py", "standin_server.py")


def _tree_digest(folder: Path, digest) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in HASH_IGNORE or path.name.endswith(".pyc") for part in path.parts):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")


def course_fingerprint(course: Course, settings: GradingSettings) -> str:
    """Everything besides the submission that decides a grade: source/, grader_tests/, config, settings
    (a grade from an unsandboxed run is never reused by a sandboxed one)."""
    digest = hashlib.sha256(f"{CACHE_VERSION}\0{course.assignment}\0{settings.fingerprint()}\0".encode())
    _tree_digest(course.source, digest)
    if course.grader_tests.is_dir():
        _tree_digest(course.grader_tests, digest)
    digest.update((course.root / "nbgrader_config.py").read_bytes())
    for module in GRADING_CODE:
        digest.update((Path(__file__).parent / module).read_bytes())
    _tree_digest(Path(__file__).parent / "templates", digest)  # the feedback pages' look
    return digest.hexdigest()


def submission_key(submission: Submission, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    for name, path in sorted(submission.notebooks.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([submission.notes, submission.timestamp], sort_keys=True).encode())
    return digest.hexdigest()


def cache_folder(course: Course) -> Path:
    """The cache of the course's assignment (each assignment its own: grading one never touches another's)."""
    return course.autograded / ".hwkit-cache" / course.assignment


def _cache_path(course: Course, student: str) -> Path:
    return cache_folder(course) / f"{student}.json"


def load_cached(course: Course, submission: Submission, key: str, in_gradebook: set[str]) -> list[NotebookGrade] | None:
    """The grades recorded under `key`, if they are still in the gradebook and autograded/."""
    path = _cache_path(course, submission.student)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not key or record.get("key") != key or submission.student not in in_gradebook:
        return None
    if submission.notebooks and not (course.autograded / submission.student / course.assignment).is_dir():
        return None
    return [NotebookGrade.from_dict(g) for g in record["grades"]]


def store_cached(course: Course, student: str, key: str | None, grades: list[NotebookGrade], timings: dict,
                 notes: list[str] | None = None, sandboxed: bool | None = None) -> None:
    """Record `grades`; key None: grading did not finish, recorded apart (<assignment>/not-graded/<student>.json:
    shown NOT GRADED until a run grades the student, never reused)."""
    path = _cache_path(course, student) if key else _not_graded_path(course, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "grades": [asdict(g) for g in grades], "timings": timings,
                               "notes": notes or [], "sandboxed": sandboxed}, indent=1))
    os.replace(tmp, path)  # atomic: a killed run leaves either the old record or the new one
    if key:
        _not_graded_path(course, student).unlink(missing_ok=True)


def _not_graded_path(course: Course, student: str) -> Path:
    return cache_folder(course) / "not-graded" / f"{student}.json"


def records(course: Course) -> dict[str, dict]:
    """student -> their record (key, grades as NotebookGrade, notes, sandboxed) for every student recorded."""
    found = {}  # a record of grading that did not finish is newer than the student's last complete one
    for path in [*sorted(cache_folder(course).glob("*.json")), *sorted(cache_folder(course).glob("not-graded/*.json"))]:
        try:
            record = json.loads(path.read_text())
            record["grades"] = [NotebookGrade.from_dict(g) for g in record["grades"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found[path.stem] = record
    return found


def cached_records(course: Course) -> dict[str, tuple[list[NotebookGrade], dict[str, float]]]:
    """student -> (grades, timings) of each student's last grading (the class report reads the judge's
    diagnoses and times here)."""
    return {student: (record["grades"], record.get("timings", {})) for student, record in records(course).items()}
