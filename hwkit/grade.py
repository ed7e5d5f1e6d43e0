"""`hwkit grade`: autograde a whole class with nbgrader, in parallel, student code sandboxed.

* Intake: submitted/<student>/hw1/ folders or an LMS archive (see intake.py); unreadable
  notebooks are reported and left out, so the rest of that student's work and every other
  student are still graded. Nothing under submitted/ is ever written.
* `jobs` worker processes (default: one per core), each with its own scratch nbgrader course,
  run nbgrader's Autograde + GenerateFeedback in-process for one student after another; the
  kernels run in a bubblewrap sandbox (sandbox.py), so student code cannot read source/, the
  grader tests beyond hw1_hidden, other students' work, or write any grade file.
* The parent merges every finished student into the course: autograded/<student>/,
  feedback/<student>/ and the course gradebook.db (through nbgrader's Gradebook API, which
  keeps manual grades), then records the result in autograded/.hwkit-cache/<student>.json,
  keyed by a hash of the submission, source/, grader_tests/ and the grading settings. A
  killed run resumes where it stopped; grading twice regrades nothing.
* `prepare_scratch` + `autograde` below are plain serial `nbgrader autograde` (benchmarks).
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
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, TextIO

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .course import Course, nbgrader
from .intake import Submission, collect, collect_archive
from .notebooks import error_messages, grade_cells, read_notebook


@dataclass
class NotebookGrade:
    """Points of one student's notebook per graded cell, and what went wrong."""

    student: str
    notebook: str
    scores: dict[str, float | None]  # None: waits for a human grader
    max_scores: dict[str, float]
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s or 0.0 for s in self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())


@dataclass
class GradeRun:
    grades: list[NotebookGrade]
    notes: dict[str, list[str]]  # student -> notes not tied to a notebook

    cached: list[str] = field(default_factory=list)  # students whose earlier result was reused
    seconds: float = 0.0

    def students(self) -> list[str]:
        return sorted({g.student for g in self.grades})


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


def prepare_scratch(course: Course, scratch: Path, submissions: list[Submission]) -> None:
    """A throwaway course: config, source, grader tests, gradebook and copies of the notebooks."""
    shutil.copy(course.root / "nbgrader_config.py", scratch)
    shutil.copytree(course.source, scratch / "source" / course.assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(course.grader_tests, scratch / "grader_tests", ignore=shutil.ignore_patterns("__pycache__"))
    for submission in submissions:
        target = scratch / "submitted" / submission.student / course.assignment
        target.mkdir(parents=True)
        for name, path in submission.notebooks.items():
            shutil.copyfile(path, target / name)  # under the expected name, even if renamed


def autograde(scratch: Path, course: Course, timeout: int) -> str:
    """Register the assignment from source/ and autograde every submission in `scratch`."""
    env = course.env()
    setup = nbgrader(scratch, "generate_assignment", course.assignment, "--force", env=env)
    if setup.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed in the scratch course:\n{setup.stderr}")
    done = nbgrader(scratch, "autograde", course.assignment, "--force", f"--Execute.timeout={timeout}", env=env)
    feedback = nbgrader(scratch, "generate_feedback", course.assignment, "--force", env=env)
    return done.stdout + done.stderr + feedback.stderr


def harvest(scratch: Path, course: Course, submission: Submission, maxima: dict[str, dict[str, float]]) -> list[NotebookGrade]:
    """Scores of one student's notebooks from the scratch gradebook, with reasons for lost points."""
    grades = []
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        for name, cell_max in maxima.items():
            grade = NotebookGrade(submission.student, name, dict.fromkeys(cell_max, 0.0), dict(cell_max),
                                  list(submission.notes.get(name, [])))
            executed = scratch / "autograded" / submission.student / course.assignment / name
            if name in submission.notebooks:
                if not executed.exists():
                    grade.problems.append(f"{name} could not be executed (the kernel died or nbgrader failed): 0 points")
                else:
                    _fill_scores(gradebook, grade, course, executed)
            grades.append(grade)
    return grades


def _fill_scores(gradebook: Gradebook, grade: NotebookGrade, course: Course, executed: Path) -> None:
    try:
        notebook = gradebook.find_submission_notebook(Path(grade.notebook).stem, course.assignment, grade.student)
    except MissingEntry:
        grade.problems.append(f"{grade.notebook} has no grades in the gradebook: 0 points")
        return
    for cell_grade in notebook.grades:
        if cell_grade.name not in grade.max_scores:
            continue
        # Written answers wait for a TA (None) until graded in formgrader.
        grade.scores[cell_grade.name] = None if cell_grade.needs_manual_grade else float(cell_grade.score or 0)
    executed_nb = nbformat.read(executed, as_version=4)
    for grade_id, score in grade.scores.items():
        if score is not None and score < grade.max_scores[grade_id]:
            reason = "; ".join(error_messages(executed_nb, grade_id)) or "the test cell wrote to stderr or did not run"
            grade.problems.append(f"{grade_id}: {reason}")
    if any(score is not None and score < grade.max_scores[q] for q, score in grade.scores.items()):
        # errors in the student's own cells explain failing tests (a loop, an exit, a memory limit, ...)
        errors = []
        for index, cell in enumerate(executed_nb.cells):
            cell_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell_id in grade.scores or cell.cell_type != "code":
                continue
            for output in cell.get("outputs", []):
                if output.output_type == "error" and output.ename != "NotRun":
                    errors.append(f"error in cell {cell_id or index + 1}: {output.ename}: {str(output.evalue)[:300]}")
        grade.problems.extend(errors[:5] + ([f"... and {len(errors) - 5} more cells with errors"] if len(errors) > 5 else []))


# ---- the class-grading pipeline -------------------------------------------------------------
CACHE_VERSION = "hwkit-grade-2"
HASH_IGNORE = ("__pycache__", ".ipynb_checkpoints", ".pyc")


def _tree_digest(folder: Path, digest) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in HASH_IGNORE or path.name.endswith(".pyc") for part in path.parts):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")


