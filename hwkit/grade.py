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
* With GradingSettings.scheduler the workers are a Dask cluster's (cluster.py); the parent records as here.
* Each worker process has GradingSettings.worker_memory_mb of address space (a soft limit, so the sandbox it
  starts can still set its own): a message from a student's process that makes the judge
  allocate too much fails there (MemoryError: that question lost), not the worker.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote

from nbgrader.api import Gradebook, MissingEntry

from .assignment import load as load_assignment
from .cache import course_fingerprint, load_cached, store_cached, submission_key
from .course import Course
from .course_config import course_settings
from .intake import ARCHIVE_FILENAME_REGEX, Submission, collect, collect_archive
from .progress import Progress, announcer
from .record import merge_into_gradebook
from .results import GradeRun, NotebookGrade, StudentResult
from .settings import GradingSettings
from .worker import WorkerSettings, grade_student, init_worker, limit_worker_memory


def _init_walled_worker(settings: WorkerSettings) -> None:
    """The pool's initializer: the worker's memory limit, then its scratch course (worker.py)."""
    limit_worker_memory(settings.grading.worker_memory_mb)
    init_worker(settings)


def _gradebook_students(db_url: str, assignment: str) -> set[str]:
    try:
        with Gradebook(db_url) as gradebook:
            return {s.student.id for s in gradebook.find_assignment(assignment).submissions}
    except MissingEntry:
        return set()


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
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cwd, extra in ((target, []), (other, [f"--CourseDirectory.db_url={course_db_url}"]))]
    for proc, where in zip(procs, ("the scratch course", "the course gradebook")):
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"nbgrader generate_assignment failed for {where}:\n{out[-3000:]}")
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
          progress: TextIO | None | bool = None, on_result: Callable[[str], None] | None = None) -> GradeRun:
    """Autograde every submission; write autograded/, feedback/ and the gradebook of `course`.

    settings: the time and resource limits, the number of workers, sandbox on/off (settings.py); with
    the sandbox on, SandboxUnavailable when it cannot run here; off, student code runs unsandboxed
    (recorded in the GradeRun, so the reports say so). archive: an LMS download zip, graded instead
    of submitted/ for the students it holds. progress: a stream for the progress bar (default
    stderr), False for none. on_result(student): called as each student is recorded.
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
    with tempfile.TemporaryDirectory(prefix="hwkit-grade-") as tmp:
        run_dir = Path(tmp)
        ordered = _submissions(course, archive, archive_regex, run_dir / "archive", notes)
        if not ordered:  # nothing to grade: nothing written, not even an empty gradebook (the CLI says why)
            return GradeRun([], notes, sandboxed=settings.sandbox)
        keys = {s.student: submission_key(s, fingerprint) for s in ordered}
        known = _gradebook_students(db_url, course.assignment)
        results: dict[str, list[NotebookGrade]] = {}
        for s in ordered:
            grades = load_cached(course, s, keys[s.student], known)
            if grades is not None:
                results[s.student] = grades
        cached = list(results)
        todo = [s for s in ordered if s.student not in results]
        bar = None if progress is False else Progress(len(ordered), progress or None, cached=len(cached))
        if bar:
            bar.done = len(cached)
        say(f"{len(ordered)} student(s) found, {len(cached)} unchanged since the last run, {len(todo)} to grade")
        retried: list[str] = []
        if todo:
            recorder = _Recorder(course, course_id, db_url, keys, results, bar, on_result)
            workers = _start(course, settings, run_dir, db_url, len(todo), say)
            if settings.scheduler:
                from .cluster import grade_on_cluster
                retried = grade_on_cluster(course, workers, maxima, todo, recorder, say)
            else:
                retried = _grade_all(todo, maxima, workers, recorder)
    all_grades = [g for student in sorted(results) for g in results[student]]
    for s in ordered:
        if s.notes.get("*"):
            notes[s.student] = s.notes["*"]
    return GradeRun(all_grades, notes, cached=cached, seconds=time.monotonic() - started, sandboxed=settings.sandbox,
                    retried=retried)


def _submissions(course: Course, archive: Path | None, archive_regex: str | None, scratch: Path,
                 notes: dict[str, list[str]]) -> list[Submission]:
    """Every student's submission, by student id: submitted/, and the archive's in their place (its
    problems go into notes["(archive)"])."""
    submissions = {s.student: s for s in collect(course)}
    if archive is not None:
        intake = collect_archive(course, Path(archive), scratch, archive_regex or ARCHIVE_FILENAME_REGEX)
        for s in intake.submissions:
            if s.student in submissions:
                s.note("*", f"graded from {Path(archive).name}, not from submitted/{s.student}/")
            submissions[s.student] = s
        if intake.notes:
            notes["(archive)"] = intake.notes
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


@dataclass
class _Recorder:
    """The parent's side of every graded student: publish its folders, merge it into the course
    gradebook, cache it, count it."""

    course: Course
    course_id: str
    db_url: str
    keys: dict[str, str]
    results: dict[str, list[NotebookGrade]]
    bar: Progress | None
    on_result: Callable[[str], None] | None

    def finished(self, submission: Submission, result: StudentResult, worker: str | None = None) -> None:
        grades = result.grades
        if result.log and grades:
            grades[0].problems.append("nbgrader could not grade the submission: " +
                                      result.log.strip().splitlines()[-1][:300])
        self._publish(result)
        merge_into_gradebook(self.db_url, self.course_id, self.course.assignment, result)
        graded = all(g.graded for g in grades)
        if graded:  # a notebook not graded is tried again next run
            store_cached(self.course, submission.student, self.keys[submission.student], grades, result.timings)
        self.results[submission.student] = grades
        if self.on_result:
            self.on_result(submission.student)
        if self.bar:
            self.bar.update(submission.student, "" if graded else " (NOT GRADED)", worker)

    def not_graded(self, student: str, grades: list[NotebookGrade]) -> None:
        self.results[student] = grades  # nothing published, merged or cached
        if self.bar:
            self.bar.update(student, " (NOT GRADED)")

    def _publish(self, result: StudentResult) -> None:
        """The student's autograded notebooks and feedback of this assignment replace the previous ones (the
        student's folders of other assignments stay as they are)."""
        for kind, source in (("autograded", result.autograded), ("feedback", result.feedback)):
            target = getattr(self.course, kind) / result.student / self.course.assignment
            shutil.rmtree(target, ignore_errors=True)
            if (Path(source) / self.course.assignment).is_dir():
                shutil.copytree(Path(source) / self.course.assignment, target)


def _grade_all(todo: list[Submission], maxima: dict, settings: WorkerSettings, recorder: _Recorder) -> list[str]:
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
            recorder.not_graded(submission.student, grades)
    return [submission.student for submission in retry]


def _grade_in_pool(submissions: list[Submission], maxima: dict, settings: WorkerSettings, context, workers: int,
                   finished: Callable[[Submission, StudentResult], None]) -> list[tuple[Submission, BaseException]]:
    """Grade `submissions` in a new pool of `workers` processes; `finished` gets every result as it
    comes. Returns the students whose grading did not finish, with the exception."""
    failed = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_walled_worker,
                             initargs=(settings,)) as pool:
        futures = {pool.submit(grade_student, s, maxima): s for s in submissions}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:
                failed.append((futures[future], exc))
                continue
            finished(futures[future], result)
    return failed


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
