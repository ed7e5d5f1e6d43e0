"""`hwkit grade --scheduler ADDRESS`: the class graded on a Dask distributed cluster instead of the local pool.

* No shared filesystem: the course's grading inputs (the scratch course template with source/<assignment>,
  nbgrader_config.py and its gradebook, and grader_tests/) travel once per Dask worker as one tar inside the
  worker plugin `GradingNode`; each submission travels as bytes (`Task`); each result comes back as data
  (`Graded`: the StudentResult and a tar of its autograded/ and feedback/ folders). No course path is sent.
* Each Dask worker process is one grading worker (worker.py): the plugin unpacks the inputs into the worker's
  own local directory; the first student sets up the scratch nbgrader course and the warm fork server, kept
  for every later one. A lock grades one student at a time per process (nbgrader and its gradebook are never
  shared between threads; scale with `dask worker --nworkers`, not `--nthreads`).
* Walls on every node: a worker without bubblewrap and writable cgroups (grade.require_sandbox), or running
  other grading code than the instructor's, answers `Refused` (its address, host and why) and the run stops.
* Failures keep the local pool's rules: a task whose worker died is run again by the scheduler; each attempt
  counts itself in a Dask `Variable` on the scheduler, and the third one gives up (`Abandoned`: NOT GRADED,
  never 0). A task that raised is submitted once more. A lost scheduler ends the run (SchedulerLost) with
  every student graded so far kept (gradebook, cache): the next run resumes.
* The instructor's process stays the only writer of gradebook.db, the cache and the reports (grade._Recorder).
"""
from __future__ import annotations

import hashlib
import io
import shutil
import socket
import tarfile
import threading
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from distributed import Client, Variable, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from .cache import GRADING_CODE
from .course import Course
from .intake import Submission
from .results import NotebookGrade, StudentResult
from .settings import GradingSettings

if TYPE_CHECKING:
    from .grade import _Recorder
    from .worker import WorkerSettings

PLUGIN = "hwkit-grading"
STARTED_TOPIC = "hwkit-started"  # a student began on a worker: (student, worker, attempt), for the progress bar
ATTEMPTS = 2  # a student whose grading died twice is NOT GRADED
CONNECT_SECONDS = 20


class ClusterError(RuntimeError):
    """The cluster cannot grade (no scheduler, a node without walls, the scheduler gone): one sentence."""


class SchedulerLost(ClusterError):
    pass


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


