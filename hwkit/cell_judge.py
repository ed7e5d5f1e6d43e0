"""Judging an ordinary nbgrader assignment outside the student's process: by its own test cells.

An assignment without a checks package (assignment.py) is judged from the test cells of its
instructor notebooks: each autograded test cell's code, hidden tests included, is read from
source/ (never from the submission, whose test cells a student may have edited) and run here, in
the judge's process, with the student's names as stand-ins (standins.py): calling one runs the
student's code in the sandbox and brings its result back as plain data. The modules the test uses
are the judge's own, and a student's object never decides a comparison, so nothing the submission
does in its process (patching numpy, hooks, lying objects) can make an assert pass.

The question scores its points when the test code ends without an exception, as under nbgrader.
Why it failed names the test's own message or line for the visible tests; for the hidden tests only
that a hidden test failed (with the instructor's assert message, if any), and never a message the
student's code produced from a hidden test's inputs.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import re
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

from . import wire
from .judge import Clock, Verdict
from .judge_socket import Connection, ObserverGone
from .notebooks import grade_cells
from .settings import cell_timeout_reason
from .standins import REPLY_GRACE, QuestionOver, Refused, Session, StudentCodeError

HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*$", re.S | re.M)
MESSAGE_LIMIT = 500  # characters of a reason taken from a test's or the student's message


@dataclass(frozen=True)
class AutogradedCell:
    """One autograded test cell of an instructor notebook."""

    question: str
    points: float
    source: str
    hidden_lines: frozenset[int]  # line numbers (from 1) inside hidden-test blocks

    @classmethod
    def of(cls, question: str, points: float, source: str) -> AutogradedCell:
        hidden = set()
        for block in HIDDEN_BLOCK.finditer(source):
            first = source.count("\n", 0, block.start(1)) + 1
            hidden.update(range(first, first + block.group(1).count("\n")))
        return cls(question, points, source, frozenset(hidden))

    @property
    def visible_source(self) -> str:
        return without_hidden_tests(self.source)

    @property
    def filename(self) -> str:
        return f"<test {self.question}>"

    def student_names(self) -> list[str]:
        """Names the test reads and does not define itself: the student's notebook (or Python) defines them."""
        tree = ast.parse(self.source)
        read, bound = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
        return sorted(read - bound - set(dir(builtins)))


def without_hidden_tests(source: str) -> str:
    """A test cell as students see it in the release (nbgrader removes the hidden-test blocks)."""
    return HIDDEN_BLOCK.sub("", source).rstrip("\n")


class StripHiddenTests(NbGraderPreprocessor):
    """The hidden-test blocks removed from the autograded test cells before a submission runs (nbgrader's
    Autograde restored them from the instructor's notebook): hidden-test code never enters the student's
    process, whose cells are left as they are."""

    def preprocess_cell(self, cell: nbformat.NotebookNode, resources: dict, index: int):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            cell.source = without_hidden_tests(cell.source)
        return cell, resources


