"""The judge: decides every autograded question outside the student's process (host side).

The student's process (the observer, hwkit/observer.py, in the worker's sandbox) executes the
notebook's code cells and calls the student's functions on the inputs this side sends; what
comes back is plain data (the wire codec, wire.py, size-limited: a message costs at most its question).
The expected values, the instructor's references, the mistake tables and the code that builds the
hidden cases stay here: they never enter the student's process, nor do a case's seed and grid
(how its values were drawn), so nothing a submission does there (patching modules, IPython hooks,
reading frames or `gc`, printing) can make a wrong answer pass or show a hidden case's seed. A
process that crashes, hangs, lies or sends garbage loses the question it was answering; the next
question runs in a fresh fork (of a new observer, which runs the cells again, if the old one is gone).
A cell that ends or hangs the observer only in this re-run is left out, as the notebook's own run
leaves out a cell that hit a limit, and the rest is graded.

One deadline per notebook: the notebook's run, this re-run and the checks together get the
notebook's limit (--notebook-timeout) plus one question's (--timeout); past it the questions not
judged yet score 0 with that reason, and stopping the observer kills everything it started.
Only a failure of the machinery itself (no observer could start) is NOT GRADED.

The verdicts, not the kernel's output, are the scores (the worker writes them into the
gradebook and under each test cell of the autograded notebook).

Over 300 lines because the judge's side of the protocol lives here whole: the cells, the questions
and their cases, under one clock.
"""
from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from nbformat import NotebookNode

from .assignment import checks_package, hidden_package
from .judge_socket import Connection, ObserverGone, ObserverNotStarted, SandboxedObserver, SubprocessObserver
from .results import CodeError
from .settings import cell_timeout_reason


@dataclass(frozen=True)
class Verdict:
    """The judge's decision on one autograded question."""

    question: str
    points: float
    max_points: float
    message: str  # why the points were lost, or which cases passed
    case: str = ""  # the case that failed first (results.Diagnosis.case)
    cause: str = ""  # why the points were lost, without the question and the case (results.Diagnosis.cause)

    @property
    def passed(self) -> bool:
        return self.points == self.max_points

    @classmethod
    def lost(cls, question: str, points: float, cause: str) -> Verdict:
        """0 points, and why, not tied to one case: the message "<question>: <cause>", and the cause."""
        return cls(question, 0.0, points, f"{question}: {cause}", "", cause)


REPORT_GRACE = 10.0  # seconds past a limit the observer may take to say a cell or a question's child stopped


class Reference:
    """The trusted checks and the instructor's references, loaded in this (the grader's) process."""

    def __init__(self, source: Path, grader_tests: Path):
        for path in (str(source), str(grader_tests)):
            if path not in sys.path:
                sys.path.insert(0, path)
        self.hidden: ModuleType = importlib.import_module(hidden_package(checks_package(source)))
        self.checks: ModuleType = self.hidden.fresh_checks()
        self._cases: dict[str, list] = {}

    def cases(self, question: str) -> list:
        """Public then hidden cases with expected values (computed once per process: same for every student)."""
        if question not in self._cases:
            with self.checks.quiet():
                self._cases[question] = self.hidden.judged_cases(question, self.checks)
        return self._cases[question]

    def questions(self, notebook: NotebookNode) -> list[tuple[str, float]]:
        """(question, points) of a source notebook's autograded test cells."""
        from .notebooks import grade_cells

        return [(c.grade_id, c.points) for c in grade_cells(notebook) if c.auto and c.grade_id in self.checks.QUESTIONS]

    def prepare(self) -> None:
        """Every question's cases computed now (before threads share this reference)."""
        for question in self.checks.QUESTIONS:
            self.cases(question)

    @property
    def wire(self) -> ModuleType:
        return self.checks._wire

    @property
    def checks_folder(self) -> str:
        """The checks package the observer loads (the name of its folder in the sandbox's grader mount)."""
        return Path(self.checks.__file__).parent.name

    def judge_question(self, connection: Connection, question: str, points: float, timeout: float,
                       clock: Clock) -> Verdict:
        return _judge_question(self, connection, question, points, timeout, clock)


