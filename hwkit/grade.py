"""`hwkit grade`: autograde a whole class with nbgrader, in parallel, student code sandboxed.

* Intake: submitted/<student>/<assignment>/ folders or an LMS archive (see intake.py); unreadable
  notebooks are reported and left out, so the rest of that student's work and every other
  student are still graded. Nothing under submitted/ is ever written.
* The settings (settings.py: limits, jobs, sandbox on/off) come in as one GradingSettings.
* `jobs` worker processes (default: one per core), each with its own scratch nbgrader course,
  grade one student after another (worker.py): nbgrader's Autograde runs the notebooks in a
  bubblewrap sandbox (sandbox.py), the judge (judge.py) decides every autograded question
  outside the student's process, nbgrader's GenerateFeedback writes the feedback. Student code
  cannot read source/, grader_tests/, other students' work, or write any grade file.
* The parent merges every finished student into the course: autograded/<student>/,
  feedback/<student>/ and the course gradebook.db (through nbgrader's Gradebook API, which
  keeps manual grades), then records the result in autograded/.hwkit-cache/<assignment>/<student>.json
  (cache.py), keyed by a hash of the submission, source/, grader_tests/ and the grading
  settings. A killed run resumes where it stopped; grading twice regrades nothing. Each worker
  hands back a StudentResult (results.py); the progress bar is progress.py's.
* Submissions accumulate: a student graded before and absent from this intake keeps their grade (graded again
  from the copy record.py kept when a grading input changed), and a copy older than the graded one (by its
  timestamp) is not graded; the run says who is new, replaced, unchanged, kept.
* Ctrl-C stops the run within seconds (Interrupted, with how many were graded): the workers ignore it
  (the parent stops them: SIGTERM, which closes their sandboxes, then SIGKILL), a student is recorded whole
  or not at all, and the scratch folder is removed.
* With GradingSettings.scheduler the workers are a Dask cluster's (cluster.py); the parent records as here.
* Each worker process has GradingSettings.worker_memory_mb of address space (a soft limit, so the sandbox it
  starts can still set its own): a message from a student's process that makes the judge
  allocate too much fails there (MemoryError: that question lost), not the worker.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote

from .assignment import load as load_assignment
from .cache import course_fingerprint, load_cached, submission_key
from .course import Course
from .course_config import course_settings
from .intake import Submission, collect, not_on_roster
from .interrupts import Interrupted, interrupts_ignored, remove_folder, stop_worker, stop_workers
from .lms_archive import collect_archive
from .progress import Progress, announcer
from .record import NOT_IN_INTAKE, Recorder, gradebook_students, kept_copies, latest_attempts
from .results import GradeRun, NotebookGrade, StudentResult
from .roster import roster_ids
from .settings import GradingSettings
from .worker import WorkerSettings, grade_student, init_worker, limit_worker_memory


def _init_walled_worker(settings: WorkerSettings) -> None:
    """The pool's initializer: the worker's memory limit, how it stops, then its scratch course (worker.py)."""
    limit_worker_memory(settings.grading.worker_memory_mb)
    signal.signal(signal.SIGTERM, stop_worker)
    init_worker(settings)


def _template(course: Course, target: Path, course_db_url: str, env: dict[str, str]) -> None:
    """A scratch course with the assignment registered (its own gradebook), and the assignment
    registered in the course gradebook too (nbgrader generate_assignment, output in scratch)."""
    target.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", target)
    shutil.copytree(course.source, target / "source" / course.assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    other = target.parent / "register"
    shutil.copytree(target, other)
    exe = shutil.which("nbgrader", path=env["PATH"]) or "nbgrader"
    procs = [subprocess.Popen([exe, "generate_assignment", course.assignment, "--force", *extra], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
             for cwd, extra in ((target, []), (other, [f"--CourseDirectory.db_url={course_db_url}"]))]
    try:
        for proc, where in zip(procs, ("the scratch course", "the course gradebook")):
            out, _ = proc.communicate()
            if proc.returncode:
                raise RuntimeError(f"nbgrader generate_assignment failed for {where}:\n{out[-3000:]}")
    finally:  # interrupted: they are in sessions of their own (Ctrl-C is ours to handle), stop them
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    shutil.rmtree(other, ignore_errors=True)


class SandboxUnavailable(RuntimeError):
    """Student code would run without a sandbox, and nobody asked for that."""


def require_sandbox() -> None:
    """Raise SandboxUnavailable, with how to fix it, when student code cannot be walled in here
    (bubblewrap, cgroups: walls.available)."""
    from .walls import available

    why = available()
    if why is not None:
        raise SandboxUnavailable(f"student code cannot be sandboxed here: {why}, "
                                 "or pass --unsandboxed to run student code without a sandbox at your own risk.")


def grade(course: Course, settings: GradingSettings, archive: Path | None = None, archive_regex: str | None = None,
          progress: TextIO | None | bool = None, on_result: Callable[[str], None] | None = None,
          times: dict[str, datetime] | None = None) -> GradeRun:
    """Autograde every submission; write autograded/, feedback/ and the gradebook of `course`.

    settings: the time and resource limits, the number of workers, sandbox on/off (settings.py); with
    the sandbox on, SandboxUnavailable when it cannot run here; off, student code runs unsandboxed
    (recorded in the GradeRun, so the reports say so). archive: an LMS download zip, graded instead
    of submitted/ for the students it holds (times: a Canvas download's exact submission times, lms_archive.py).
    progress: a stream for the progress bar (default stderr), False for none. on_result(student): called as
    each student is recorded.
    """
    if settings.sandbox and not settings.scheduler:  # on a cluster, each node checks its own (cluster.py)
        require_sandbox()  # before anything is written
    started = time.monotonic()
    say = announcer(progress)
    say("preparing: reading the course and the submissions")
    maxima = load_assignment(course).max_scores
    fingerprint = course_fingerprint(course, settings)
    course_id, db_url = course_settings(course)
    notes: dict[str, list[str]] = {}
    run_dir = Path(tempfile.mkdtemp(prefix="hwkit-grade-"))
    results: dict[str, list[NotebookGrade]] = {}
    cached: list[str] = []
    try:
        ordered = _submissions(course, archive, archive_regex, run_dir / "archive", notes, times)
        if not ordered:  # nothing to grade: nothing written, not even an empty gradebook (the CLI says why)
            return GradeRun([], notes, sandboxed=settings.sandbox)
        known = gradebook_students(db_url, course.assignment)
        ordered, kept = latest_attempts(ordered, known)
        absent = [student for student, why in kept.items() if why == NOT_IN_INTAKE]
        ordered = sorted(ordered + kept_copies(course, absent), key=lambda s: s.student)  # graded again if need be
        keys = {s.student: submission_key(s, fingerprint) for s in ordered}
        for s in ordered:
            grades = load_cached(course, s, keys[s.student], set(known))
            if grades is not None:
                results[s.student] = grades
        cached = list(results)
        todo = [s for s in ordered if s.student not in results]
        bar = None if progress is False else Progress(len(ordered), progress or None, cached=len(cached))
        if bar:
            bar.done = len(cached)
        say(f"{len(ordered)} student(s) found, {len(cached)} unchanged since the last run, {len(todo)} to grade"
            + (f" ({len(kept)} graded before and not in this intake or older here)" if kept else ""))
        retried: list[str] = []
        if todo:
            recorder = Recorder(course, course_id, db_url, keys, results, bar, on_result, settings.sandbox)
            workers = _start(course, settings, run_dir, db_url, len(todo), say)
            if settings.scheduler:
                from .cluster import grade_on_cluster
                retried = grade_on_cluster(course, workers, maxima, todo, recorder, say)
            else:
                retried = _grade_all(todo, maxima, workers, recorder)
    except KeyboardInterrupt:
        raise Interrupted(len(results) - len(cached)) from None
    finally:
        with interrupts_ignored():
            remove_folder(run_dir)
    all_grades = [g for student in sorted(results) for g in results[student]]
    for s in ordered:
        if s.notes.get("*"):
            notes[s.student] = s.notes["*"]
    graded = [s.student for s in todo if s.student in results]
    return GradeRun(all_grades, notes, cached=cached, seconds=time.monotonic() - started, sandboxed=settings.sandbox,
                    retried=retried, new=[s for s in graded if s not in known],
                    replaced=[s for s in graded if s in known], kept=kept)


def _submissions(course: Course, archive: Path | None, archive_regex: str | None, scratch: Path,
                 notes: dict[str, list[str]], times: dict[str, datetime] | None = None) -> list[Submission]:
    """Every student's submission, by student id: submitted/, and the archive's in their place (its
    problems go into notes["(archive)"], the students not on the roster into notes["(roster)"])."""
    submissions = {s.student: s for s in collect(course)}
    if archive is not None:
        intake = collect_archive(course, Path(archive), scratch, archive_regex, times)
        for s in intake.submissions:
            if s.student in submissions:
                s.note("*", f"graded from {Path(archive).name}, not from submitted/{s.student}/")
            submissions[s.student] = s
        if intake.notes:
            notes["(archive)"] = intake.notes
    if warning := not_on_roster(list(submissions), roster_ids(course)):
        notes["(roster)"] = warning
    return [submissions[k] for k in sorted(submissions)]


def _start(course: Course, settings: GradingSettings, run_dir: Path, db_url: str, students: int,
           say: Callable[[str], None]) -> WorkerSettings:
    """Prepares what the workers start from (the sandbox's grader folder, the scratch course) and says so."""
    from .walls import prepare_grader_mount

    env = course.env()
    if not settings.sandbox:
        print("hwkit grade: WARNING: student code runs WITHOUT a sandbox (--unsandboxed)", file=sys.stderr)
    local = settings.sandbox and not settings.scheduler  # a cluster's nodes prepare their own (cluster.py)
    grader_mount = str(prepare_grader_mount(course.source, run_dir / "grader")) if local else None
    say(f"preparing: registering {course.assignment} in the gradebook and in a scratch course "
        "(nbgrader generate_assignment, about half a minute)")
    _template(course, run_dir / "template", db_url, env)
    course.autograded.mkdir(exist_ok=True)
    workers = min(max(1, settings.jobs or os.cpu_count() or 1), students)
    if not settings.scheduler:
            say(f"starting {workers} grading worker(s)" + (", each with a sandbox whose kernels import numpy, "
            "PyTorch and matplotlib once (the first results take a minute)" if settings.sandbox else ""))
    return WorkerSettings(str(run_dir), str(run_dir / "template"), workers, grader_mount, env, course.assignment,
                          str(course.source), str(course.grader_tests), settings)


def _grade_all(todo: list[Submission], maxima: dict, settings: WorkerSettings, recorder: Recorder) -> list[str]:
    """Grade `todo`; returns who was retried alone after a worker died.

    First every student in shared pools. A worker that dies (OOM-killed, crashed) breaks its pool:
    the students it had not started yet go to a new pool, those that were being graded (the culprit
    and whoever was in another worker at that moment) are retried afterwards, each alone on a fresh
    worker, so a crash again costs only that student."""
    context = get_context("spawn")
    started_dir = Path(settings.run_dir) / "started"
    queue, retry, failures = list(todo), [], {}
    while queue:
        shutil.rmtree(started_dir, ignore_errors=True)
        started_dir.mkdir()
        failed = _grade_in_pool(queue, maxima, settings, context, min(settings.workers, len(queue)),
                                recorder.finished)
        begun = {unquote(p.name) for p in started_dir.iterdir()}
        stuck = len(failed) == len(queue) and not begun  # the pool broke before any student began
        for submission, exc in failed:
            if stuck or submission.student in begun or not isinstance(exc, BrokenProcessPool):
                failures[submission.student] = exc
                retry.append(submission)
        queue = [submission for submission, _ in failed if submission.student not in failures]
    for submission in retry:
        failed = _grade_in_pool([submission], maxima, settings, context, 1, recorder.finished)
        if failed:
            first, again = failures[submission.student], failed[0][1]
            reason = (f"grading did not finish, twice (a grading worker crashed or was killed, e.g. out of "
                      f"memory: {_describe(first)}; retried on a fresh worker: {_describe(again)}); "
                      "run hwkit grade again")
            grades = [NotebookGrade.not_graded(submission.student, name, m, reason) for name, m in maxima.items()]
            recorder.not_graded(submission, grades)
    return [submission.student for submission in retry]


def _grade_in_pool(submissions: list[Submission], maxima: dict, settings: WorkerSettings, context, workers: int,
                   finished: Callable[[Submission, StudentResult], None]) -> list[tuple[Submission, BaseException]]:
    """Grade `submissions` in a new pool of `workers` processes; `finished` gets every result as it
    comes. Returns the students whose grading did not finish, with the exception."""
    failed = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_walled_worker,
                             initargs=(settings,)) as pool:
        try:
            with interrupts_ignored():  # the workers start (on submit) ignoring Ctrl-C: stopping them is ours
                futures = {pool.submit(grade_student, s, maxima): s for s in submissions}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:
                    failed.append((futures[future], exc))
                    continue
                finished(futures[future], result)
        except KeyboardInterrupt:
            with interrupts_ignored():
                stop_workers(pool)
            raise
    return failed


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
