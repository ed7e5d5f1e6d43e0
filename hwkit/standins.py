"""Stand-ins: the student's names as an instructor's test cell sees them in the judge's process.

The test code runs here (cell_judge.py); the student's code runs in the sandbox (standin_server.py
answers there). A name of the student's notebook is, in the test's namespace:
  * plain data (numbers, strings, lists, tuples, dicts, NumPy arrays, PyTorch tensors; subclasses
    arrive as their base type): a copy, decoded here, compared by the judge's own code;
  * a module: the judge's own import of the same module (`np`, `torch`), never the student's;
  * anything else (a function, a class, a model): a `StudentObject`, a handle the test may call, index,
    iterate, ask the length and read attributes of, and pass back to student code. What those return
    is again plain data or a handle. A handle refuses `==`, `<`, `bool()`, `hash()` and arithmetic:
    such answers would be decided by the student's code, so the test must compare data instead.
"""
from __future__ import annotations

import functools
import importlib
import sys
from typing import Any

from . import wire
from .judge_socket import Connection

# Packages a test may use as the notebook imported them (the judge imports its own copy); any other
# module of the notebook is a handle. Their import has no side effect.
JUDGE_MODULES = ("numpy", "torch", "math", "cmath", "random", "statistics", "collections", "itertools",
                 "functools", "operator", "re", "string", "json", "scipy", "pandas", "sklearn", "matplotlib")
REPLY_GRACE = 10.0  # seconds past the question's limit the sandbox may take to say its child was stopped


class StudentCodeError(Exception):
    """The student's code raised while the test used it (the type's name, its message, its cell and line)."""

    def __init__(self, kind: str, message: str, where: str):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind, self.message, self.where = kind, message, where


class Refused(TypeError):
    """The test asked a handle what only the student's code could answer, or passed what cannot cross."""


class QuestionOver(Exception):
    """The sandbox's side of the question ended (stopped at the time limit, or the student's code ended it)."""

    def __init__(self, timed_out: bool, status: Any):
        super().__init__("stopped at the time limit" if timed_out else f"exit status {status}")
        self.timed_out, self.status = timed_out, status

    @classmethod
    def of(cls, message: dict) -> QuestionOver:
        """From the observer's {"question_done", "timed_out", "status"} message."""
        return cls(bool(message.get("timed_out")), message.get("status"))


class Session:
    """One question's conversation with the stand-in server, every request within the question's limit."""

    def __init__(self, connection: Connection, deadline: float):
        self.connection, self.deadline = connection, deadline  # the last moment a reply may come

    def _ask(self, message: dict) -> dict:
        """The sandbox's reply to `message` (QuestionOver when the question's child ended instead)."""
        self.connection.send(message)
        reply = self.connection.receive(self.deadline)
        if "question_done" in reply:
            raise QuestionOver.of(reply)
        return reply

    def request(self, message: dict) -> Any:
        reply = self._ask(message)
        if "raised" in reply:
            raise StudentCodeError(str(reply["raised"])[:100], str(reply.get("message", ""))[:300],
                                   str(reply.get("where", ""))[:200])
        if "value" not in reply:
            raise wire.WireError(f"unexpected reply {sorted(reply)[:3]}")
        return self.decode(reply["value"])

    def decode(self, data: Any) -> Any:
        return wire.decode(data, resolve=lambda ref: StudentObject(self, ref["ref"], str(ref.get("type"))[:100],
                                                                   ref.get("mro"), ref.get("class_mro")))

    def encode(self, value: Any) -> Any:
        return wire.encode(value, refer=_reference)

    def names(self, names: list[str]) -> dict[str, Any]:
        """The notebook's values of `names` (those it defines), as the test's namespace holds them."""
        entries = self._ask({"op": "describe", "names": names}).get("names")
        if not isinstance(entries, dict):
            raise wire.WireError("no names in the reply")
        found = {}
        for name in names:
            entry = entries.get(name)
            if not isinstance(entry, dict):
                continue
            if "module" in entry:
                found[name] = judge_module(str(entry["module"]))
            elif "value" in entry:
                found[name] = self.decode(entry["value"])
        return found


def judge_module(name: str) -> Any:
    """The judge's own copy of a module the notebook imported (only the packages of JUDGE_MODULES)."""
    if name.split(".")[0] in JUDGE_MODULES:
        try:
            return sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            pass
    return _NotAvailable(name)


