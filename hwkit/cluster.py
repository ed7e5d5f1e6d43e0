"""`hwkit grade --scheduler ADDRESS`: the class graded on a Dask distributed cluster instead of the local pool;
the instructor's side (cluster_node.py is the workers').

No shared filesystem: the course's grading inputs go once to every Dask worker inside the worker plugin, each
submission as bytes, each result comes back as data; no course path is sent. The instructor's process stays the
only writer of gradebook.db, the cache and the reports (record.Recorder gets every result as it comes).
Failures keep the local pool's rules: a student whose worker died is run again by the scheduler, the third
attempt gives up (NOT GRADED, never 0); a task that raised is submitted once more; a node that cannot wall
student code in stops the run, saying which and why; a lost scheduler ends the run (SchedulerLost) with every
student graded so far kept (gradebook, cache), so the next run resumes. A closing line says where the time
went (_Stats). Dask is imported only here and in cluster_node.py, only when a scheduler is named.
"""
from __future__ import annotations

import logging
import shutil
import time
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .course import Course
from .intake import Submission
from .record import Recorder
from .results import NotebookGrade

if TYPE_CHECKING:
    from distributed import Client

    from .worker import WorkerSettings

CONNECT_SECONDS = 20


class ClusterError(RuntimeError):
    """The cluster cannot grade (no scheduler, a node without walls, the scheduler gone): one sentence."""


class SchedulerLost(ClusterError):
    pass


def connect(address: str) -> Client:
    from distributed import Client

    # The client's own logs (reconnect attempts, with tracebacks) would bury hwkit's one sentence per failure.
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # dask's config sets some (distributed.client) itself
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no Dask scheduler answers at {address} ({type(error).__name__}): start one with "
                           "`dask scheduler` (see docs/cluster.md) or leave out --scheduler to grade here") from None


def grade_on_cluster(course: Course, settings: WorkerSettings, maxima: dict, todo: list[Submission],
                     recorder: Recorder, say) -> list[str]:
    """Grade `todo` on the cluster at settings.grading.scheduler; every result goes to `recorder` as it comes.
    Returns who was retried (their grading died once or raised once)."""
    from distributed import as_completed

    from .cluster_node import (
        ATTEMPTS_KEY,
        PLUGIN,
        STARTED_TOPIC,
        Abandoned,
        GradingNode,
        Refused,
        Task,
        grade_remote,
        shipment,
        unpack,
    )

    address = settings.grading.scheduler
    client = connect(address)
    run = uuid.uuid4().hex[:12]
    bar = recorder.bar
    retried: set[str] = set()
    scratch = Path(settings.run_dir) / "cluster"
    stats, begun = _Stats(), time.monotonic()
    try:
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        say(f"Dask scheduler {address}: {workers} worker(s) now; sending them the course's grading inputs")
        client.register_plugin(GradingNode(shipment(course, settings, maxima)), name=PLUGIN)

        if bar:
            client.subscribe_topic(STARTED_TOPIC, lambda event: bar.start(**event[1]))
        by_student = {s.student: s for s in todo}
        futures = as_completed(loop=client.loop)
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
                    recorder.not_graded(by_student[student], _not_graded(student, maxima, reason))
                else:
                    raised[student] = error
                    retried.add(student)
                    submit(by_student[student], attempt=1)
                continue
            if isinstance(outcome, Refused):
                raise ClusterError(f"the Dask worker {outcome.worker} on {outcome.host} refuses to grade: "
                                   f"{outcome.reason}")
            if isinstance(outcome, Abandoned):
                retried.add(student)
                reason = (f"grading did not finish, twice (the Dask worker grading it died: "
                          f"{', '.join(outcome.workers)}; a crash or the memory limit); run hwkit grade again")
                recorder.not_graded(by_student[student], _not_graded(student, maxima, reason))
                continue
            if outcome.attempt > 1:
                retried.add(student)
            mark = time.monotonic()
            folder = scratch / student
            shutil.rmtree(folder, ignore_errors=True)
            unpack(outcome.folders, folder)
            result = replace(outcome.result, autograded=str(folder / "autograded"), feedback=str(folder / "feedback"))
            stats.unpack += time.monotonic() - mark
            mark = time.monotonic()
            recorder.finished(by_student[student], result, worker=outcome.worker)
            stats.record += time.monotonic() - mark
            stats.add(outcome)
            shutil.rmtree(folder, ignore_errors=True)
        say(stats.line(time.monotonic() - begun))
    finally:
        if client.status == "running":
            client.set_metadata([ATTEMPTS_KEY, run], None)
        client.close()
    return sorted(retried)


@dataclass
class _Stats:
    """Where a cluster run's time went: the workers' grading and setup, the results' size, and this process's
    share (unpacking the results; recording them: publish, gradebook merge, cache)."""

    students: int = 0
    grading: float = 0.0
    setup: float = 0.0
    received: int = 0
    unpack: float = 0.0
    record: float = 0.0
    workers: set = field(default_factory=set)

    def add(self, graded) -> None:
        self.students += 1
        self.grading += graded.result.seconds
        self.setup += graded.setup
        self.received += len(graded.folders)
        self.workers.add(graded.worker)

    def line(self, seconds: float) -> str:
        per = 1000 / max(1, self.students)
        return (f"cluster: {self.students} student(s) on {len(self.workers)} worker(s) in {seconds:.1f} s; in the "
                f"workers: grading {self.grading:.1f} s, setup {self.setup:.1f} s; results {self.received / 1e6:.1f} "
                f"MB; here: unpacking {self.unpack:.2f} s, recording {self.record:.2f} s ({self.record * per:.0f} ms "
                "per student: publish, gradebook merge, cache)")


def _not_graded(student: str, maxima: dict, reason: str) -> list[NotebookGrade]:
    return [NotebookGrade.not_graded(student, name, m, reason) for name, m in maxima.items()]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"