@dataclass(frozen=True)
class CellRun:
    """What running the notebook's code cells in the observer gave (shown in the feedback when a question fails)."""

    errors: list[str]
    raised: list[CodeError] = field(default_factory=list)  # the exceptions among `errors`, as data


def judged_cells(submitted: NotebookNode, source: NotebookNode, run: Any = None) -> list[dict]:
    """The code cells the observer runs: the notebook's own, in order, without the test cells and the
    demos and figures (tagged `demo` in the source notebook: the checks need nothing they define), up
    to where the notebook's run stopped (a kernel that died or could not be interrupted) and without
    the cells that run had to stop for their time or output limit (`run`: the trusted executor's
    RunReport). Cells are matched by grade id, or by cell id for the untracked ones."""
    skip, skip_ids = set(), set()
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        test = meta.get("grade") and not meta.get("solution") and cell.cell_type == "code"
        if test or "demo" in cell.metadata.get("tags", []):
            skip.add(meta.get("grade_id"))
            if not meta.get("grade_id") and cell.get("id"):
                skip_ids.add(cell["id"])
    stopped = run.stopped_at if run is not None else None
    interrupted = run.interrupted if run is not None else set()
    cells = []
    for index, cell in enumerate(submitted.cells):
        if stopped is not None and index >= stopped:
            break
        if index in interrupted:
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and (grade_id is None or grade_id not in skip) and cell.get("id") not in skip_ids:
            cells.append({"id": grade_id or f"#{index + 1}", "source": cell.source})
    return cells


class Clock:
    """The judge's deadline for one notebook (time.monotonic(); None: no limit) and why it is one."""

    def __init__(self, seconds: float | None, reason: str):
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.reason = reason

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def until(self, deadline: float) -> float:
        return deadline if self.deadline is None else min(deadline, self.deadline)


def notebook_limit_reason(notebook_timeout: float, cell_timeout: float) -> str:
    return (f"not checked: the notebook's run and its checks together took longer than the notebook's limit of "
            f"{notebook_timeout:g} s (--notebook-timeout) plus {cell_timeout:g} s for one question (--timeout)")


def judge_notebook(reference: Reference, observer: Any, cells: list[dict], questions: list[tuple[str, float]],
                   cell_timeout: float, timings: dict[str, float] | None = None,
                   notebook_timeout: float | None = None, run_seconds: float = 0.0) -> tuple[list[Verdict], CellRun]:
    """Run the cells in an observer (`observer.start()`, judge_socket.py; each cell with `cell_timeout`
    seconds), then judge every question (each with as long as a cell); the verdicts in question order.
    With `notebook_timeout`, everything together has what the notebook's own run (`run_seconds`)
    left of it, plus one `cell_timeout`: past that, the questions not judged yet score 0 and say so.
    A cell that ends or hangs the observer is left out (as the notebook's run leaves out a cell that
    hit a limit) and the observer started again. `timings` gains the seconds spent on the cells
    ("judge_cells") and per question ("q4_...")."""
    timings = timings if timings is not None else {}
    started = time.monotonic()
    try:
        connection = observer.start()
    except ObserverNotStarted as exc:
        return [Verdict(q, 0.0, p, f"not graded: running the notebook's code for the checks failed ({exc})")
                for q, p in questions], CellRun([])
    budget = None if notebook_timeout is None else max(0.0, notebook_timeout - run_seconds) + cell_timeout
    clock = Clock(budget, notebook_limit_reason(notebook_timeout or 0, cell_timeout))
    timings["judge_setup"] = timings.get("judge_setup", 0.0) + time.monotonic() - started
    started = time.monotonic()
    try:
        connection, ran, cells = _run_cells(observer, connection, cells, cell_timeout, clock)
    except ObserverNotStarted as exc:
        return [Verdict(q, 0.0, p, f"not graded: running the notebook's code for the checks failed ({exc})")
                for q, p in questions], CellRun([])
    except ObserverGone:  # out of time
        return [Verdict.lost(q, p, clock.reason) for q, p in questions], CellRun([])
    timings["judge_cells"] = timings.get("judge_cells", 0.0) + time.monotonic() - started
    verdicts: list[Verdict] = []
    for question, points in questions:
        started = time.monotonic()
        try:
            if connection is None:  # the last question's observer is gone: a new one, the cells again
                connection, _, cells = _run_cells(observer, observer.start(), cells, cell_timeout, clock)
            verdicts.append(reference.judge_question(connection, question, points, cell_timeout, clock))
        except ObserverGone as exc:
            if clock.left() <= 0:  # time is up: every question left is lost
                verdicts += [Verdict.lost(q, p, clock.reason) for q, p in questions[len(verdicts):]]
                break
            verdicts.append(Verdict.lost(question, points, str(exc)))
            connection = None
        except ObserverNotStarted as exc:
            verdicts += [Verdict(q, 0.0, p, f"not graded: running the notebook's code for the checks failed ({exc})")
                         for q, p in questions[len(verdicts):]]
            break
        timings[question] = timings.get(question, 0.0) + time.monotonic() - started
    return verdicts, ran


