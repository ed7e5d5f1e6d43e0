"""The sandbox side of the stand-ins: runs in the student's process, knows no test.

To judge an ordinary nbgrader test cell (cell_judge.py), the judge runs the instructor's test code in
its own process, where each name of the student's notebook the test uses is a stand-in
(standins.py). Every use of a stand-in (calling it, reading an attribute or an item, iterating it,
asking its length) is one request to `serve`, in a forked child of the observer (observer.py) that
holds the notebook's namespace; the request is done on the real object and answered with the result
as plain data (the wire codec), or, for an object that cannot cross, with a numbered reference the
judge can use in later requests. The judge never receives an object of the student's, so no
comparison or truth value is decided by student code.

Standalone on purpose (copied into the sandbox's grader mount): the standard library and the wire
codec only.

  judge -> here: {"op": "describe", "names"}; {"op": "call", "ref", "args", "kwargs"};
                 {"op": "getattr", "ref", "name"}; {"op": "getitem", "ref", "key"}; {"op": "iter", "ref"};
                 {"op": "len", "ref"}; {"op": "end"}
  here -> judge: {"value"} or {"raised": type name, "message", "where"}; to describe: {"names": {name: entry}},
                 entry {"module": name} or {"value"}
"""
from __future__ import annotations

import itertools
import traceback
import types
from typing import Any

MAX_ITEMS = 10000  # items of one iteration that cross (a test iterates parameters, layers, rows)
CELL_PREFIX = "<cell "  # the file name the observer compiles each notebook cell under


class Objects:
    """The student's objects the judge holds a reference to, by number (kept alive while it may use them)."""

    def __init__(self) -> None:
        self.by_number: dict[int, Any] = {}
        self.numbers: dict[int, int] = {}  # id(obj) -> number: one object, one reference

    def refer(self, obj: Any) -> int:
        number = self.numbers.get(id(obj))
        if number is None:
            number = len(self.by_number) + 1
            self.by_number[number], self.numbers[id(obj)] = obj, number
        return number

    def resolve(self, number: Any) -> Any:
        if isinstance(number, dict):  # a reference as the wire decodes it
            number = number.get("ref")
        if number not in self.by_number:
            raise LookupError(f"no object number {number}")
        return self.by_number[number]


def where(exc: BaseException) -> str:
    """The notebook cell and line of the student's code an exception came from (the innermost)."""
    place = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.startswith(CELL_PREFIX):
            place = f"cell {name[len(CELL_PREFIX):-1]}, line {line}"
    return place


def answer(request: dict, namespace: dict, objects: Objects, wire: types.ModuleType) -> dict:
    """Do one request on the student's objects; its result as plain data or a reference."""
    op = request.get("op")
    if op == "describe":
        return {"names": {str(name): describe(namespace[name], objects, wire)
                          for name in request.get("names", []) if isinstance(name, str) and name in namespace}}
    target = objects.resolve(request.get("ref"))
    if op == "call":
        args = wire.decode(request.get("args"), resolve=objects.resolve)
        kwargs = wire.decode(request.get("kwargs"), resolve=objects.resolve)
        value = target(*args, **{str(k): v for k, v in kwargs.items()})
    elif op == "getattr":
        value = getattr(target, str(request.get("name")))
    elif op == "getitem":
        value = target[wire.decode(request.get("key"), resolve=objects.resolve)]
    elif op == "iter":
        value = list(itertools.islice(iter(target), MAX_ITEMS))
    elif op == "len":
        value = len(target)
    else:
        raise ValueError(f"unknown request {op!r}")
    return {"value": plain_or_reference(value, objects, wire)}


def plain_or_reference(value: Any, objects: Objects, wire: types.ModuleType) -> Any:
    """`value` as plain data, or as a reference when it cannot be read as such (an object that lies about
    its class, say): the judge then holds a handle, which decides nothing."""
    try:
        return wire.encode(value, refer=objects.refer)
    except Exception:
        return wire.reference(objects.refer(value), value)


def describe(value: Any, objects: Objects, wire: types.ModuleType) -> dict:
    """A name of the notebook as the judge needs it: a module by its name (the judge uses its own), else its value."""
    if type(value) is types.ModuleType:
        return {"module": str(getattr(value, "__name__", ""))[:200]}
    return {"value": plain_or_reference(value, objects, wire)}


def serve(channel: Any, wire: types.ModuleType, namespace: dict) -> None:
    """Answer the judge's requests on `namespace` until it says "end" (in the question's forked child)."""
    objects = Objects()
    while True:
        request = channel.receive()
        if request.get("op") == "end":
            return
        try:
            reply = answer(request, namespace, objects, wire)
        except BaseException as exc:  # SystemExit too: the student's code ended the call, not this loop
            reply = {"raised": type(exc).__name__[:100], "message": _text(exc), "where": where(exc)}
        channel.send(reply)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except BaseException:  # the student's exception cannot even say what it is
        return ""
