"""The judge's end of its observer (observer.py, in the student's sandbox): starting one (forked in the
worker's sandbox, or a plain subprocess for build verification), and the Unix socket it connects to:
one message per line, in the plain-data wire format (wire.py), each read with a deadline.
Whatever the student's process does to the socket (silence, garbage, a flood) ends in ObserverGone;
stopping an observer ends every process it started."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any


class ObserverGone(Exception):
    """The student's process stopped answering (or sent what cannot be read). `timed_out`: it said
    nothing before the deadline (rather than hanging up)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class ObserverNotStarted(Exception):
    """The grading machinery could not start an observer (no fault of the student's)."""


class Connection:
    """The judge's end of the socket the observer connects to: JSON lines with deadlines."""

    def __init__(self, path: Path, wire: ModuleType):
        self.path, self.wire = path, wire
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def accept(self, timeout: float) -> None:
        self.listener.settimeout(timeout)
        try:
            self.sock, _ = self.listener.accept()
        except OSError as exc:
            raise ObserverNotStarted("the checking process did not start") from exc

    def send(self, message: dict) -> None:
        try:
            self.sock.sendall((self.wire.dumps(message) + "\n").encode())
        except OSError as exc:
            raise ObserverGone("the checking process stopped answering") from exc

    def receive(self, deadline: float) -> dict:
        """The next message; WireError for one that cannot be read (too large: skipped up to its end)."""
        too_large = False
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.wire.MAX_BYTES:  # never held whole: dropped up to its end
                self.buffer, too_large = b"", True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ObserverGone("the checking process stopped answering", timed_out=True)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError as exc:
                raise ObserverGone("the checking process stopped answering", timed_out=True) from exc
            except OSError as exc:
                raise ObserverGone("the checking process stopped answering") from exc
            if not chunk:
                raise ObserverGone("the checking process ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        if too_large:
            raise self.wire.WireError(f"an answer larger than {self.wire.MAX_BYTES // 2**20} MB")
        message = self.wire.loads(line)
        if not isinstance(message, dict):
            raise self.wire.WireError("not a message")
        return message

    def close(self) -> None:
        for sock in (self.sock, self.listener):
            if sock is not None:
                sock.close()
        self.path.unlink(missing_ok=True)


class SandboxedObserver:
    """Observers forked in the worker's sandbox (`server`, forkserver.py), each in a fresh copy of the
    notebook's folder and a cgroup of its own; `stop` kills every process of the notebook."""

    def __init__(self, server: Any, folder: Path, wire: ModuleType, cpu_seconds: int, checks: str = ""):
        self.server, self.folder, self.wire, self.cpu_seconds = server, folder, wire, cpu_seconds
        self.checks = checks  # the checks package in the grader mount ("": the stand-ins of the cell judge)
        self.connection: Connection | None = None

    def start(self) -> Connection:
        from .forkserver import ForkServerError

        if self.connection is not None:
            self.connection.close()
        try:
            self.server.prepare(self.folder)
            self.connection = Connection(self.server.sockets / "judge.sock", self.wire)
            self.server.observe(str(self.connection.path), cpu_seconds=self.cpu_seconds, checks=self.checks)
        except (ForkServerError, OSError) as exc:
            raise ObserverNotStarted(f"the checking process did not start ({exc})") from exc
        self.connection.accept(60)
        return self.connection

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.server.finish()


class SubprocessObserver:
    """Observers in a plain subprocess (build verification of the instructor's own solution; `hwkit
    grade` never runs student code this way); `stop` kills its process group."""

    def __init__(self, folder: Path, wire: ModuleType, checks: str, env: dict[str, str]):
        self.folder, self.wire, self.checks, self.env = folder, wire, checks, env
        self.tmp = tempfile.TemporaryDirectory(prefix="hwk-judge-")
        self.connection: Connection | None = None
        self.process: subprocess.Popen | None = None

    def start(self) -> Connection:
        self.stop()
        self.connection = Connection(Path(self.tmp.name) / "judge.sock", self.wire)
        observer = Path(__file__).with_name("observer.py")
        self.process = subprocess.Popen([sys.executable, str(observer), str(self.connection.path), self.checks],
                                        cwd=self.folder, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.connection.accept(120)
        return self.connection

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
            self.process = None

    def close(self) -> None:
        self.stop()
        self.tmp.cleanup()
