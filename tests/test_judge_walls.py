"""The judge's side of the trust boundary (issue 24, items 1 to 4), without kernels: the real judge
(hwkit/judge.py) against a scripted FAKE observer, a socket peer written here that plays the student's
process: garbage, oversized messages, bombs, silence, late replies, cells that end or hang it, slow
answers. Each costs only its question, with the right reason, within the notebook's deadline. The
frames attack runs the real observer (a plain subprocess, no kernel)."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from hwkit import judge
from hwkit.judge import Reference, Verdict, judge_notebook, judge_unsandboxed
from hwkit.judge_socket import Connection, ObserverNotStarted
from hwkit.observer import Channel

REPO = Path(__file__).resolve().parents[1]
Q = "q4_layer_sizes"  # the question the fake answers right: (X.shape[0], 4, Y.shape[0])
QUESTIONS = [(Q, 1.0)] * 3
CELLS = [{"id": "a", "source": "x = 1"}, {"id": "b", "source": "y = 2"}]


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(REPO / "source" / "hw1", REPO / "grader_tests")


@pytest.fixture(autouse=True)
def short_grace(monkeypatch) -> None:
    monkeypatch.setattr(judge, "REPORT_GRACE", 0.5)


class FakeObserver:
    """Plays the observer on the judge's socket: `script(channel, attempt)`, attempt 1, 2, ... for
    each observer the judge starts."""

    def __init__(self, folder: Path, wire, script: Callable[[Channel, int], None]):
        self.folder, self.wire, self.script = folder, wire, script
        self.attempts = 0
        self.connection: Connection | None = None

    def start(self) -> Connection:
        if self.connection is not None:
            self.connection.close()
        self.attempts += 1
        self.connection = Connection(self.folder / f"judge{self.attempts}.sock", self.wire)
        threading.Thread(target=self._play, args=(self.attempts,), daemon=True).start()
        self.connection.accept(5)
        return self.connection

    def _play(self, attempt: int) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(self.connection.path))
        try:
            self.script(Channel(sock, self.wire), attempt)
        except (OSError, EOFError):
            pass
        finally:
            sock.close()


def run_cells(channel: Channel, skip: tuple[int, ...] = ()) -> None:
    request = channel.receive()
    assert request["op"] == "cells"
    for index in range(len(request["cells"])):
        channel.send({"cell": index})
    channel.send({"cells": [{"id": c["id"], "error": None} for c in request["cells"]]})


def answer(channel: Channel, wire, observed: Callable | None = None, delay: float = 0.0) -> None:
    """One question, honestly (or with `observed(X, Y)`: the raw observation line to send)."""
    request = channel.receive()
    assert request["op"] == "question", request
    channel.send({"data": wire.encode({})})
    while True:
        request = channel.receive()
        if request.get("op") != "case":
            channel.send({"question_done": Q, "status": 0, "timed_out": False})
            return
        inputs = wire.decode(request["inputs"])
        time.sleep(delay)
        X, Y = inputs["X"], inputs["Y"]
        if observed is not None:
            channel.sock.sendall(observed(X, Y))
        else:
            channel.send({"observed": wire.encode({"sizes": {"value": (X.shape[0], 4, Y.shape[0])}})})


def honest(wire) -> Callable[[Channel, int], None]:
    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        while True:
            answer(channel, wire)
    return script


def judged(reference, tmp_path, script, questions=QUESTIONS, cells=CELLS, timeout=1.0, notebook_timeout=30.0):
    fake = FakeObserver(tmp_path, reference.checks._wire, script)
    started = time.monotonic()
    verdicts, ran = judge_notebook(reference, fake, cells, questions, timeout, notebook_timeout=notebook_timeout)
    if fake.connection is not None:
        fake.connection.close()
    return verdicts, ran, time.monotonic() - started, fake.attempts


def points(verdicts: list[Verdict]) -> list[float]:
    return [v.points for v in verdicts]


def test_an_honest_fake_scores_full_marks(reference, tmp_path: Path) -> None:
    verdicts, ran, seconds, attempts = judged(reference, tmp_path, honest(reference.checks._wire))
    assert points(verdicts) == [1, 1, 1] and ran.errors == [] and attempts == 1, verdicts


def sizes_line(value: bytes) -> Callable:
    """The observation line of layer_sizes returning `value` (its wire form, as raw JSON)."""
    return lambda X, Y: b'{"observed": {"dict": [["sizes", {"dict": [["value", %s]]}]]}}\n' % value


@pytest.mark.parametrize("line, why", [
    (lambda X, Y: b"this is not JSON\n", "not JSON"),
    (sizes_line(b'{"tuple": [1, {"eval": "x"}]}'), "unknown form"),
    (lambda X, Y: b"[" * 100000 + b"\n", "not JSON"),
    (sizes_line(b'{"array": null, "shape": [268435456]}'), "would take more than 16 MB"),  # 2 GB of pointers
    (sizes_line(b'{"array": "", "dtype": "<f8", "shape": [4294967296, 4294967296]}'), "would take more than"),
    (lambda X, Y: b"x" * (9 * 2**20) + b"\n", "larger than 8 MB"),
])
def test_garbage_costs_only_its_question(reference, tmp_path: Path, line, why) -> None:
    wire = reference.checks._wire

    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        answer(channel, wire, observed=line)
        while True:
            answer(channel, wire)

    tracemalloc.start()
    try:
        verdicts, ran, seconds, attempts = judged(reference, tmp_path, script)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert points(verdicts) == [0, 1, 1], verdicts
    assert why in verdicts[0].message and "sent an answer that cannot be read" in verdicts[0].message, verdicts[0]
    assert attempts == 1 and seconds < 5
    assert peak < 100 * 2**20, f"the judge held {peak / 2**20:.0f} MB for one message"


def test_positive_control_an_object_array_bomb_allocates_without_the_cap(reference, tmp_path: Path,
                                                                          monkeypatch) -> None:
    """The shape-only array of the bomb above, small (32 MB) and with the cap switched off: the judge
    does build it (the cap is what stops the 2 GB one)."""
    wire = reference.checks._wire
    bomb = sizes_line(b'{"array": null, "shape": [4194304]}')

    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        answer(channel, wire, observed=bomb)
        while True:
            answer(channel, wire)

    def peak_of_judging() -> int:
        tracemalloc.start()
        try:
            judged(reference, tmp_path, script, questions=[(Q, 1.0)])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(wire, "MAX_DECODED", 2**40)
    assert peak_of_judging() >= 32 * 2**20
    monkeypatch.setattr(wire, "MAX_DECODED", 2**20)
    assert peak_of_judging() < 16 * 2**20


def test_a_silent_observer_costs_only_its_question(reference, tmp_path: Path) -> None:
    wire = reference.checks._wire

    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        if attempt == 1:
            answer(channel, wire)
            channel.receive()  # the second question: never answered, never reported
            time.sleep(30)
        while True:
            answer(channel, wire)

    verdicts, ran, seconds, attempts = judged(reference, tmp_path, script)
    assert points(verdicts) == [1, 0, 1], verdicts
    assert "stopped answering" in verdicts[1].message
    assert attempts == 2, "a new observer ran the cells again for the third question"
    assert seconds < 1 + 0.5 + 5  # the question's limit and the grace, not the fake's 30 s


def test_a_late_reply_reaches_nobody(reference, tmp_path: Path) -> None:
    wire = reference.checks._wire

    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        if attempt == 1:
            answer(channel, wire, delay=3)  # past the question's 1 s + 0.5 s: judged gone, replied later
        while True:
            answer(channel, wire)

    verdicts, ran, seconds, attempts = judged(reference, tmp_path, script)
    assert points(verdicts) == [0, 1, 1] and attempts == 2, verdicts
    assert "stopped answering" in verdicts[0].message


def test_the_notebook_deadline_bounds_slow_answers(reference, tmp_path: Path) -> None:
    """Each question takes 4 cases x 0.3 s (its limit is 1.5 s); with 0.5 s left of the notebook's
    limit the judge has 0.5 + 1.5 = 2 s: the second question is cut, the third not started, both 0
    with the reason. Positive control: without the notebook limit every answer is slow and scores."""
    wire = reference.checks._wire

    def script(channel: Channel, attempt: int) -> None:
        run_cells(channel)
        while True:
            answer(channel, wire, delay=0.3)

    verdicts, ran, seconds, _ = judged(reference, tmp_path, script, timeout=1.5, notebook_timeout=None)
    assert points(verdicts) == [1, 1, 1] and seconds >= 3 * 4 * 0.3, (verdicts, seconds)
    verdicts, ran, seconds, _ = judged(reference, tmp_path, script, timeout=1.5, notebook_timeout=0.5)
    assert points(verdicts) == [1, 0, 0], verdicts
    for verdict in verdicts[1:]:
        assert "notebook's limit of 0.5 s (--notebook-timeout) plus 1.5 s" in verdict.message, verdict
        assert not verdict.message.startswith("not graded")
    assert seconds < 2 + 1, seconds


@pytest.mark.parametrize("how", ["exit", "hang", "garbage"])
def test_a_cell_that_stops_the_observer_is_left_out(reference, tmp_path: Path, how: str) -> None:
    """The cell that ends the checks' process (exits only when the checks run it), hangs past its
    limit or sends garbage: the checks run without it, in a new observer, and the notebook is graded."""
    wire = reference.checks._wire

    def script(channel: Channel, attempt: int) -> None:
        if attempt == 1:
            request = channel.receive()
            channel.send({"cell": 0})
            channel.send({"cell": 1})  # cell "b" misbehaves
            if how == "exit":
                return
            if how == "hang":
                time.sleep(30)
            channel.sock.sendall(b"garbage\n")
            time.sleep(30)
        request = channel.receive()
        assert [c["id"] for c in request["cells"]] == ["a"]
        channel.send({"cell": 0})
        channel.send({"cells": [{"id": "a", "error": None}]})
        while True:
            answer(channel, wire)

    verdicts, ran, seconds, attempts = judged(reference, tmp_path, script)
    assert points(verdicts) == [1, 1, 1] and attempts == 2, verdicts
    assert len(ran.errors) == 1 and ran.errors[0].startswith("cell b: ") and "ran without it" in ran.errors[0]
    assert {"exit": "ended in this cell", "hang": "did not stop", "garbage": "cannot be read"}[how] in ran.errors[0]
    assert seconds < 1 + 0.5 + 5


def test_an_observer_that_never_starts_is_not_graded(reference, tmp_path: Path) -> None:
    class Broken:
        def start(self):
            raise ObserverNotStarted("the checking process did not start")

    verdicts, _ = judge_notebook(reference, Broken(), CELLS, QUESTIONS, 1.0, notebook_timeout=30)
    assert all(v.points == 0 and v.message.startswith("not graded: ") for v in verdicts)


FRAMES_ATTACK = '''
import sys
def layer_sizes(X, Y):
    frame, seeds = sys._getframe(1), set()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("seed"), int):
                seeds.add(value["seed"])
        frame = frame.f_back
    if seeds - {1}:  # the public case's seed is 1: pass it, leak the hidden ones
        raise ValueError(f"leaked seeds {sorted(seeds)}")
    return (X.shape[0], 4, Y.shape[0])
'''


def test_hidden_seeds_never_reach_the_students_frames(reference, tmp_path: Path, monkeypatch) -> None:
    """The real observer (a plain subprocess): the student's function walks its callers' frames for
    the case's seed and raises it into its feedback. Positive control: with the seeds sent, it
    finds them."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def verdict() -> Verdict:
        return judge_unsandboxed(reference, tmp_path, [{"id": "a", "source": FRAMES_ATTACK}], [(Q, 1.0)], 10, env,
                                 notebook_timeout=60)[0][0]

    with monkeypatch.context() as unfixed:
        unfixed.setattr(judge, "DRAWING", ())
        leaked = verdict()
    hidden_seed = reference.cases(Q)[1].settings["seed"]
    assert leaked.points == 0 and f"leaked seeds [{hidden_seed}" in leaked.message, leaked
    safe = verdict()
    assert safe.points == 1 and "leaked" not in safe.message, safe
    for question in reference.checks.QUESTIONS:  # no case of any question sends how it was drawn
        spec = reference.checks.checker_module(question).QUESTIONS[question]
        for case in reference.cases(question):
            assert not set(judge.DRAWING) & set(judge.sent_inputs(spec, case)), (question, case.label)


def test_the_grading_worker_has_a_memory_limit() -> None:
    """In a fresh process with the pool's limit, 5 GB cannot be had (a MemoryError, the process lives);
    positive control: without it the same allocation succeeds (untouched pages)."""
    import subprocess

    code = ("import numpy as np, sys\n"
            "if sys.argv[1] == 'limited':\n"
            "    from hwkit.grade import limit_worker_memory; limit_worker_memory()\n"
            "try:\n    np.empty(5 * 2**30, dtype=np.uint8); print('allocated')\n"
            "except MemoryError:\n    print('MemoryError')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for mode, expected in (("free", "allocated"), ("limited", "MemoryError")):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, env=env, timeout=60)
        assert out.stdout.strip() == expected, (mode, out.stdout, out.stderr[-500:])
