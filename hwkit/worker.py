"""A grading worker: one process, one scratch nbgrader course, many students one after another.

For each student: nbgrader's own Autograde executes the notebooks (in-process, no nbgrader
start-up per student) with the Execute step replaced by `SandboxedExecute` (kernel behind
bubblewrap), so TAs and students see the executed notebook; then the judge (judge.py) decides
every autograded question outside the student's process and its verdicts replace the scores
nbgrader read off the kernel's output, in the gradebook and under each test cell; then nbgrader's
GenerateFeedback writes the feedback from them. The worker's scratch gradebook is its own; the
parent merges the results into the course gradebook. Student code never runs in this process.
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .cell_judge import CellJudge, assignment_judge
from .intake import Submission
from .judge import CellRun, Reference, Verdict, judge_in_sandbox, judge_unsandboxed, judged_cells
from .record import harvest_gradebook
from .results import StudentResult
from .settings import GradingSettings, cell_timeout_reason

VERDICT_PREFIX = "[graded by hwkit] "


@dataclass(frozen=True)
class WorkerSettings:
    """What every grading worker is started with (picklable: it crosses into the spawned process)."""

    run_dir: str
    template: str
    workers: int  # grading workers at once (the kernels' thread count is shared out among them)
    grader_mount: str | None  # None: no sandbox
    env: dict[str, str]
    assignment: str
    source: str  # the course's source/<assignment> (trusted checks, notebooks)
    grader_tests: str  # the course's grader_tests (references, hidden cases)
    grading: GradingSettings  # time and resource limits


@dataclass(frozen=True)
class _Worker:
    """This worker process's state, set up once by init_worker."""

    scratch: Path  # its own scratch nbgrader course
    api: Any  # nbgrader's NbGraderAPI on the scratch course
    settings: WorkerSettings
    reference: Reference | CellJudge  # the assignment's judge


_worker: _Worker | None = None


def limit_worker_memory(megabytes: int = GradingSettings.worker_memory_mb) -> None:
    """This process's address space down to `megabytes` (the soft limit only)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def init_worker(settings: WorkerSettings) -> None:
    """Initializer of each pool process: its own scratch course copied from the template."""
    global _worker
    os.environ.clear()
    os.environ.update(settings.env)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    scratch = Path(settings.run_dir) / f"worker-{os.getpid()}"
    shutil.copytree(settings.template, scratch, ignore=shutil.ignore_patterns("release"))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(scratch)).load_config()
    config.CourseDirectory.root = str(scratch)
    config.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    _configure_execution(config, settings)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # SQLAlchemy and nbformat chatter from nbgrader
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    _worker = _Worker(scratch, api, settings, assignment_judge(Path(settings.source), Path(settings.grader_tests)))


def _current() -> _Worker:
    if _worker is None:
        raise RuntimeError("grade_student runs in a process set up by init_worker")
    return _worker


def _configure_execution(config, settings: WorkerSettings) -> None:
    """nbgrader's Execute (and, sandboxed, SandboxedExecute in its place) set from the grading settings."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        Execute,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from .cell_judge import StripHiddenTests
    from .sandbox import SandboxedExecute

    grading = settings.grading
    config.Execute.timeout = grading.cell_timeout
    why = cell_timeout_reason(grading.cell_timeout)  # nbgrader's own text is an empty "CellTimeoutError: "
    config.Execute.error_on_timeout = {"ename": "CellTimeoutError", "evalue": why,
                                       "traceback": [f"CellTimeoutError: {why}"]}
    # nbgrader's own list, with the hidden tests stripped before the student's code runs (the judge runs them,
    # outside; they are secret) and the sandboxed executor in place of Execute.
    executor = SandboxedExecute if settings.grader_mount else Execute
    config.Autograde.autograde_preprocessors = [StripHiddenTests, executor, IgnorePattern, ClearMetadataPreprocessor,
                                                LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    if settings.grader_mount:
        config.SandboxedExecute.grader_mount = settings.grader_mount
        config.SandboxedExecute.assignment = settings.assignment
        config.SandboxedExecute.jobs = settings.workers
        config.SandboxedExecute.grading = grading  # whole: the judge's side (judge_student) reads the same object


# Fault injection for tests (and for rehearsing a crash): a worker that starts grading the student
# named in this variable dies at once, as an OOM-killed worker would (os._exit, no cleanup).
CRASH_FOR_ENV = "HWKIT_TEST_CRASH_WORKER_FOR"


def grade_student(submission: Submission, maxima: dict[str, dict[str, float]]) -> StudentResult:
    """Autograde one student in this worker's scratch course; return scores and gradebook records.
    First leaves a mark in <run_dir>/started/ (the parent tells from it who was being graded when
    a worker died, and retries only those)."""
    worker = _current()
    scratch, settings = worker.scratch, worker.settings
    assignment = settings.assignment
    (Path(settings.run_dir) / "started" / quote(submission.student, safe="")).touch()
    if os.environ.get(CRASH_FOR_ENV) == submission.student:
        os._exit(70)
    started = time.monotonic()
    for kind in ("submitted", "autograded", "feedback"):
        shutil.rmtree(scratch / kind / submission.student, ignore_errors=True)
    folder = scratch / "submitted" / submission.student / assignment
    folder.mkdir(parents=True)
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, folder / name)  # under the expected name, even if renamed
    if submission.timestamp:
        (folder / "timestamp.txt").write_text(submission.timestamp)
    log, judged = "", {}
    timings: dict[str, float] = {}
    if submission.notebooks:
        from .sandbox import SandboxedExecute

        SandboxedExecute.runs.clear()
        api = worker.api
        done = api.autograde(assignment, submission.student, force=True, create=True)
        log += done.get("log", "") + (done.get("error") or "")
        timings["execute"] = time.monotonic() - started
        if done.get("success"):
            mark = time.monotonic()
            judged = judge_student(submission.student, list(submission.notebooks), timings)
            timings["judge"] = time.monotonic() - mark
            mark = time.monotonic()
            feedback = api.generate_feedback(assignment, submission.student, force=True)
            timings["feedback"] = time.monotonic() - mark
            log += feedback.get("log", "") + (feedback.get("error") or "")
    result = harvest_gradebook(scratch, assignment, submission, maxima, judged)
    return replace(result, log=log if not result.notebooks and submission.notebooks else "",
                   seconds=time.monotonic() - started, timings=timings,
                   autograded=str(scratch / "autograded" / submission.student),
                   feedback=str(scratch / "feedback" / submission.student))


