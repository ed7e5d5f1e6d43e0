"""`hwkit grade`: autograde a whole class with nbgrader, in parallel, student code sandboxed.

* Intake: submitted/<student>/hw1/ folders or an LMS archive (see intake.py); unreadable
  notebooks are reported and left out, so the rest of that student's work and every other
  student are still graded. Nothing under submitted/ is ever written.
* `jobs` worker processes (default: one per core), each with its own scratch nbgrader course,
  grade one student after another (worker.py): nbgrader's Autograde runs the notebooks in a
  bubblewrap sandbox (sandbox.py), the judge (judge.py) decides every autograded question
  outside the student's process, nbgrader's GenerateFeedback writes the feedback. Student code
  cannot read source/, grader_tests/, other students' work, or write any grade file.
* The parent merges every finished student into the course: autograded/<student>/,
  feedback/<student>/ and the course gradebook.db (through nbgrader's Gradebook API, which
  keeps manual grades), then records the result in autograded/.hwkit-cache/<student>.json,
  keyed by a hash of the submission, source/, grader_tests/ and the grading settings. A
  killed run resumes where it stopped; grading twice regrades nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, TextIO
from urllib.parse import unquote

from nbgrader.api import Gradebook, MissingEntry

from .course import Course
from .intake import Submission, collect, collect_archive
from .notebooks import grade_cells, read_notebook
from .record import merge_into_gradebook
from .results import GradeRun, NotebookGrade
from .worker import WorkerSettings, grade_student, init_worker


def max_scores(course: Course) -> dict[str, dict[str, float]]:
    """notebook -> grade_id -> points, from the instructor notebooks (graded cells and nbgrader tasks,
    in notebook order)."""
    table = {}
    for name in course.notebook_names():
        nb = read_notebook(course.source / name)
        graded = {c.grade_id: c.points for c in grade_cells(nb)}
        cells = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") in graded:
                cells[meta["grade_id"]] = graded[meta["grade_id"]]
            elif meta.get("task"):  # a written task, graded by hand in formgrader
                cells[meta["grade_id"]] = float(meta.get("points", 0))
        table[name] = cells
    return table


# ---- the class-grading pipeline -------------------------------------------------------------
CACHE_VERSION = "hwkit-grade-4"  # 4: NotebookGrade.status
HASH_IGNORE = ("__pycache__", ".ipynb_checkpoints", ".pyc")


def _tree_digest(folder: Path, digest) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in HASH_IGNORE or path.name.endswith(".pyc") for part in path.parts):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")


def course_fingerprint(course: Course, timeout: int, sandbox: bool = True, notebook_timeout: int = 300) -> str:
    """Everything besides the submission that decides a grade: source/, grader_tests/, config, settings
    (a grade from an unsandboxed run is never reused by a sandboxed one)."""
    digest = hashlib.sha256(f"{CACHE_VERSION}\0{course.assignment}\0{timeout}\0{sandbox}\0{notebook_timeout}\0".encode())
    _tree_digest(course.source, digest)
    if course.grader_tests.is_dir():
        _tree_digest(course.grader_tests, digest)
    digest.update((course.root / "nbgrader_config.py").read_bytes())
    for module in ("grade.py", "worker.py", "judge.py", "observer.py", "record.py", "safe_html.py", "sandbox.py",
                   "cgroups.py", "forkserver.py", "kernel_forkserver.py", "feedback.py", "notebooks.py", "intake.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    _tree_digest(Path(__file__).parent / "templates", digest)  # the feedback pages' look
    return digest.hexdigest()


def submission_key(submission: Submission, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    for name, path in sorted(submission.notebooks.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([submission.notes, submission.timestamp], sort_keys=True).encode())
    return digest.hexdigest()


def _cache_path(course: Course, student: str) -> Path:
    return course.autograded / ".hwkit-cache" / f"{student}.json"


def _load_cached(course: Course, submission: Submission, key: str, in_gradebook: set[str]) -> list[NotebookGrade] | None:
    path = _cache_path(course, submission.student)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != key or submission.student not in in_gradebook:
        return None
    if submission.notebooks and not (course.autograded / submission.student / course.assignment).is_dir():
        return None
    return [NotebookGrade(**g) for g in record["grades"]]


def _store_cached(course: Course, student: str, key: str, grades: list[NotebookGrade], timings: dict) -> None:
    path = _cache_path(course, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "grades": [asdict(g) for g in grades], "timings": timings}, indent=1))
    os.replace(tmp, path)  # atomic: a killed run leaves either the old record or the new one


def _gradebook_students(db_url: str, assignment: str) -> set[str]:
    try:
        with Gradebook(db_url) as gradebook:
            return {s.student.id for s in gradebook.find_assignment(assignment).submissions}
    except MissingEntry:
        return set()


def course_config(course: Course):
    """The course's nbgrader_config.py, loaded (a traitlets Config)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()