class _NotAvailable:
    """A module of the notebook the test cannot use (the student's own, or one the judge does not import)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise Refused(f"the test uses the notebook's module {self._name!r}, which only the student's process has: "
                      "import what the test needs in the test cell")


# Classes a handle never claims to be: what is one of them crosses as data, never as a handle.
DATA_CLASSES = (int, float, complex, str, bytes, list, tuple, dict, set, frozenset)


@functools.lru_cache(maxsize=256)
def emulated_class(kind: str, lineage: tuple[str, ...]) -> type:
    """What a handle says its class is: a class named as the student's, deriving from the most derived library
    class of its lineage the judge has (from JUDGE_MODULES' packages; never a data class, never the student's
    own), else StudentObject."""
    for name in lineage:
        module, _, qualname = name.rpartition(".")
        found = _library_class(module, qualname)
        if found is not None:
            try:  # only isinstance/issubclass ever see it: no instance is made
                return type(kind.isidentifier() and kind or "object", (found,), {"__module__": "student"})
            except Exception:  # a class that cannot be derived from here
                return StudentObject
    return StudentObject


def _library_class(module: str, qualname: str) -> type | None:
    if module.split(".")[0] not in JUDGE_MODULES or "<" in qualname or module not in sys.modules:
        return None
    value: Any = sys.modules[module]
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if not isinstance(value, type) or value is object:
        return None
    import numpy

    data = DATA_CLASSES + (numpy.ndarray, numpy.generic)
    data += (sys.modules["torch"].Tensor,) if "torch" in sys.modules else ()
    return None if issubclass(value, data) else value


def _names(lineage: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in lineage[:16]) if type(lineage) is list else ()


def _reference(value: Any) -> int:
    """What crosses for an object of the test's (wire.encode's `refer`): only the student's own handles."""
    if isinstance(value, StudentObject):
        return object.__getattribute__(value, "_ref")
    raise Refused(f"the test passes a {type(value).__name__} to the student's code: only plain data (numbers, "
                  "strings, lists, dicts, arrays, tensors) and the student's own objects can cross")


def _refuse(what: str):
    def refused(self, *args: Any) -> Any:
        kind = object.__getattribute__(self, "_type")
        raise Refused(f"{what} of the student's {kind} object would be decided by the student's code: "
                      "compare its data (a number, an array, a tensor) instead")
    return refused


class StudentObject:
    """A handle on one of the student's objects in the sandbox (see the module's docstring)."""

    __slots__ = ("_session", "_ref", "_type", "_lineage", "_class_lineage")

    def __init__(self, session: Session, ref: int, kind: str, lineage: Any = None, class_lineage: Any = None):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_lineage", _names(lineage))
        object.__setattr__(self, "_class_lineage", _names(class_lineage))  # the student's object is a class

    @property
    def __class__(self) -> type:
        """For isinstance: a class deriving from the library classes the student's class derives from
        (`isinstance(net, torch.nn.Module)` holds for a student's module); type() stays StudentObject."""
        return emulated_class(object.__getattribute__(self, "_type"), object.__getattribute__(self, "_lineage"))

    @property
    def __bases__(self) -> tuple[type, ...]:
        """For issubclass, when the student's object is a class: `issubclass(Net, torch.nn.Module)` holds."""
        lineage = object.__getattribute__(self, "_class_lineage")
        if not lineage:
            raise AttributeError("__bases__")
        return (emulated_class(lineage[0].rpartition(".")[2], lineage),)

    def _ask(self, op: str, **fields: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        return session.request({"op": op, "ref": object.__getattribute__(self, "_ref"), **fields})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        return self._ask("call", args=session.encode(list(args)), kwargs=session.encode(dict(kwargs)))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # protocols (__array_interface__, ...) stay here
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=object.__getattribute__(self, "_session").encode(key))

    def __iter__(self):
        return iter(self._ask("iter"))

    def __len__(self) -> int:
        length = self._ask("len")
        if type(length) is not int or length < 0:
            raise Refused("the student's object gave a length that is not a number")
        return length

    def __setattr__(self, name: str, value: Any) -> None:
        raise Refused("the test cannot set attributes of the student's objects: call their methods instead")

    def __repr__(self) -> str:
        return f"<the student's {object.__getattribute__(self, '_type')} object>"

    __eq__ = _refuse("comparing (==)")
    __ne__ = _refuse("comparing (!=)")
    __lt__ = __le__ = __gt__ = __ge__ = _refuse("ordering (<, >)")
    __bool__ = _refuse("the truth value")
    __hash__ = _refuse("hashing")
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse("arithmetic")
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __abs__ = _refuse("arithmetic")
    __float__ = __int__ = __index__ = _refuse("converting")