def _run_cells(observer: Any, connection: Connection, cells: list[dict], cell_timeout: float,
               clock: Clock) -> tuple[Connection, CellRun, list[dict]]:
    """Run `cells` in the observer; a cell that ends it, hangs it past its limit or makes it send
    garbage is left out and the observer started afresh, until the rest runs or time is up. The
    connection to the observer that ran them, the cells' errors and the cells it ran."""
    notes: list[str] = []
    cells = list(cells)
    while True:
        failed = _send_cells(connection, cells, cell_timeout, clock)
        if isinstance(failed, CellRun):
            return connection, CellRun(notes + failed.errors, failed.raised), cells
        index, why = failed
        notes.append(f"cell {str(cells[index].get('id'))[:40]}: {why}; the checks ran without it")
        del cells[index]
        connection = observer.start()


def _send_cells(connection: Connection, cells: list[dict], cell_timeout: float,
                clock: Clock) -> CellRun | tuple[int, str]:
    """The cells' errors, or (the cell that stopped the observer, why)."""
    wire = connection.wire
    connection.send({"op": "cells", "cells": cells, "timeout": cell_timeout})
    current = None  # the cell the observer said it runs
    while True:
        try:  # the observer announces each cell: each has its own limit
            message = connection.receive(clock.until(time.monotonic() + cell_timeout + REPORT_GRACE))
        except (ObserverGone, wire.WireError) as exc:
            if clock.left() <= 0:
                raise ObserverGone(str(exc), timed_out=True) from None
            if current is None:  # before any of the notebook's code ran: the machinery failed
                raise ObserverNotStarted(f"the checking process failed before any code ran ({exc})") from None
            if isinstance(exc, wire.WireError):
                return current, f"the checked code sent what cannot be read ({str(exc)[:120]})"
            if exc.timed_out:
                return current, (f"{cell_timeout_reason(cell_timeout)}, and it did not stop when interrupted in "
                                 "the checks' run")
            return current, "the process running the checks ended in this cell (it exited, crashed or hit a limit)"
        if "cells" in message:
            results = message["cells"] if isinstance(message["cells"], list) else []
            failed = [c for c in results[:len(cells)] if isinstance(c, dict) and c.get("error")]
            return CellRun([f"cell {str(c.get('id'))[:40]}: {str(c.get('error'))[:300]}" for c in failed],
                           [_code_error(c) for c in failed if isinstance(c.get("kind"), str)])
        index = message.get("cell")
        if type(index) is not int or not 0 <= index < len(cells):
            if current is None:
                raise ObserverNotStarted("the checking process sent an unexpected message")
            return current, "the checked code sent an unexpected message"
        current = index


