"""The sandbox side of the judge: runs in the student's process, knows no expected value.

It executes the notebook's own code cells (the judge sends them), then, one question at a time
in a forked child, calls the student's functions on the inputs of each case the judge sends and
sends back what they returned, as plain data (the wire codec). The judge (hwkit/judge.py, the
host side) compares and decides; whatever this process does, lies included, can only cost the
student's own points.

Standalone on purpose: it runs inside the sandbox, where hwkit is not installed, imported from
the grader mount beside the wire codec and the trusted copy of the assignment's checks (standard
library and NumPy otherwise).
Messages are JSON lines on one Unix socket the judge listens on.

  judge -> observer: {"op": "cells", "cells": [{"id", "source"}], "timeout"}
                     {"op": "question", "question", "timeout"}  then, to the forked child:
                         {"op": "case", "inputs"} ... {"op": "end"}, and {"answer"} / {"refused"}
                         to each stand-in call
  observer -> judge: {"cell": index} before each cell, then {"cells": [{"id", "error"}]}; per question:
                     {"data"} once, per case {"call": helper, "args", "kwargs"} ... {"observed"}; then
                     {"question_done", "status", "timed_out"} from the parent
"""
from __future__ import annotations

import builtins
import functools
import importlib.util
import linecache
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import ModuleType

CHECKS_NAME = "_hwkit_trusted_checks"


class Channel:
    """JSON lines on the socket, one `sendall` per message."""

    def __init__(self, sock: socket.socket, wire: ModuleType) -> None:
        self.sock, self.wire = sock, wire
        self.buffer = b""

    def send(self, message: dict) -> None:
        self.sock.sendall((self.wire.dumps(message) + "\n").encode())

    def receive(self) -> dict:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the judge closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return self.wire.loads(line)


