"""What `hwkit grade` shows while it runs: what it is preparing, then a progress bar with an ETA; and
`inert`, how every console line of hwkit shows text a student controls (ids, file names, reasons
that quote an exception message)."""
from __future__ import annotations

import sys
import time
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
                f" ({self.cached} unchanged, skipped)  elapsed {_clock(elapsed)}  ETA {_clock(eta)}"
                f"  last: {inert(student + note)}")
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


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