def judge_student(student: str, notebooks: list[str],
                  timings: dict[str, float]) -> dict[str, tuple[list[Verdict], CellRun]]:
    """The judge's verdicts on every autograded notebook of `student`, written into the scratch
    gradebook and under each test cell of the autograded notebook; adds to `timings` where the
    judge's time went (setting up the sandbox, running the cells, the questions)."""
    from .sandbox import SandboxedExecute

    worker = _current()
    scratch, settings, reference = worker.scratch, worker.settings, worker.reference
    folder = scratch / "autograded" / student / settings.assignment
    judged = {}
    for name in notebooks:
        path = folder / name
        if not path.exists():
            continue
        executed = nbformat.read(path, as_version=4)
        source = nbformat.read(Path(settings.source) / name, as_version=4)
        run = SandboxedExecute.runs.pop(Path(name).stem, None)
        cells, questions = judged_cells(executed, source, run), reference.questions(source)
        cell_timeout = settings.grading.cell_timeout
        if settings.grader_mount:
            from .forkserver import worker_server

            server = worker_server(Path(settings.grader_mount), settings.assignment, settings.grading.limits,
                                   settings.workers)
            verdicts, ran = judge_in_sandbox(server, reference, folder, cells, questions, cell_timeout, timings,
                                             settings.grading.notebook_timeout, run.seconds if run else 0.0)
            ran = replace(ran, errors=ran.errors + [f"the checks ({wall.name}): {wall.reason}"
                                                    for wall in server.last_walls])
        else:
            verdicts, ran = judge_unsandboxed(reference, folder, cells, questions, cell_timeout, settings.env,
                                              timings, settings.grading.notebook_timeout)
        if run is not None:  # what the notebook's own run had to stop comes first
            ran = replace(ran, errors=run.notes + ran.errors)
        _annotate(executed, verdicts)
        nbformat.write(executed, path)
        _record(scratch, settings.assignment, student, Path(name).stem, verdicts)
        judged[name] = (verdicts, ran)
    return judged


def _annotate(nb: nbformat.NotebookNode, verdicts: list[Verdict]) -> None:
    """The verdict under each test cell, where students and TAs read the cell's outputs."""
    by_question = {v.question: v for v in verdicts}
    for cell in nb.cells:
        verdict = by_question.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if verdict is not None and cell.cell_type == "code":
            text = f"{VERDICT_PREFIX}{verdict.points:g} / {verdict.max_points:g} point(s). {verdict.message}\n"
            cell.setdefault("outputs", []).append(nbformat.v4.new_output("stream", name="stdout", text=text))


def _record(scratch: Path, assignment: str, student: str, notebook: str, verdicts: list[Verdict]) -> None:
    """The verdicts' points as the autograded scores in the scratch gradebook."""
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        for verdict in verdicts:
            try:
                grade = gradebook.find_grade(verdict.question, notebook, assignment, student)
            except MissingEntry:
                continue
            grade.auto_score = verdict.points
        gradebook.db.commit()
