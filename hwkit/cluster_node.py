"""A Dask worker's side of `hwkit grade --scheduler` (cluster.py is the instructor's): the worker plugin that
makes each Dask worker process one grading worker (worker.py), the task that grades one student, and the typed
data that travel between them.

* `GradingNode` arrives once per worker with the course's grading inputs (`Shipment`: the scratch course
  template, with source/<assignment>, nbgrader_config.py, its gradebook, and grader_tests/, as one tar) and
  unpacks them into the worker's own local directory; the first student sets up the scratch nbgrader course and
  the warm fork server, kept for every later one. A lock grades one student at a time per process (nbgrader and
  its gradebook are never shared between threads: scale with `dask worker --nworkers`, not `--nthreads`).
* Walls on every node: without bubblewrap and writable cgroups (walls.available, as grade.require_sandbox), or
  with other grading code than the instructor's, every task answers `Refused` (address, host, why).
* `grade_remote` counts its attempt in the scheduler's metadata (there: a worker that died took its memory
  with it); the third attempt at a student gives up (`Abandoned`). A submission arrives as bytes (`Task`), the
  result leaves as data (`Graded`: the StudentResult and a tar of the autograded and feedback folders).
"""
from __future__ import annotations

import hashlib
import io
import shutil
import socket
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from .cache import GRADING_CODE
from .course import Course
from .intake import Submission
from .results import StudentResult
from .settings import GradingSettings

if TYPE_CHECKING:
    from .worker import WorkerSettings

PLUGIN = "hwkit-grading"
STARTED_TOPIC = "hwkit-started"  # a student began on a worker: (student, worker, attempt), for the progress bar
ATTEMPTS = 2  # a student whose grading died twice is NOT GRADED
ATTEMPTS_KEY = "hwkit-attempts"  # scheduler metadata: run -> student -> the workers of each attempt


@dataclass(frozen=True)
class Shipment:
    """What every Dask worker is sent once, inside the plugin."""

    assignment: str
    inputs: bytes  # tar.gz: template/ (scratch course: nbgrader_config.py, source/<assignment>, gradebook.db,
    #                grader_tests/)
    grading: GradingSettings
    maxima: dict[str, dict[str, float]]
    code: str  # digest of the instructor's grading code: a worker running other code refuses


@dataclass(frozen=True)
class Task:
    """One student's submission as bytes."""

    run: str  # this run's id (names its attempt counters)
    student: str
    notebooks: dict[str, bytes]  # expected name -> the file handed in
    notes: dict[str, list[str]] = field(default_factory=dict)
    timestamp: str | None = None

    @classmethod
    def of(cls, run: str, submission: Submission) -> Task:
        return cls(run, submission.student, {name: path.read_bytes() for name, path in submission.notebooks.items()},
                   submission.notes, submission.timestamp)


@dataclass(frozen=True)
class Graded:
    result: StudentResult  # its autograded/feedback paths are the worker's: replaced by `folders` at the instructor
    folders: bytes  # tar.gz of autograded/ and feedback/ (the student's, as the worker wrote them)
    worker: str
    attempt: int
    setup: float = 0.0  # seconds this task spent setting up the worker's grading worker (its first student)


@dataclass(frozen=True)
class Abandoned:
    """Grading this student died on `workers` (each attempt's worker): no more attempts."""

    student: str
    workers: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    """This worker cannot grade (no sandbox, other grading code)."""

    worker: str
    host: str
    reason: str