def course_settings(course: Course) -> tuple[str, str]:
    """(course_id, db_url) from the course's nbgrader_config.py."""
    config = course_config(course)
    course_id = config.CourseDirectory.get("course_id", "default_course")
    db_url = config.CourseDirectory.get("db_url", f"sqlite:///{course.gradebook}")
    return str(course_id), str(db_url)


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


class Progress:
    """A one-line progress bar with counts and an ETA (plain text when not on a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None, cached: int = 0):
        self.total, self.done, self.cached = total, 0, cached
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, student: str, note: str = "") -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(1, self.total))
        line = (f"grading [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} students"
                f" ({self.cached} unchanged, skipped)  elapsed {_clock(elapsed)}  ETA {_clock(eta)}  last: {student}{note}")
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _publish_student(course: Course, result: dict) -> None:
    for kind, source in (("autograded", result["autograded"]), ("feedback", result["feedback"])):
        target = getattr(course, kind) / result["student"]
        shutil.rmtree(target, ignore_errors=True)
        if Path(source).is_dir():
            shutil.copytree(source, target)


class SandboxUnavailable(RuntimeError):
    """Student code would run without a sandbox, and nobody asked for that."""


def require_sandbox() -> None:
    """Raise SandboxUnavailable, with how to fix it, when student code cannot be walled in here
    (bubblewrap, cgroups: sandbox.available)."""
    from .sandbox import available

    why = available()
    if why is not None:
        raise SandboxUnavailable(f"student code cannot be sandboxed here: {why}, "
                                 "or pass --unsandboxed to run student code without a sandbox at your own risk.")


def grade(course: Course, timeout: int = 20, jobs: int | None = None, archive: Path | None = None,
          archive_regex: str | None = None, progress: TextIO | None | bool = None,
          sandbox: bool = True, on_result: Callable[[str], None] | None = None,
          notebook_timeout: int = 300) -> GradeRun:
    """Autograde every submission; write autograded/, feedback/ and the gradebook of `course`.

    jobs: parallel workers (default: number of cores). archive: an LMS download zip, graded
    instead of submitted/ for the students it holds. sandbox: True (default) = bubblewrap, and
    SandboxUnavailable when it cannot run here; False = student code runs unsandboxed (recorded
    in the GradeRun, so the reports say so).
    progress: a stream for the progress bar (default stderr), False for none. timeout: seconds per
    cell; notebook_timeout: seconds all cells of one notebook may run together (sandboxed runs).
    """
    from .sandbox import prepare_grader_mount

    if sandbox:
        require_sandbox()  # before anything is written
    started = time.monotonic()
    say = _announcer(progress)
    say("preparing: reading the course and the submissions")
    jobs = max(1, jobs or os.cpu_count() or 1)
    maxima = max_scores(course)
    fingerprint = course_fingerprint(course, timeout, sandbox, notebook_timeout)
    course_id, db_url = course_settings(course)
    notes: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="hwkit-grade-") as tmp:
        run_dir = Path(tmp)
        submissions = {s.student: s for s in collect(course)}
        if archive is not None:
            from .intake import ARCHIVE_FILENAME_REGEX

            intake = collect_archive(course, Path(archive), run_dir / "archive", archive_regex or ARCHIVE_FILENAME_REGEX)
            for s in intake.submissions:
                if s.student in submissions:
                    s.note("*", f"graded from {Path(archive).name}, not from submitted/{s.student}/")
                submissions[s.student] = s
            if intake.notes:
                notes["(archive)"] = intake.notes
        ordered = [submissions[k] for k in sorted(submissions)]
        if not ordered:  # nothing to grade: nothing written, not even an empty gradebook (the CLI says why)
            return GradeRun([], notes, sandboxed=bool(sandbox))
        keys = {s.student: submission_key(s, fingerprint) for s in ordered}
        known = _gradebook_students(db_url, course.assignment)
        results: dict[str, list[NotebookGrade]] = {}
        cached: list[str] = []
        retried: list[str] = []
        for s in ordered:
            grades = _load_cached(course, s, keys[s.student], known)
            if grades is not None:
                results[s.student] = grades
                cached.append(s.student)
        todo = [s for s in ordered if s.student not in results]
        bar = None if progress is False else Progress(len(ordered), progress or None, cached=len(cached))
        if bar:
            bar.done = len(cached)
        say(f"{len(ordered)} student(s) found, {len(cached)} unchanged since the last run, {len(todo)} to grade")
        if todo:
            env = course.env()
            if not sandbox:
                print("hwkit grade: WARNING: student code runs WITHOUT a sandbox (--unsandboxed)", file=sys.stderr)
            grader_mount = str(prepare_grader_mount(course.source, run_dir / "grader")) if sandbox else None
            say(f"preparing: registering {course.assignment} in the gradebook and in a scratch course "
                "(nbgrader generate_assignment, about half a minute)")
            _template(course, run_dir / "template", db_url, env)
            course.autograded.mkdir(exist_ok=True)
            context = get_context("spawn")
            workers = min(jobs, len(todo))
            say(f"starting {workers} grading worker(s)" + (", each with a sandbox whose kernels import numpy, "
                "PyTorch and matplotlib once (the first results take a minute)" if sandbox else ""))
            settings = WorkerSettings(str(run_dir), str(run_dir / "template"), timeout, workers, grader_mount, env,
                                      course.assignment, str(course.source), str(course.grader_tests),
                                      notebook_timeout)

            def finished(submission: Submission, result: dict) -> None:
                grades = [NotebookGrade(**g) for g in result["grades"]]
                if result.get("log"):
                    for g in grades:
                        g.problems.append("nbgrader could not grade the submission: " +
                                          result["log"].strip().splitlines()[-1][:300])
                        break
                _publish_student(course, result)
                merge_into_gradebook(db_url, course_id, course.assignment, result)
                if all(g.graded for g in grades):  # a notebook not graded is tried again next run
                    _store_cached(course, submission.student, keys[submission.student], grades, result["timings"])
                results[submission.student] = grades
                if on_result:
                    on_result(submission.student)
                if bar:
                    bar.update(submission.student, "" if all(g.graded for g in grades) else " (NOT GRADED)")

            # First every student in shared pools. A worker that dies (OOM-killed, crashed) breaks its
            # pool: the students it had not started yet go to a new pool, those that were being graded
            # (the culprit and whoever was in another worker at that moment) are retried afterwards,
            # each alone on a fresh worker, so a crash again costs only that student.
            queue, retry, failures = list(todo), [], {}
            while queue:
                started_dir = run_dir / "started"
                shutil.rmtree(started_dir, ignore_errors=True)
                started_dir.mkdir()
                failed = _grade_in_pool(queue, maxima, settings, context, min(workers, len(queue)), finished)
                begun = {unquote(p.name) for p in started_dir.iterdir()}
                stuck = len(failed) == len(queue) and not begun  # the pool broke before any student began
                for submission, exc in failed:
                    if stuck or submission.student in begun or not isinstance(exc, BrokenProcessPool):
                        failures[submission.student] = exc
                        retry.append(submission)
                queue = [submission for submission, _ in failed if submission.student not in failures]
            for submission in retry:
                failed = _grade_in_pool([submission], maxima, settings, context, 1, finished)
                retried.append(submission.student)
                if failed:
                    first, again = failures[submission.student], failed[0][1]
                    reason = (f"grading did not finish, twice (a grading worker crashed or was killed, e.g. out of "
                              f"memory: {_describe(first)}; retried on a fresh worker: {_describe(again)}); "
                              "run hwkit grade again")
                    grades = [NotebookGrade(submission.student, name, dict.fromkeys(m), dict(m)) for name, m in maxima.items()]
                    for g in grades:
                        g.mark_not_graded(reason)
                    results[submission.student] = grades  # nothing published, merged or cached
                    if bar:
                        bar.update(submission.student, " (NOT GRADED)")
    all_grades = [g for student in sorted(results) for g in results[student]]
    for s in ordered:
        if s.notes.get("*"):
            notes[s.student] = s.notes["*"]
    return GradeRun(all_grades, notes, cached=cached, seconds=time.monotonic() - started, sandboxed=bool(sandbox),
                    retried=retried)


def _announcer(progress: TextIO | None | bool) -> Callable[[str], None]:
    """Prints what grading is preparing, on stdout (nothing when progress is False): the first
    results take a minute, and a silent minute looks like a hang."""
    def say(line: str) -> None:
        if progress is not False:
            print(f"hwkit grade: {line}", flush=True)
    return say


def _grade_in_pool(submissions: list[Submission], maxima: dict, settings: WorkerSettings, context, workers: int,
                   finished: Callable[[Submission, dict], None]) -> list[tuple[Submission, BaseException]]:
    """Grade `submissions` in a new pool of `workers` processes; `finished` gets every result as it
    comes. Returns the students whose grading did not finish, with the exception."""
    failed = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker,
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
