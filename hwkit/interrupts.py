"""Ctrl-C during `hwkit grade`: the run stops within seconds, says how far it got, and leaves nothing half-done.

The grading workers ignore SIGINT (they start with it ignored); the parent, on KeyboardInterrupt, sends them
SIGTERM (each closes its sandboxes: the fork servers' atexit hooks, their folders in /tmp), SIGKILL after a few
seconds, and removes the scratch folder, with a second Ctrl-C ignored meanwhile. Recording one student (its
folders, the gradebook, the cache) is done whole before an interrupt is taken (`deferred_interrupt`).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path


def stop_worker(signum: int, frame) -> None:
    """SIGTERM from the parent (an interrupted run): close the sandboxes (their atexit hooks: fork servers,
    their folders in /tmp), then go, without the pool's own handling of a task that raised."""
    atexit._run_exitfuncs()
    os._exit(128 + signum)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run after `graded` students were recorded (the next run goes on from there)."""

    def __init__(self, graded: int):
        super().__init__(f"interrupted: {graded} graded")
        self.graded = graded


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Ctrl-C waits until the block is done (a student recorded in part would be trusted by the next run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


@contextmanager
def interrupts_ignored() -> Iterator[None]:
    """While stopping: a second Ctrl-C must not cut the clean-up short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def remove_folder(folder: Path) -> None:
    """The scratch folder, whatever a stopping process still wrote into it for a moment."""
    for _ in range(20):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.25)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """SIGTERM every worker (each closes its sandboxes), SIGKILL what is left after a few seconds."""
    processes = list((pool._processes or {}).values())  # the executor has no public handle on its workers
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + 5
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5)
    pool.shutdown(wait=True, cancel_futures=True)