def _code_error(cell: dict) -> CodeError:
    """What the observer said a cell raised (the student's process says it: clipped, typed, never trusted)."""
    line = cell.get("line")
    return CodeError(str(cell.get("id"))[:40], str(cell["kind"])[:80], line if type(line) is int else 0,
                     str(cell.get("error"))[:300])


def _judge_question(reference: Reference, connection: Connection, question: str, points: float,
                    timeout: float, clock: Clock) -> Verdict:
    """One question in a fresh fork of the observer: its cases in order, the first failure decides.
    ObserverGone when the observer is gone or the notebook's time is up."""
    checks = reference.checks
    spec = checks.checker_module(question).QUESTIONS[question]
    cases = reference.cases(question)
    timeout_here = min(timeout, clock.left())
    if timeout_here <= 0:
        raise ObserverGone(clock.reason, timed_out=True)
    # The observer kills the question's child after `timeout_here`; a parent that has not said so soon
    # after is gone.
    deadline = clock.until(time.monotonic() + timeout_here + REPORT_GRACE)
    connection.send({"op": "question", "question": question, "timeout": timeout_here})
    try:
        failure = _run_cases(checks, connection, spec, cases, deadline)
    except _ChildGone as gone:
        if gone.timed_out and timeout_here < timeout:
            raise ObserverGone(clock.reason, timed_out=True) from None
        cause = gone.cause + (_too_long(timeout) if gone.timed_out else "")
        return Verdict(question, 0.0, points, f"{question}: {gone}{_too_long(timeout) if gone.timed_out else ''}",
                       gone.case, cause)
    except ObserverGone:
        raise
    except Exception as exc:  # garbage from the student's process (WireError, a missing key, ...)
        failure = "", f"the checked code sent an answer that cannot be read ({type(exc).__name__}: {str(exc)[:120]})"
    connection.send({"op": "end"})
    done = _drain(connection, deadline)
    if failure is None and done.get("timed_out"):
        if timeout_here < timeout:
            raise ObserverGone(clock.reason, timed_out=True)
        failure = "", _too_long(timeout)
    if failure:
        case, cause = failure
        return Verdict(question, 0.0, points, f"{question}, {case + ': ' if case else ''}{cause}", case, cause)
    kinds = [c.kind for c in cases]
    return Verdict(question, points, points, f"{question}: all {len(cases)} cases passed "
                   f"({kinds.count('public')} public, {kinds.count('hidden')} hidden).")


def _too_long(timeout: float) -> str:
    return cell_timeout_reason(timeout, "the checks", "; an endless loop?")


class _ChildGone(Exception):
    """The forked child answering the question ended (crash, exit, timeout) before the verdict;
    timed_out: it was stopped at the time limit (the message is then where it was, the limit follows);
    case: the case it was answering ("" before the first), cause: what happened."""

    def __init__(self, case: str, cause: str, timed_out: bool = False):
        super().__init__(f"{case}: {cause}" if case else cause)
        self.case, self.cause, self.timed_out = case, cause, timed_out


def _run_cases(checks: ModuleType, connection: Connection, spec: Any, cases: list,
               deadline: float) -> tuple[str, str] | None:
    """The first failing case's label and reason, or None when every case passed."""
    message = connection.receive(deadline)
    _raise_if_done(message, "")
    data = checks._wire.decode(message["data"])
    data = data if isinstance(data, dict) else {}
    for case in cases:
        failure = _judge_case(checks, connection, spec, case, data, deadline)
        if failure:
            return case.label, failure
    return None


def _raise_if_done(message: dict, case: str) -> None:
    if "question_done" not in message:
        return
    if message.get("timed_out"):
        raise _ChildGone(case, "", timed_out=True)
    raise _ChildGone(case, f"the checked code ended the process (exit status {message.get('status')}) "
                     "before it could be judged")


