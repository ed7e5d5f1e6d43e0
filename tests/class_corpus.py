"""The class the grading tests share: every corpus in one course, graded once per test session.

Students: the hostile and broken submissions (hostile.py); the mutation corpora of Planar_MLP
(mutants_planar.py) and Problems 1-3 (mutants_problems.py), where student mutants_03 hands in pack 3
of each notebook; a reference with every notebook; two ordinary students; one whose grading worker
dies; and an LMS archive. `hwkit grade` (two sandboxed workers) grades them all in one run, then
Otter grades, two at a time, the notebooks on which both routes must agree. Each test module then
checks its own students in the shared results (`conftest.graded_class`).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

import hostile
import mutants_planar
import mutants_problems
from hwkit.course import Course
from hwkit.demo import filled_release, forgot_average
from hwkit.grade import GradeRun, grade
from hwkit.otter import OtterResult, archive_name, otter_grade
from hwkit.report import write_grades_csv, write_summaries, write_summary_figure
from hwkit.settings import CELL_TIMEOUT, GradingSettings
from hwkit.worker import CRASH_FOR_ENV

PLANAR = hostile.PLANAR
# One setting for the whole class: the default per-cell limit, enough for the hidden training cases
# with two workers on a 2-core machine.
SETTINGS = GradingSettings(cell_timeout=CELL_TIMEOUT, jobs=2)
OTTER_NOTEBOOK_TIMEOUT = 300  # seconds: a stuck Otter run fails its test instead of hanging the session

ARCHIVE = "downloads.zip"
ARCHIVE_MEMBERS = {  # LMS file names -> what they hold (nbgrader zip_collect naming)
    "hw1_lms_alice_attempt_2024-03-01-09-00-00_Planar_MLP.ipynb": "broken",   # superseded by the later attempt
    "hw1_lms_alice_attempt_2024-03-02-10-30-00_Planar_MLP.ipynb": "good",
    "hw1_lms_bob_attempt_2024-03-02-11-00-00_Planar_MLP.ipynb": "broken",
    "syllabus.pdf": "junk",
}
# What Otter must grade like nbgrader beyond the route corpora: nothing typed in, an endless loop (Otter's
# own per-cell limit) and the complete reference with its demo cells. (Otter ignores the notebook's test
# cells, so the deleted and edited ones are nbgrader's concern only.)
OTTER_STRUCTURAL = ["reference", "untouched", "endless_loop"]


@dataclass(frozen=True)
class GradedClass:
    course: Course
    run: GradeRun  # `hwkit grade` of the whole class
    otter: dict[tuple[str, str], OtterResult]  # (student, notebook) -> Otter's result
    submitted_before: dict[str, str]  # digest of submitted/ before grading
    progress: str  # what the progress bar printed
    archive: Path

    def grade_of(self, student: str, notebook: str = PLANAR):
        return next(g for g in self.run.grades if g.student == student and g.notebook == notebook)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _folder(course: Course, student: str) -> Path:
    folder = course.submitted / student / course.assignment
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_class(course: Course) -> list[tuple[str, str]]:
    """Every corpus's submissions in submitted/; returns the (student, notebook) pairs Otter grades."""
    otter = [(student, PLANAR) for student in OTTER_STRUCTURAL]
    for student, (make, _, _) in hostile.CORPUS.items():
        make(course, _folder(course, student))
    for student, (make, _) in mutants_planar.ROUTE_CORPUS.items():
        nbformat.write(make(course), _folder(course, student) / PLANAR)
        otter.append((student, PLANAR))
    for student in mutants_problems.ROUTE_STUDENTS:
        for notebook in mutants_problems.NOTEBOOKS:
            nb = mutants_problems.route_notebook(course, student, notebook)
            nbformat.write(nb, _folder(course, student) / notebook)
    otter += mutants_problems.OTTER_ROUTE
    reference = _folder(course, "reference")
    for name in course.notebook_names():
        nbformat.write(filled_release(course, name), reference / name)
    (reference / "timestamp.txt").write_text("2024-03-01 12:00:00")
    nbformat.write(filled_release(course, PLANAR, forgot_average), _folder(course, "forgot_average") / PLANAR)
    shutil.copy(course.release / PLANAR, _folder(course, "untouched") / PLANAR)
    nbformat.write(filled_release(course, PLANAR), _folder(course, hostile.WORKER_CRASH) / PLANAR)
    return otter


def make_archive(course: Course, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, kind in ARCHIVE_MEMBERS.items():
            if kind == "good":
                zf.writestr(f"hw1 downloads/{name}", nbformat.writes(filled_release(course, PLANAR)))
            elif kind == "broken":
                zf.writestr(name, '{"cells": [ not json')
            else:
                zf.writestr(name, b"%PDF-1.4")
    return path


@contextlib.contextmanager
def crashing_worker() -> Iterator[None]:
    """Every grading worker that starts on WORKER_CRASH dies (only for this process's grade() calls)."""
    os.environ[CRASH_FOR_ENV] = hostile.WORKER_CRASH
    try:
        yield
    finally:
        del os.environ[CRASH_FOR_ENV]


def grade_class(built_course: Course, root: Path) -> GradedClass:
    """The class in a copy of the built course, graded once by `hwkit grade`, then by Otter."""
    shutil.copytree(built_course.root, root, ignore=shutil.ignore_patterns("__pycache__"))
    course = Course.at(root)
    otter_jobs = make_class(course)
    archive = make_archive(course, root.parent / ARCHIVE)
    (course.grades_csv).write_text("student_id,total\nsentinel,1\n")  # must only change via reports
    before = digest(course.submitted)

    def through_otter(job: tuple[str, str]) -> tuple[tuple[str, str], OtterResult]:
        student, notebook = job
        path = course.submitted / student / course.assignment / notebook
        return job, otter_grade(course.dist / archive_name(course, notebook), path, course.env(),
                                timeout=OTTER_NOTEBOOK_TIMEOUT, cell_timeout=SETTINGS.cell_timeout)

    bar = io.StringIO()
    with crashing_worker():
        run = grade(course, SETTINGS, archive=archive, progress=bar)
    with ThreadPoolExecutor(max_workers=2) as pool:  # after nbgrader: two runs at a time on two cores, as it had
        otter = dict(pool.map(through_otter, otter_jobs))
    write_grades_csv(run, course.grades_csv)
    write_summaries(run, course)
    write_summary_figure(run, course.summary_figure)
    return GradedClass(course, run, otter, before, bar.getvalue(), archive)