def notebook_imports(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The names the instructor's notebook binds by its imports (`import numpy as np`, `from torch import nn`),
    imported here: a test that uses the notebook's `np` gets the judge's numpy, whatever the student's
    notebook rebinds `np` to. Imports of what is not installed here (a helper module of the assignment)
    are left to the student's namespace."""
    found: dict[str, Any] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or (is_grade(cell) and not is_solution(cell)):
            continue
        try:
            tree = ast.parse(without_hidden_tests(cell.source))
        except SyntaxError:  # IPython syntax (magics): not an import of ours to find
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    _bind(found, alias.asname or alias.name.split(".")[0],
                          alias.name if alias.asname else alias.name.split(".")[0], None)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        _bind(found, alias.asname or alias.name, node.module, alias.name)
    return found


def _bind(found: dict[str, Any], name: str, module: str, attribute: str | None) -> None:
    try:
        value = importlib.import_module(module)
        found[name] = getattr(value, attribute) if attribute else value
    except (ImportError, AttributeError):
        pass


def read_test_cells(notebook: nbformat.NotebookNode) -> list[AutogradedCell]:
    """The autograded test cells of an instructor notebook, in order."""
    points = {c.grade_id: c.points for c in grade_cells(notebook) if c.auto}
    return [AutogradedCell.of(cell.metadata["nbgrader"]["grade_id"], points[cell.metadata["nbgrader"]["grade_id"]],
                        cell.source)
            for cell in notebook.cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in points]


class CellJudge:
    """The judge of an assignment without a checks package: its instructor test cells, read once."""

    wire = wire

    def __init__(self, source: Path):
        self.cells: dict[str, AutogradedCell] = {}
        self.imports: dict[str, dict[str, Any]] = {}  # question -> the judge's own objects its notebook imports
        for path in sorted(source.glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            imported = notebook_imports(notebook)
            for cell in read_test_cells(notebook):
                self.cells[cell.question] = cell
                self.imports[cell.question] = imported

    def prepare(self) -> None:
        """Nothing to compute ahead: the test cells were read when this judge was made."""

    checks_folder = ""  # no checks package in the sandbox: the observer serves stand-ins

    def questions(self, notebook: nbformat.NotebookNode) -> list[tuple[str, float]]:
        """(question, points) of a source notebook's autograded test cells."""
        return [(cell.question, cell.points) for cell in read_test_cells(notebook) if cell.question in self.cells]

    def judge_question(self, connection: Connection, question: str, points: float, timeout: float,
                       clock: Clock) -> Verdict:
        """Run the question's test code here against the student's names in a fresh fork of the observer,
        within `timeout` and what is left of the notebook's time (`clock`: past it, ObserverGone)."""
        cell = self.cells[question]
        timeout_here = min(timeout, clock.left())
        if timeout_here <= 0:
            raise ObserverGone(clock.reason, timed_out=True)
        connection.send({"op": "standins", "question": question, "timeout": timeout_here})
        session = Session(connection, clock.until(time.monotonic() + timeout_here + REPLY_GRACE))
        failure, over = None, None
        try:
            namespace = {"__name__": "__main__", "__builtins__": builtins}
            names = cell.student_names()
            imported = {name: value for name, value in self.imports[question].items() if name in names}
            namespace.update(session.names([name for name in names if name not in imported]))
            namespace.update(imported)  # what the instructor's notebook imports is never the student's
            with _quiet():
                exec(compile(cell.source, cell.filename, "exec"), namespace)
        except ObserverGone:
            raise
        except QuestionOver as exc:
            over, failure = exc, _over(exc, timeout)
        except Exception as exc:  # the test failed: an assert, the student's code raising, a refused comparison
            failure = explain(cell, exc)
        if over is None:
            connection.send({"op": "end"})
            over = _drain(connection, session.deadline)
            if failure is None and over.timed_out:
                failure = _over(over, timeout)
        if over.timed_out and timeout_here < timeout:  # stopped by the notebook's limit, not the question's
            raise ObserverGone(clock.reason, timed_out=True)
        if failure:
            return Verdict.lost(question, points, failure)
        hidden = " and hidden" if cell.hidden_lines else ""
        return Verdict(question, points, points, f"{question}: the visible{hidden} tests passed.")


def explain(cell: AutogradedCell, exc: Exception) -> str:
    """Why the test failed, for the student: never what the student's code said about a hidden test's inputs."""
    line = _test_line(cell, exc)
    hidden = line in cell.hidden_lines
    message = _clip(str(exc))
    if isinstance(exc, StudentCodeError):
        at = f" ({exc.where})" if exc.where else ""
        if hidden:
            return f"your code raised {exc.kind} in a hidden test{at}"
        return f"your code raised {exc.kind}{': ' + _clip(exc.message) if exc.message else ''}{at}"
    if isinstance(exc, AssertionError):
        if hidden:
            return f"a hidden test failed{': ' + message if message else ''}"
        shown = cell.source.splitlines()[line - 1].strip() if 0 < line <= cell.source.count("\n") + 1 else ""
        return message or f"the test `{_clip(shown)}` failed"
    if isinstance(exc, NameError):
        return (f"{exc.name or 'a name the test uses'} is not defined by the notebook (did the cell that defines it "
                "raise an error, or is it misspelled?)")
    if isinstance(exc, Refused):
        return message
    if isinstance(exc, wire.WireError):
        return f"your code sent an answer that cannot be read ({message})"
    where = "a hidden test" if hidden else "the test"
    return f"{where} raised {type(exc).__name__}" + ("" if hidden else f": {message}")


def _test_line(cell: AutogradedCell, exc: BaseException) -> int:
    """The line of the test's own code the exception passed through last (0: none)."""
    line = 0
    for frame, number in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == cell.filename:
            line = number
    return line


def _over(exc: QuestionOver, timeout: float) -> str:
    if exc.timed_out:
        return cell_timeout_reason(timeout, "the test's calls of your code", "; an endless loop?")
    return f"your code ended the checking process ({exc}) before the test was done"


def _drain(connection: Connection, deadline: float) -> QuestionOver:
    """Read until the observer reports the question's child gone (late replies are dropped)."""
    while True:
        try:
            message = connection.receive(deadline)
        except wire.WireError:
            continue
        if "question_done" in message:
            return QuestionOver.of(message)


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "..."


@contextlib.contextmanager
def _quiet():
    """The test's prints and warnings go nowhere (a verdict depends on its exceptions only)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def assignment_judge(source: Path, grader_tests: Path):
    """The judge of the assignment in `source`: its checks package's (judge.Reference), else its test cells."""
    from .assignment import checks_package
    from .judge import Reference

    return Reference(source, grader_tests) if checks_package(source) else CellJudge(source)