def _drain(connection: Connection, deadline: float) -> dict:
    """Read until the observer reports the question's child gone; refuse what it still asks."""
    while True:
        try:
            message = connection.receive(deadline)
        except connection.wire.WireError:
            continue
        if "question_done" in message:
            return message
        if "call" in message:
            connection.send({"refused": "the question is over"})


# How a case's values were drawn: the student's functions receive the values, never these, so they do not
# cross (the student's code could read them from its callers' frames and print them in its feedback).
DRAWING = ("seed", "grid")


def sent_inputs(spec: Any, case: Any) -> dict:
    """What of one case crosses into the student's process."""
    return {k: v for k, v in spec.student_inputs(case.inputs, case.expected).items() if k not in DRAWING}


def _judge_case(checks: ModuleType, connection: Connection, spec: Any, case: Any, data: dict,
                deadline: float) -> str | None:
    """One case: send its inputs, answer the stand-ins' calls, judge the observation."""
    judging, wire = checks._judging, checks._wire
    helpers = spec.answers(case.inputs, case.expected, data) if spec.answers else None
    connection.send({"op": "case", "inputs": wire.encode(sent_inputs(spec, case))})
    while True:
        message = connection.receive(deadline)
        if "call" in message and helpers is not None:
            try:
                value = judging.answer(helpers, str(message["call"]), wire.decode(message.get("args", {"list": []})),
                                       wire.decode(message.get("kwargs", {"dict": []})))
                connection.send({"answer": wire.encode(value)})
            except checks.CheckFailure as refusal:
                connection.send({"refused": str(refusal)})
            continue
        if "observed" in message:
            observed = wire.decode(message["observed"])
            try:
                with checks.quiet():
                    judging.judge_observed(spec, case.inputs, observed, case.expected,
                                           judging.Context(data, helpers))
            except checks.CheckFailure as failure:
                return str(failure)
            return None
        _raise_if_done(message, case.label)
        raise ValueError(f"unexpected message {sorted(message)[:3]}")


def judge_in_sandbox(server: Any, reference: Reference, folder: Path, cells: list[dict],
                     questions: list[tuple[str, float]], cell_timeout: float,
                     timings: dict[str, float] | None = None, notebook_timeout: float | None = None,
                     run_seconds: float = 0.0) -> tuple[list[Verdict], CellRun]:
    """Judge one notebook with its observer forked in the worker's sandbox (`server`, forkserver.py),
    in a fresh copy of the notebook's folder; the sandbox is cleaned afterwards (every process of the
    notebook killed). `notebook_timeout`, `run_seconds`: see judge_notebook."""
    timings = timings if timings is not None else {}
    cpu_seconds = max(600, int(cell_timeout) * (len(cells) + len(questions) + 2))
    observer = SandboxedObserver(server, folder, reference.wire, cpu_seconds, reference.checks_folder)
    try:
        return judge_notebook(reference, observer, cells, questions, cell_timeout, timings, notebook_timeout,
                              run_seconds)
    finally:
        started = time.monotonic()
        observer.stop()
        timings["judge_setup"] = timings.get("judge_setup", 0.0) + time.monotonic() - started


def judge_unsandboxed(reference: Reference, folder: Path, cells: list[dict], questions: list[tuple[str, float]],
                      cell_timeout: float, env: dict[str, str], timings: dict[str, float] | None = None,
                      notebook_timeout: float | None = None, run_seconds: float = 0.0) -> tuple[list[Verdict], CellRun]:
    """Judge one notebook with an observer in a plain subprocess (build verification of the instructor's
    own solution, and `hwkit grade --unsandboxed`)."""
    checks = str(Path(reference.checks.__file__).parent) if reference.checks_folder else ""
    observer = SubprocessObserver(folder, reference.wire, checks, env)
    try:
        return judge_notebook(reference, observer, cells, questions, cell_timeout, timings, notebook_timeout,
                              run_seconds)
    finally:
        observer.close()
