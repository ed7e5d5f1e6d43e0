"""What `hwkit grade` shows while it runs: what it is preparing, then a progress bar with an ETA (on a Dask
cluster also students running, retried, and done per worker); and
`inert`, how every console line of hwkit shows text a student controls (ids, file names, reasons
that quote an exception message)."""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO


def inert(text: object) -> str:
    """`text` with every character a terminal would act on shown as a Python escape (ESC as `\\x1b`,
    CR as `\\r`, newline as `\\n`; also C1 controls, line separators, bidi and zero-width format
    characters): a student's text cannot move the cursor, overwrite or forge a line (a score), set the
    clipboard (OSC 52) or reorder what the instructor reads. Newlines belong to hwkit's own layout only,
    so apply it to each field or line, never to a finished multi-line text."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class Progress:
    """A one-line progress bar with counts and an ETA (plain text when not on a terminal); on a cluster also who
    is running where, how many were retried, and each worker's count of students done."""

    def __init__(self, total: int, stream: TextIO | None = None, cached: int = 0):
        self.total, self.done, self.cached = total, 0, cached
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.running: dict[str, str] = {}  # student -> worker (cluster runs report starts)
        self.retried = 0
        self.per_worker: Counter[str] = Counter()
        self.lock = threading.Lock()  # starts arrive on the Dask client's thread

    def start(self, student: str, worker: str, attempt: int = 1) -> None:
        with self.lock:
            self.running[student] = worker
            self.retried += attempt > 1

    def update(self, student: str, note: str = "", worker: str | None = None) -> None:
        with self.lock:
            self.done += 1
            self.running.pop(student, None)
            if worker:
                self.per_worker[worker] += 1
            self._show(student + note)

    def _show(self, last: str) -> None:
        elapsed = time.monotonic() - self.started
        graded = self.done - self.cached  # the ETA from this run's pace, not the cache's
        eta = elapsed / graded * (self.total - self.done) if graded > 0 else 0.0
        width = 30
        filled = int(width * self.done / max(1, self.total))
        line = (f"grading [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} students"
                f" ({self.cached} unchanged, skipped)  elapsed {_clock(elapsed)}  ETA {_clock(eta)}")
        if self.per_worker or self.running:
            workers = ", ".join(f"{_short(w)} {n}" for w, n in sorted(self.per_worker.items()))
            line += f"  running {len(self.running)}, retried {self.retried}; done per worker: {workers}"
        line += f"  last: {inert(last)}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _short(worker: str) -> str:
    """tcp://10.0.0.5:40123 -> 10.0.0.5:40123"""
    return worker.split("://", 1)[-1]


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def announcer(progress: TextIO | None | bool) -> Callable[[str], None]:
    """Prints what grading is preparing, on stdout (nothing when progress is False): the first
    results take a minute, and a silent minute looks like a hang."""
    def say(line: str) -> None:
        if progress is not False:
            print(f"hwkit grade: {line}", flush=True)
    return say