def code_digest() -> str:
    digest = hashlib.sha256()
    for module in GRADING_CODE:
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def pack(folders: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, folder in folders.items():
            if Path(folder).exists():
                tar.add(folder, arcname=name, filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


def unpack(data: bytes, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(target, filter="data")


class GradingNode(WorkerPlugin):
    """One grading worker per Dask worker process: the course inputs unpacked into the worker's local directory
    at setup; the scratch course and warm fork server set up by the first student, kept for the next."""

    idempotent = False  # registered again by the next run: its inputs replace these

    def __init__(self, shipment: Shipment):
        self.shipment = shipment

    def setup(self, worker) -> None:
        from .walls import available

        self.lock = threading.Lock()
        self.address, self.host = worker.address, socket.gethostname()
        self.refusal: str | None = None
        self.settings: WorkerSettings | None = None
        self.root = Path(worker.local_directory) / f"hwkit-{uuid.uuid4().hex[:8]}"
        why = available() if self.shipment.grading.sandbox else None
        if why is not None:
            self.refusal = f"student code cannot be sandboxed here: {why}"
        elif code_digest() != self.shipment.code:
            self.refusal = "this node runs other hwkit grading code than the instructor's: install the same everywhere"
        if self.refusal:
            return
        unpack(self.shipment.inputs, self.root)

    def teardown(self, worker) -> None:
        """Replaced by the next run's plugin (or the worker closes): this run's fork server and folder go."""
        from .forkserver import close_servers_under

        if hasattr(self, "root"):  # set up: this run's fork servers and folder go
            close_servers_under(Path(self.root))
            shutil.rmtree(self.root, ignore_errors=True)

    def grading_worker(self) -> WorkerSettings:
        """This process's grading worker, set up on first use (worker.init_worker, in the task's thread)."""
        if self.settings is None:
            from .walls import prepare_grader_mount
            from .worker import WorkerSettings, init_worker, limit_worker_memory

            course = Course(self.root / "template", self.shipment.assignment)
            grading = self.shipment.grading
            (self.root / "started").mkdir(exist_ok=True)
            mount = str(prepare_grader_mount(course.source, self.root / "grader")) if grading.sandbox else None
            self.settings = WorkerSettings(str(self.root), str(course.root), _workers_on_host(), mount, course.env(),
                                           course.assignment, str(course.source), str(course.grader_tests), grading)
            limit_worker_memory(grading.worker_memory_mb)
            init_worker(self.settings)
        return self.settings


def _workers_on_host() -> int:
    """Dask workers on this machine (they share its cores, as the local pool's workers do)."""
    worker = get_worker()
    me = worker.address.rsplit(":", 1)[0]
    try:
        workers = worker.client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(1 for address in workers if address.rsplit(":", 1)[0] == me))
    except Exception:  # noqa: BLE001 - an estimate only
        return 1


def _count_attempt(task: Task, address: str) -> list[str]:
    """The workers of every attempt at this student so far, this one last (kept in the scheduler's metadata: a
    worker that died took its memory with it)."""
    client, key = get_worker().client, [ATTEMPTS_KEY, task.run, task.student]
    workers = [*client.get_metadata(key, default=[]), address]
    client.set_metadata(key, workers)
    return workers


def grade_remote(task: Task) -> Graded | Abandoned | Refused:
    """The Dask task: one student graded by this worker process's grading worker."""
    from .worker import grade_student

    worker = get_worker()
    node: GradingNode = worker.plugins[PLUGIN]
    if node.refusal:
        return Refused(worker.address, node.host, node.refusal)
    attempts = _count_attempt(task, worker.address)
    if len(attempts) > ATTEMPTS:
        return Abandoned(task.student, tuple(attempts[:-1]))
    worker.log_event(STARTED_TOPIC, {"student": task.student, "worker": worker.address, "attempt": len(attempts)})
    with node.lock:
        started = time.monotonic()
        settings = node.grading_worker()
        setup = time.monotonic() - started
        folder = Path(settings.run_dir) / "incoming" / task.student
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        notebooks = {}
        for name, data in task.notebooks.items():
            (folder / name).write_bytes(data)
            notebooks[name] = folder / name
        submission = Submission(task.student, notebooks, task.notes, task.timestamp)
        result = grade_student(submission, node.shipment.maxima)
        folders = pack({"autograded": Path(result.autograded), "feedback": Path(result.feedback)})
        shutil.rmtree(folder, ignore_errors=True)
    return Graded(replace(result, autograded="", feedback=""), folders, worker.address, len(attempts), setup)


def shipment(course: Course, settings: WorkerSettings, maxima: dict) -> Shipment:
    """The inputs every worker needs, from the template the instructor's process built (grade._template)."""
    buffer = pack({"template": Path(settings.template), "template/grader_tests": course.grader_tests})
    return Shipment(course.assignment, buffer, settings.grading, maxima, code_digest())
