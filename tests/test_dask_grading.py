"""`hwkit grade --scheduler`: Homework 0's class graded on a real Dask cluster (a `dask scheduler` and two `dask
worker` processes, each in its own working folder) gets the local pool's scores, feedback and gradebook; a worker
killed mid-student costs a retry of that student only; a student's sandbox cannot reach the scheduler.

The class: honest and mistaken work, two cheats of tests/hw0_corpus.py (one reads the instructor's notebook from
the course folder) and a probe that tries to connect to the scheduler's port from the student's cell.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook

from conftest import REPO, unless_available
from hw0_corpus import ASSIGNMENT, CORPUS, NOTEBOOK, POINTS, build_hw0_class, release_with
from hwkit.course import Course, copy_course_files
from hwkit.walls import available
from hwkit.worker import CRASH_FOR_ENV

pytestmark = [pytest.mark.slow, unless_available(available())]
CELL_TIMEOUT = 15
STUDENTS = ("reference", "wrong_answers", "patch_allclose", "read_instructor")
PROBE_STUDENT = "probe"
PROBE = """
import socket as _socket
try:
    _socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    print("SCHEDULER-REACHED")
except OSError as _error:
    print("SCHEDULER-UNREACHABLE", type(_error).__name__)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))


class Cluster:
    """A real `dask scheduler` and `dask worker` processes (one process, one thread each, own working folder)."""

    def __init__(self, tmp: Path, workers: int = 2, **worker_env: str):
        self.worker_env = worker_env
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        dask = str(Path(sys.executable).parent / "dask")
        self.scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                           "--no-dashboard"], cwd=tmp, env=_env(), stdout=subprocess.DEVNULL,
                                          stderr=open(tmp / "scheduler.log", "w"))
        self.workers: list[subprocess.Popen] = []
        self.folders: list[Path] = []
        for i in range(workers):
            self.add_worker(f"worker{i}")
        self.wait_for(workers)

    def add_worker(self, name: str) -> None:
        folder = self.tmp / name
        folder.mkdir()
        self.folders.append(folder)
        self.workers.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), "worker", self.address, "--nworkers", "1", "--nthreads", "1",
             "--local-directory", str(folder), "--no-dashboard", "--name", name],
            cwd=folder, env={**_env(), **self.worker_env}, stdout=subprocess.DEVNULL,
            stderr=open(folder / "worker.log", "w")))

    def wait_for(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(n, timeout=120)

    def grading_process(self, folder: Path) -> psutil.Process:
        """The worker process (the nanny's child) working in `folder`."""
        nanny = psutil.Process(self.workers[self.folders.index(folder)].pid)
        [worker] = [p for p in nanny.children() if "spawn_main" in " ".join(p.cmdline())]  # not the resource tracker
        return worker

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            proc.send_signal(signal.SIGINT)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _course(root: Path, port: int, students: tuple[str, ...] = STUDENTS) -> Course:
    copy_course_files(REPO, root)
    build_hw0_class(root)
    for student in CORPUS:
        if student not in students:
            (root / "submitted" / student / ASSIGNMENT / NOTEBOOK).unlink()
            (root / "submitted" / student / ASSIGNMENT).rmdir()
            (root / "submitted" / student).rmdir()
    probe = release_with(root, lambda grade_id, text: text + PROBE.format(port=port) if grade_id == "softmax" else text)
    (root / "submitted" / PROBE_STUDENT / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(probe, root / "submitted" / PROBE_STUDENT / ASSIGNMENT / NOTEBOOK)
    return Course.at(root, ASSIGNMENT)


def _hwkit(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(root), "grade", "--assignment",
                           ASSIGNMENT, "--timeout", str(CELL_TIMEOUT), *args], cwd=REPO, env=_env(),
                          capture_output=True, text=True)


def _gradebook(root: Path) -> dict:
    """Every record of the assignment in the course gradebook that a grade is read from."""
    table = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for nb in submission.notebooks:
                table[(submission.student_id, nb.name)] = (
                    nb.late_submission_penalty,
                    sorted((g.name, g.auto_score, g.needs_manual_grade) for g in nb.grades),
                    sorted((c.name, c.auto_comment) for c in nb.comments))
    return table


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _outputs(path: Path) -> list:
    """The executed notebook's outputs, cell by cell (what students and TAs read)."""
    nb = nbformat.read(path, as_version=4)
    return [[{k: v for k, v in out.items() if k != "execution_count"} for out in cell.get("outputs", [])]
            for cell in nb.cells]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The class graded by the local pool (--jobs 2), and a copy of it by the cluster (--scheduler)."""
    tmp = tmp_path_factory.mktemp("dask")
    cluster = Cluster(tmp)
    try:
        local, remote = _course(tmp / "local" / "course", cluster.port), _course(tmp / "remote" / "course",
                                                                                   cluster.port)
        started = time.monotonic()
        local_run = _hwkit(local.root, "--jobs", "2")
        local_seconds = time.monotonic() - started
        started = time.monotonic()
        remote_run = _hwkit(remote.root, "--scheduler", cluster.address)
        remote_seconds = time.monotonic() - started
        print(f"local pool {local_seconds:.0f} s, Dask {remote_seconds:.0f} s")
        worker_files = {path: path.read_bytes() for folder in cluster.folders for path in folder.rglob("*")
                        if path.is_file()}
        worker_cwds = {folder: cluster.grading_process(folder).cwd() for folder in cluster.folders}
        again = _hwkit(remote.root, "--scheduler", cluster.address)
        yield {"local": local, "remote": remote, "local_run": local_run, "remote_run": remote_run, "again": again,
               "worker_files": worker_files, "cluster": cluster, "worker_cwds": worker_cwds}
    finally:
        cluster.close()


def test_the_cluster_grades_as_the_local_pool(runs) -> None:
    """Same scores, same gradebook records, same autograded outputs and feedback pages."""
    for run in ("local_run", "remote_run"):
        assert runs[run].returncode == 0, runs[run].stdout[-3000:] + runs[run].stderr[-3000:]
    local, remote = runs["local"], runs["remote"]
    assert local.grades_csv.read_text() == remote.grades_csv.read_text()
    assert _gradebook(local.root) == _gradebook(remote.root)
    assert len(_gradebook(local.root)) == len(STUDENTS) + 1
    for student in (*STUDENTS, PROBE_STUDENT):
        name = Path(NOTEBOOK).stem
        assert (_outputs(local.autograded / student / ASSIGNMENT / NOTEBOOK)
                == _outputs(remote.autograded / student / ASSIGNMENT / NOTEBOOK)), student
        pages = _files(remote.feedback / student / ASSIGNMENT)
        assert pages == _files(local.feedback / student / ASSIGNMENT), student
        assert f"{name}.html" in pages and "index.html" in pages
    rows = remote.grades_csv.read_text()
    for student in STUDENTS:  # the expected scores themselves, not only agreement
        expected = CORPUS[student].expected("hwkit")
        line = next(r for r in rows.splitlines() if r.startswith(student + ","))
        assert f"{sum(expected.values()):g}" in line.split(","), (student, line)
    assert "17/17" in runs["remote_run"].stdout and "done per worker" in runs["remote_run"].stderr


def test_workers_never_see_the_course_folder(runs) -> None:
    """The workers ran in their own folders; nothing they hold names the course folder (no path was sent)."""
    remote = str(runs["remote"].root).encode()
    assert runs["worker_files"], "the workers kept the inputs they were sent"
    assert any(p.name == NOTEBOOK for p in runs["worker_files"]), "positive control: notebooks were graded there"
    for path, data in runs["worker_files"].items():
        assert remote not in data, path
    page = (runs["remote"].feedback / "read_instructor" / ASSIGNMENT / "index.html").read_text()
    assert "FileNotFoundError: the instructor" in page  # the cheat looked for the course folder, found nothing
    for folder, cwd in runs["worker_cwds"].items():
        assert cwd == str(folder), (folder, cwd)


def test_a_second_run_regrades_nobody(runs) -> None:
    assert runs["again"].returncode == 0, runs["again"].stderr[-3000:]
    assert f"{len(STUDENTS) + 1} unchanged since the last run" in runs["again"].stdout


def test_the_sandbox_cannot_reach_the_scheduler(runs) -> None:
    """The probe's cell printed that the scheduler's port is unreachable from the sandbox; the same code here, outside
    the sandbox, reaches it (positive control)."""
    outputs = str(_outputs(runs["remote"].autograded / PROBE_STUDENT / ASSIGNMENT / NOTEBOOK))
    assert "SCHEDULER-UNREACHABLE" in outputs and "SCHEDULER-REACHED" not in outputs, outputs[:2000]
    from contextlib import redirect_stdout
    from io import StringIO

    printed = StringIO()
    with redirect_stdout(printed):
        exec(PROBE.format(port=runs["cluster"].port), {})
    assert "SCHEDULER-REACHED" in printed.getvalue()


def test_a_killed_worker_costs_one_retry(tmp_path) -> None:
    """A Dask worker SIGKILLed while it grades a student: that student is graded again elsewhere (the nanny restarts
    the dead one), every student is graded, with the scores of the corpus."""
    from hwkit.grade import grade
    from hwkit.settings import GradingSettings

    cluster = Cluster(tmp_path)
    try:
        course = _course(tmp_path / "course", cluster.port)
        victim: dict[str, str] = {}

        def kill_first_started() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not victim:
                for folder in cluster.folders:
                    marks = list(folder.glob("**/hwkit-*/started/*"))
                    if marks:
                        time.sleep(1)  # mid-student: its notebook is running
                        victim["student"] = marks[0].name
                        cluster.grading_process(folder).kill()
                        return
                time.sleep(0.2)

        import threading

        killer = threading.Thread(target=kill_first_started, daemon=True)
        killer.start()
        run = grade(course, GradingSettings(cell_timeout=CELL_TIMEOUT, scheduler=cluster.address), progress=False)
        killer.join()
    finally:
        cluster.close()
    assert victim, "positive control: a worker was killed mid-student"
    assert run.retried == [victim["student"]], (run.retried, victim)
    assert run.not_graded() == {}
    by_student = run.by_student()
    assert set(by_student) == {*STUDENTS, PROBE_STUDENT}
    for student in STUDENTS:
        [grade_] = by_student[student]
        assert {q: grade_.scores[q] for q in POINTS} == CORPUS[student].expected("hwkit"), student


def test_no_scheduler_is_one_sentence(tmp_path) -> None:
    """--scheduler at an address where nothing listens: one sentence, exit 2, no traceback, nothing graded."""
    course = _course(tmp_path / "course", _free_port())
    done = _hwkit(course.root, "--scheduler", f"tcp://127.0.0.1:{_free_port()}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "no Dask scheduler answers at" in done.stderr and "Traceback" not in done.stderr
    assert not course.grades_csv.exists()


def test_a_student_that_kills_every_worker_is_not_graded(tmp_path) -> None:
    """Every worker that starts on one student dies (as if OOM-killed): tried on two workers, then NOT GRADED (no
    grade, not 0); the other student is graded."""
    from hwkit.grade import grade
    from hwkit.settings import GradingSettings

    cluster = Cluster(tmp_path, **{CRASH_FOR_ENV: "wrong_answers"})
    try:
        course = _course(tmp_path / "course", cluster.port, ("reference", "wrong_answers"))
        run = grade(course, GradingSettings(cell_timeout=CELL_TIMEOUT, scheduler=cluster.address), progress=False)
    finally:
        cluster.close()
    assert set(run.not_graded()) == {"wrong_answers"}, run.not_graded()
    assert "twice" in run.not_graded()["wrong_answers"] and "died" in run.not_graded()["wrong_answers"]
    [crashed] = run.by_student()["wrong_answers"]
    assert all(score is None for score in crashed.scores.values())
    [reference] = run.by_student()["reference"]
    assert reference.graded and reference.automatic == sum(POINTS.values())
    assert "wrong_answers" in run.retried
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:  # nothing recorded for it
        recorded = {s.student_id for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert "reference" in recorded and "wrong_answers" not in recorded, recorded


def test_a_node_without_the_walls_refuses(tmp_path) -> None:
    """A worker without bubblewrap on its PATH refuses to grade, naming itself and why; nothing is graded."""
    cluster = Cluster(tmp_path, workers=1, PATH=str(Path(sys.executable).parent))
    try:
        course = _course(tmp_path / "course", cluster.port, ("reference",))
        done = _hwkit(course.root, "--scheduler", cluster.address)
    finally:
        cluster.close()
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "the Dask worker tcp://127.0.0.1:" in done.stderr and "refuses to grade" in done.stderr
    assert "bubblewrap (bwrap) is not on PATH" in done.stderr and "Traceback" not in done.stderr
    assert not course.grades_csv.exists() and not list((course.autograded / ".hwkit-cache").glob("*/*.json"))


def test_a_lost_scheduler_keeps_what_was_graded(tmp_path) -> None:
    """The scheduler killed after the first student is recorded: one sentence, exit 2; that student is kept, and the
    next run (on a new cluster) grades only the rest."""
    cluster = Cluster(tmp_path / "first")
    course = _course(tmp_path / "course", cluster.port)
    cache = course.autograded / ".hwkit-cache" / ASSIGNMENT
    try:
        proc = subprocess.Popen([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), "grade",
                                 "--assignment", ASSIGNMENT, "--timeout", str(CELL_TIMEOUT), "--scheduler",
                                 cluster.address], cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and not list(cache.glob("*.json")) and proc.poll() is None:
            time.sleep(0.2)
        cluster.scheduler.kill()
        out, err = proc.communicate(timeout=300)
    finally:
        cluster.close()
    kept = {p.stem for p in cache.glob("*.json")}
    assert proc.returncode == 2, out[-2000:] + err[-2000:]
    assert "went away mid-run" in err and "Traceback" not in err, err[-2000:]
    assert 1 <= len(kept) < len(STUDENTS) + 1, kept
    again = Cluster(tmp_path / "second")
    try:
        done = _hwkit(course.root, "--scheduler", again.address)
    finally:
        again.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(kept)} unchanged since the last run" in done.stdout