def course_fingerprint(course: Course, timeout: int) -> str:
    """Everything besides the submission that decides a grade: source/, grader_tests/, config, settings."""
    digest = hashlib.sha256(f"{CACHE_VERSION}\0{course.assignment}\0{timeout}\0".encode())
    _tree_digest(course.source, digest)
    if course.grader_tests.is_dir():
        _tree_digest(course.grader_tests, digest)
    digest.update((course.root / "nbgrader_config.py").read_bytes())
    for module in ("grade.py", "worker.py", "sandbox.py", "forkserver.py", "kernel_forkserver.py", "feedback.py",
                   "notebooks.py", "intake.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
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


def _store_cached(course: Course, student: str, key: str, grades: list[NotebookGrade]) -> None:
    path = _cache_path(course, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "grades": [asdict(g) for g in grades]}, indent=1))
    os.replace(tmp, path)  # atomic: a killed run leaves either the old record or the new one


def harvest_gradebook(scratch: Path, assignment: str, submission: Submission,
                      maxima: dict[str, dict[str, float]]) -> dict:
    """Scores (with reasons) and the raw gradebook records of one student in a scratch course."""
    course = Course(scratch, assignment)
    records: dict[str, dict] = {}
    timestamp = None
    db = scratch / "gradebook.db"
    grades = []
    with Gradebook(f"sqlite:///{db}") as gradebook:
        try:
            sub = gradebook.find_submission(assignment, submission.student)
            timestamp = sub.timestamp.isoformat() if sub.timestamp else None
        except MissingEntry:
            sub = None
        for name, cell_max in maxima.items():
            grade = NotebookGrade(submission.student, name, dict.fromkeys(cell_max, 0.0), dict(cell_max),
                                  list(submission.notes.get(name, [])))
            executed = scratch / "autograded" / submission.student / assignment / name
            if name in submission.notebooks:
                if not executed.exists() or sub is None:
                    grade.problems.append(f"{name} could not be executed (nbgrader failed on it): 0 points")
                else:
                    _fill_scores(gradebook, grade, course, executed)
                    nb = gradebook.find_submission_notebook(Path(name).stem, assignment, submission.student)
                    records[Path(name).stem] = {
                        "late_submission_penalty": nb.late_submission_penalty,
                        "grades": {g.name: [g.auto_score, g.needs_manual_grade] for g in nb.grades},
                        "comments": {c.name: c.auto_comment for c in nb.comments}}
            grades.append(grade)
    return {"student": submission.student, "grades": [asdict(g) for g in grades], "notebooks": records,
            "timestamp": timestamp}


def merge_into_gradebook(db_url: str, course_id: str, assignment: str, result: dict) -> None:
    """Write one student's autograde results into the course gradebook with nbgrader's API.

    Notebooks that were not graded (missing or unreadable) get 0 automatic points, as nbgrader
    gives a missing notebook; a manual score already there is kept and flagged for review."""
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gradebook:
        warnings.simplefilter("ignore")  # SQLAlchemy chatter from nbgrader's add_submission
        gradebook.update_or_create_student(result["student"])
        extra = {"timestamp": result["timestamp"]} if result["timestamp"] else {}
        submission = gradebook.update_or_create_submission(assignment, result["student"], **extra)
        for notebook in submission.notebooks:
            record = result["notebooks"].get(notebook.name)
            for cell_grade in notebook.grades:
                if record and cell_grade.name in record["grades"]:
                    cell_grade.auto_score, needs = record["grades"][cell_grade.name]
                else:
                    cell_grade.auto_score, needs = 0.0, False
                cell_grade.needs_manual_grade = bool(needs or cell_grade.manual_score is not None)
            for comment in notebook.comments:
                comment.auto_comment = (record or {}).get("comments", {}).get(comment.name)
            notebook.late_submission_penalty = (record or {}).get("late_submission_penalty")
        gradebook.db.commit()