def load_checks(folder: str) -> ModuleType:
    """The trusted checks package under a private name (the notebook imports its own copy under the real one)."""
    spec = importlib.util.spec_from_file_location(CHECKS_NAME, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[CHECKS_NAME] = module
    spec.loader.exec_module(module)
    return module


class CellTimeout(BaseException):
    """Raised in a cell that ran past its time limit (BaseException: `except Exception` misses it)."""


def _alarm(signum, frame):
    raise CellTimeout()


class QuietShell:
    """`get_ipython()` here: magics, shell escapes and help requests (`%...`, `!...`, `x?`) do nothing,
    but the body of a timing cell magic (`%%time`, ...) runs, as it defines the cell's functions."""

    RUN_BODY = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_cell_magic(self, name: str, line: str, body: str) -> None:
        if name in self.RUN_BODY:
            exec(compile(python_source(body), "<cell magic>", "exec"), self.namespace)

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def python_source(source: str) -> str:
    """A cell's IPython syntax turned into Python, as the kernel does it (magics become calls on
    `get_ipython()`)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # not even IPython can read it: compiling it reports the error
        return source


def run_cells(cells: list[dict], timeout: float, namespace: dict, announce: Callable[[int], None]) -> list[dict]:
    """Execute the notebook's code cells in order, errors allowed (as nbgrader does), each under a time
    limit; `announce(index)` before each (the judge times each cell, and knows which one ended this
    process if one does)."""
    results = []
    for index, cell in enumerate(cells):
        announce(index)
        filename = f"<cell {cell['id']}>"
        source = python_source(str(cell["source"]))
        linecache.cache[filename] = (len(source), None, [line + "\n" for line in source.splitlines()], filename)
        error, kind, line = None, None, 0
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout, 0.5)  # and again, should the cell catch it
        try:
            exec(compile(source, filename, "exec"), namespace)
        except CellTimeout:  # hwkit.settings.cell_timeout_reason's sentence (hwkit is not importable here)
            error = (f"CellTimeoutError: the cell ran longer than the {timeout:g} s limit (--timeout); raise it with "
                     f"hwkit grade --timeout {3 * timeout:g} if the answer is just slow")
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the next cell still runs
            error, kind = f"{type(exc).__name__}: {str(exc)[:300]}", type(exc).__name__
            line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == filename),
                        0)  # the cell's line it was raised in (the class report groups by it)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        results.append({"id": cell["id"], "error": error, "kind": kind, "line": line})
    return results


def question_child(channel: Channel, checks: ModuleType, question: str, namespace: dict) -> None:
    """In the forked child: observe one question's cases until the judge says "end"."""
    module = checks.checker_module(question)
    spec = module.QUESTIONS[question]
    restore = getattr(module, "restore_inputs", dict)
    wire, judging = checks._wire, checks._judging
    channel.send({"data": wire.encode(judging.notebook_data(namespace))})

    def helpers(helper: str, *args: object, **kwargs: object) -> object:
        channel.send({"call": helper, "args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)})
        reply = channel.receive()
        if "refused" in reply:
            raise checks.CheckFailure(str(reply["refused"]))
        return wire.decode(reply["answer"])

    while True:
        request = channel.receive()
        if request.get("op") != "case":
            return
        inputs = restore(wire.decode(request["inputs"]))
        observed = judging.observe_safely(spec, namespace, inputs, helpers)
        channel.send({"observed": wire.encode(observed)})


def observe_question(channel: Channel, request: dict, work: Callable[[], None]) -> None:
    """Fork a child for one question that does `work` (a crash, hang or mess there costs that question only)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            with open(os.devnull, "w") as null:
                sys.stdout = sys.stderr = null  # what the student's code prints while it is checked
                work()
        except BaseException:
            code = 1
        os._exit(code)
    deadline = time.monotonic() + float(request["timeout"])
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    channel.send({"question_done": request["question"], "status": os.waitstatus_to_exitcode(status),
                  "timed_out": timed_out})


def sibling(name: str) -> ModuleType:
    """A trusted module beside this file: `hwkit_<name>.py` in the sandbox's grader mount, `<name>.py` in hwkit/."""
    folder = os.path.dirname(os.path.abspath(__file__))
    for filename in (f"hwkit_{name}.py", f"{name}.py"):
        if os.path.exists(os.path.join(folder, filename)):
            spec = importlib.util.spec_from_file_location(f"_hwkit_trusted_{name}", os.path.join(folder, filename))
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module
    raise ImportError(f"{name} is missing beside the observer")


def serve(socket_path: str, checks_folder: str) -> None:
    """Connect to the judge and answer its requests until it hangs up (`checks_folder`: the assignment's
    trusted checks package, or "" for an assignment judged by its test cells through stand-ins)."""
    checks = load_checks(checks_folder) if checks_folder else None
    wire = checks._wire if checks else sibling("wire")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    channel = Channel(sock, wire)
    sys.path.insert(0, os.getcwd())  # the notebook's folder: its helper modules, as in the kernel
    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": lambda *a, **k: None}
    shell = QuietShell(namespace)
    namespace["get_ipython"] = lambda: shell
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        if request.get("op") == "cells":
            with open(os.devnull, "w") as null:
                sys.stdout = sys.stderr = null  # prints of the notebook: nobody reads them here
                results = run_cells(request["cells"], float(request["timeout"]), namespace,
                                    lambda index: channel.send({"cell": index}))
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            channel.send({"cells": results})
        elif request.get("op") == "question" and checks is not None:
            work = functools.partial(question_child, channel, checks, str(request["question"]), namespace)
            observe_question(channel, request, work)
        elif request.get("op") == "standins":
            observe_question(channel, request, functools.partial(sibling("standin_server").serve, channel, wire,
                                                                 namespace))
        # anything else is a late reply meant for a child that died: ignored


def main(argv: list[str]) -> None:
    """`python observer.py SOCKET CHECKS_FOLDER` (outside the sandbox: build verification)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    serve(argv[1], argv[2])


if __name__ == "__main__":
    main(sys.argv)