def _pack(folders: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, folder in folders.items():
            if Path(folder).exists():
                tar.add(folder, arcname=name, filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


def _unpack(data: bytes, target: Path) -> None:
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
        from .grade import SandboxUnavailable, require_sandbox

        self.lock = threading.Lock()
        self.address, self.host = worker.address, socket.gethostname()
        self.refusal: str | None = None
        self.settings: WorkerSettings | None = None
        self.root = Path(worker.local_directory) / f"hwkit-{uuid.uuid4().hex[:8]}"
        try:
            if self.shipment.grading.sandbox:
                require_sandbox()
            if code_digest() != self.shipment.code:
                raise SandboxUnavailable("this node runs other hwkit grading code than the instructor's: "
                                         "install the same hwkit version on every node")
        except SandboxUnavailable as why:
            self.refusal = str(why)
            return
        _unpack(self.shipment.inputs, self.root)

    def teardown(self, worker) -> None:
        shutil.rmtree(getattr(self, "root", ""), ignore_errors=True)

    def grading_worker(self) -> WorkerSettings:
        """This process's grading worker, set up on first use (worker.init_worker, in the task's thread)."""
        if self.settings is None:
            from .grade import _init_walled_worker
            from .walls import prepare_grader_mount
            from .worker import WorkerSettings

            course = Course(self.root / "template", self.shipment.assignment)
            grading = self.shipment.grading
            (self.root / "started").mkdir(exist_ok=True)
            mount = str(prepare_grader_mount(course.source, self.root / "grader")) if grading.sandbox else None
            self.settings = WorkerSettings(str(self.root), str(course.root), _workers_on_host(), mount, course.env(),
                                           course.assignment, str(course.source), str(course.grader_tests), grading)
            _init_walled_worker(self.settings)
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
    """The workers of every attempt at this student so far, this one last (kept on the scheduler: a worker that
    died took its memory with it)."""
    counter = Variable(f"hwkit-{task.run}-{task.student}")
    try:
        workers = list(counter.get(timeout=0.001))
    except TimeoutError:
        workers = []
    workers.append(address)
    counter.set(workers)
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
        settings = node.grading_worker()
        folder = Path(settings.run_dir) / "incoming" / task.student
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        notebooks = {}
        for name, data in task.notebooks.items():
            (folder / name).write_bytes(data)
            notebooks[name] = folder / name
        submission = Submission(task.student, notebooks, task.notes, task.timestamp)
        result = grade_student(submission, node.shipment.maxima)
        folders = _pack({"autograded": Path(result.autograded), "feedback": Path(result.feedback)})
        shutil.rmtree(folder, ignore_errors=True)
    return Graded(replace(result, autograded="", feedback=""), folders, worker.address, len(attempts))


def shipment(course: Course, settings: WorkerSettings, maxima: dict) -> Shipment:
    """The inputs every worker needs, from the template the instructor's process built (grade._template)."""
    buffer = _pack({"template": Path(settings.template), "template/grader_tests": course.grader_tests})
    return Shipment(course.assignment, buffer, settings.grading, maxima, code_digest())


def connect(address: str) -> Client:
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no Dask scheduler answers at {address} ({type(error).__name__}): start one with "
                           "`dask scheduler` (see docs/cluster.md) or leave out --scheduler to grade here") from None


def grade_on_cluster(course: Course, settings: WorkerSettings, maxima: dict, todo: list[Submission],
                     recorder: _Recorder, say) -> list[str]:
    """Grade `todo` on the cluster at settings.grading.scheduler; every result goes to `recorder` as it comes.
    Returns who was retried (their grading died once or raised once)."""
    address = settings.grading.scheduler
    client = connect(address)
    run = uuid.uuid4().hex[:12]
    bar = recorder.bar
    retried: set[str] = set()
    scratch = Path(settings.run_dir) / "cluster"
    try:
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        say(f"Dask scheduler {address}: {workers} worker(s) now; sending them the course's grading inputs")
        client.register_plugin(GradingNode(shipment(course, settings, maxima)), name=PLUGIN)

        def started(event) -> None:
            message = event[1]
            if message["attempt"] > 1:
                retried.add(message["student"])
            if bar:
                bar.start(message["student"], message["worker"], message["attempt"])

        client.subscribe_topic(STARTED_TOPIC, started)
        by_student = {s.student: s for s in todo}
        futures = as_completed()
        raised: dict[str, BaseException] = {}
        student_of: dict[str, str] = {}

        def submit(submission: Submission, attempt: int = 0) -> None:
            future = client.submit(grade_remote, Task.of(run, submission), pure=False,
                                   key=f"hwkit-{run}-{attempt}-{submission.student}")
            student_of[future.key] = submission.student
            futures.add(future)

        for submission in todo:
            submit(submission)
        for future in futures:
            student = student_of[future.key]
            try:
                outcome = future.result()
            except CancelledError:
                raise SchedulerLost(f"the Dask scheduler at {address} went away mid-run; the students graded so far "
                                    "are recorded and kept: run hwkit grade again to grade the rest") from None
            except Exception as error:  # noqa: BLE001 - the worker raised, or the scheduler gave up on it
                if student in raised:
                    reason = (f"grading did not finish, twice on the Dask cluster ({_describe(raised[student])}; "
                              f"then {_describe(error)}); run hwkit grade again")
                    recorder.not_graded(student, _not_graded(student, maxima, reason))
                else:
                    raised[student] = error
                    retried.add(student)
                    submit(by_student[student], attempt=1)
                continue
            if isinstance(outcome, Refused):
                raise ClusterError(f"the Dask worker {outcome.worker} on {outcome.host} refuses to grade: "
                                   f"{outcome.reason}")
            if isinstance(outcome, Abandoned):
                reason = (f"grading did not finish, twice (the Dask worker grading it died: "
                          f"{', '.join(outcome.workers)}; a crash or the memory limit); run hwkit grade again")
                recorder.not_graded(student, _not_graded(student, maxima, reason))
                continue
            folder = scratch / student
            shutil.rmtree(folder, ignore_errors=True)
            _unpack(outcome.folders, folder)
            result = replace(outcome.result, autograded=str(folder / "autograded"), feedback=str(folder / "feedback"))
            recorder.finished(by_student[student], result, worker=outcome.worker)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        for student in [s.student for s in todo]:
            if client.status == "running":
                Variable(f"hwkit-{run}-{student}", client=client).delete()
        client.close()
    return sorted(retried)


def _not_graded(student: str, maxima: dict, reason: str) -> list[NotebookGrade]:
    return [NotebookGrade.not_graded(student, name, m, reason) for name, m in maxima.items()]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"