def _gradebook_students(db_url: str, assignment: str) -> set[str]:
    try:
        with Gradebook(db_url) as gradebook:
            return {s.student.id for s in gradebook.find_assignment(assignment).submissions}
    except MissingEntry:
        return set()


def _course_settings(course: Course) -> tuple[str, str]:
    """(course_id, db_url) from the course's nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
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


def grade(course: Course, timeout: int = 20, jobs: int | None = None, archive: Path | None = None,
          archive_regex: str | None = None, progress: TextIO | None | bool = None,
          sandbox: bool | None = None, on_result: Callable[[str], None] | None = None) -> GradeRun:
    """Autograde every submission; write autograded/, feedback/ and the gradebook of `course`.

    jobs: parallel workers (default: number of cores). archive: an LMS download zip, graded
    instead of submitted/ for the students it holds. sandbox: None = bubblewrap when available.
    progress: a stream for the progress bar (default stderr), False for none.
    """
    from .sandbox import available, prepare_grader_mount

    started = time.monotonic()
    jobs = max(1, jobs or os.cpu_count() or 1)
    maxima = max_scores(course)
    fingerprint = course_fingerprint(course, timeout)
    course_id, db_url = _course_settings(course)
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
        keys = {s.student: submission_key(s, fingerprint) for s in ordered}
        known = _gradebook_students(db_url, course.assignment)
        results: dict[str, list[NotebookGrade]] = {}
        cached = []
        for s in ordered:
            grades = _load_cached(course, s, keys[s.student], known)
            if grades is not None:
                results[s.student] = grades
                cached.append(s.student)
        todo = [s for s in ordered if s.student not in results]
        bar = None if progress is False else Progress(len(ordered), progress or None, cached=len(cached))
        if bar:
            bar.done = len(cached)
        if todo:
            env = course.env()
            use_sandbox = sandbox if sandbox is not None else available() is None
            if use_sandbox and available():
                raise RuntimeError(available())
            if not use_sandbox:
                print("hwkit grade: WARNING: student code runs without a sandbox "
                      f"({available() or 'disabled'})", file=sys.stderr)
            grader_mount = str(prepare_grader_mount(course.source, course.grader_tests, run_dir / "grader")) \
                if use_sandbox else None
            _template(course, run_dir / "template", db_url, env)
            course.autograded.mkdir(exist_ok=True)
            context = get_context("spawn")
            workers = min(jobs, len(todo))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                     initargs=(str(run_dir), str(run_dir / "template"), timeout, workers,
                                               grader_mount, env, course.assignment)) as pool:
                futures = {pool.submit(_grade_student, s, maxima): s for s in todo}
                for future in as_completed(futures):
                    submission = futures[future]
                    try:
                        result = future.result()
                    except Exception as exc:  # a worker crashed: this student is retried next run
                        grades = [NotebookGrade(submission.student, name, dict.fromkeys(m, 0.0), dict(m),
                                                [f"grading failed ({type(exc).__name__}: {exc}); run hwkit grade again"])
                                  for name, m in maxima.items()]
                        results[submission.student] = grades
                        if bar:
                            bar.update(submission.student, " (FAILED)")
                        continue
                    grades = [NotebookGrade(**g) for g in result["grades"]]
                    if result.get("log"):
                        for g in grades:
                            g.problems.append("nbgrader could not grade the submission: " +
                                              result["log"].strip().splitlines()[-1][:300])
                            break
                    _publish_student(course, result)
                    merge_into_gradebook(db_url, course_id, course.assignment, result)
                    _store_cached(course, submission.student, keys[submission.student], grades)
                    results[submission.student] = grades
                    if on_result:
                        on_result(submission.student)
                    if bar:
                        bar.update(submission.student)
    all_grades = [g for student in sorted(results) for g in results[student]]
    for s in ordered:
        if s.notes.get("*"):
            notes[s.student] = s.notes["*"]
    return GradeRun(all_grades, notes, cached=cached, seconds=time.monotonic() - started)


def _init_worker(*args) -> None:
    from .worker import init_worker

    init_worker(*args)


def _grade_student(submission: Submission, maxima: dict[str, dict[str, float]]) -> dict:
    from .worker import grade_student

    return grade_student(submission, maxima)
