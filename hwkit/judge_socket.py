"""The judge's end of the Unix socket its observer (observer.py, in the student's sandbox) connects to:
one message per line, in the plain-data wire format of hw1_checks._wire, each read with a deadline.
Whatever the student's process does to the socket (silence, garbage, a flood) ends in ObserverGone."""
from __future__ import annotations

import socket
import time
from pathlib import Path
from types import ModuleType


class ObserverGone(Exception):
    """The student's process stopped answering (or sent what cannot be read)."""


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
            raise ObserverGone("the checking process did not start") from exc

    def send(self, message: dict) -> None:
        try:
            self.sock.sendall((self.wire.dumps(message) + "\n").encode())
        except OSError as exc:
            raise ObserverGone("the checking process stopped answering") from exc

    def receive(self, deadline: float) -> dict:
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.wire.MAX_BYTES:
                raise ObserverGone("the checking process sent an answer too large to read")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ObserverGone("the checking process stopped answering")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError as exc:
                raise ObserverGone("the checking process stopped answering") from exc
            if not chunk:
                raise ObserverGone("the checking process ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = self.wire.loads(line)
        if not isinstance(message, dict):
            raise self.wire.WireError("not a message")
        return message

    def close(self) -> None:
        for sock in (self.sock, self.listener):
            if sock is not None:
                sock.close()
        self.path.unlink(missing_ok=True)
