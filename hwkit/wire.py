"""Plain data across the wall between the grader and a student's process (the one codec: `hwkit build` copies
it into an assignment's checks package as `_wire.py`, and it runs in the sandbox as hwkit_wire.py).

What a student's code returns crosses as JSON: numbers, strings, lists and dicts, NumPy arrays
(raw bytes in base64, numeric and bool dtypes only) and PyTorch tensors (the same, plus their
dtype and whether they track gradients). Subclasses of those plain types (an OrderedDict, a
namedtuple, an IntEnum) cross as their base type: they are what the text asks for. Decoding
builds nothing but those: no pickle, no class of the student's, so reading an answer can never
run the student's code. Any other object arrives as an empty stand-in that only keeps its type's name (for
messages), or, for the stand-ins of the cell judge (standins.py), as a numbered reference to it.

The students' own `check(...)` round-trips its observations through this codec too, so the
public checks and the grader judge exactly the same data.
"""
from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

ARRAY_KINDS = "biuf"  # bool, signed and unsigned integers, floats
MAX_DEPTH = 32
MAX_BYTES = 8 * 2**20  # one message (the largest real answer is ~0.2 MB); a bigger one is a failure
# Bytes one decoded message may build: arrays of numbers carry their bytes, but an array of objects
# crosses as its shape only, so without this a 200-byte message could ask for gigabytes.
MAX_DECODED = 2 * MAX_BYTES
MAX_TEXT = 2000  # characters of any string that crosses (messages, names)
TENSOR_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


class WireError(ValueError):
    """A message that is not plain data of the agreed form (a broken or lying process)."""


class Opaque:
    """Stands for an object that cannot cross (a function, a model, ...): only its type's name does."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object>"


def encode(value: Any, depth: int = 0, refer: Callable[[Any], int] | None = None) -> Any:
    """`value` as JSON-able plain data (student side). With `refer`, an object that cannot cross becomes a
    reference `{"ref": refer(value), "type": name, "mro": lineage}` to it, not an empty stand-in."""
    if depth > MAX_DEPTH:
        return {"object": "deeply nested value"}
    if value is None or type(value) is bool:
        return value
    if type(value) is str:
        return value[:MAX_TEXT]
    if type(value) is int:
        return value if abs(value) < 2**63 else float(value)
    if type(value) is float:
        return {"float": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        return {"scalar": value.dtype.str, "value": encode(value.item(), depth + 1)}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if type(value) in (tuple, list):
        return {type(value).__name__: [encode(v, depth + 1, refer) for v in value[:100000]]}
    if type(value) is dict:
        return {"dict": [[encode(k, depth + 1, refer), encode(v, depth + 1, refer)]
                         for k, v in list(value.items())[:10000]]}
    tensor = _encode_tensor(value)
    if tensor is not None:
        return tensor
    base = _base_value(value)
    if base is not None:
        return encode(base, depth, refer)
    if refer is not None:
        return reference(refer(value), value)
    return {"object": type(value).__name__}


def reference(number: int, value: Any) -> dict:
    """A reference to `value`: its number, its type's name and its classes ("module.Name", most derived first);
    for a class, its own classes too ("class_mro")."""
    found = {"ref": number, "type": type(value).__name__[:MAX_TEXT], "mro": _lineage(type(value))}
    if isinstance(value, type):
        found["class_mro"] = _lineage(value)
    return found


def _lineage(cls: type) -> list[str]:
    return [f"{getattr(c, '__module__', '')}.{getattr(c, '__qualname__', '')}"[:200] for c in cls.__mro__[:16]]


def _base_value(value: Any) -> Any:
    """A subclass of a plain type as that type (an OrderedDict, a namedtuple, an IntEnum, np.str_ ...):
    students return those for a dict, a tuple or a number, and they are those. Read through the base
    type's own methods, so an override in the subclass changes nothing."""
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        return tuple(tuple.__iter__(value))
    if isinstance(value, list):
        return list(list.__iter__(value))
    if isinstance(value, dict):
        return dict(dict.items(value))
    return None


def _encode_array(value: np.ndarray) -> dict:
    array = np.ndarray.view(value, np.ndarray)
    shape = [int(n) for n in array.shape]
    if array.dtype.kind not in ARRAY_KINDS:
        return {"array": None, "dtype": str(array.dtype), "shape": shape}
    data = np.ascontiguousarray(array).tobytes()
    return {"array": base64.b64encode(data).decode("ascii"), "dtype": array.dtype.str, "shape": shape}


def _encode_tensor(value: Any) -> dict | None:
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    dtype = str(value.dtype).replace("torch.", "")
    plain = value.detach().cpu()
    if dtype == "bfloat16":
        plain = plain.float()
    return {"tensor": _encode_array(plain.numpy()), "dtype": dtype, "requires_grad": bool(value.requires_grad)}


def dumps(value: Any) -> str:
    """One line of JSON for `value` (already encoded)."""
    return json.dumps(value, separators=(",", ":"))


def decode(data: Any, depth: int = 0, resolve: Callable[[dict], Any] | None = None) -> Any:
    """The plain value `data` stands for (grader side); WireError if it is not of the agreed form or
    would build more than MAX_DECODED bytes of arrays. A reference becomes `resolve(the reference's dict)`
    (without `resolve`, a reference is not of the agreed form)."""
    try:
        return _decode(data, depth, [MAX_DECODED], resolve)
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, KeyError, RecursionError, MemoryError) as exc:
        raise WireError(f"{type(exc).__name__}: {str(exc)[:120]}") from None


def _decode(data: Any, depth: int, budget: list[int], resolve: Callable[[dict], Any] | None = None) -> Any:
    """`budget`: a one-item list, the array bytes the message may still build."""
    if depth > MAX_DEPTH + 2:
        raise WireError("nested too deeply")
    if data is None or type(data) in (bool, int):
        return data
    if type(data) is str:
        return data[:MAX_TEXT]
    if type(data) is float:
        return data
    if type(data) is not dict or len(data) == 0:
        raise WireError(f"unexpected {type(data).__name__}")
    if "float" in data:
        return float(data["float"])
    if "scalar" in data:
        dtype = _dtype(data["scalar"])
        return dtype.type(_decode(data["value"], depth + 1, budget))
    if "ref" in data and resolve is not None and type(data["ref"]) is int:
        return resolve(data)
    if "array" in data:
        return _decode_array(data, budget)
    if "tuple" in data:
        return tuple(_decode(v, depth + 1, budget, resolve) for v in _list(data["tuple"]))
    if "list" in data:
        return [_decode(v, depth + 1, budget, resolve) for v in _list(data["list"])]
    if "dict" in data:
        result = {}
        for pair in _list(data["dict"]):
            key, value = _list(pair)
            key = _decode(key, depth + 1, budget)
            if not isinstance(key, (str, int, float, bool, type(None), tuple)):
                raise WireError("unhashable key")
            result[key] = _decode(value, depth + 1, budget, resolve)
        return result
    if "tensor" in data:
        return _decode_tensor(data, budget)
    if "object" in data:
        name = re.sub(r"\W", "_", str(data["object"]))[:60] or "object"
        return type(name if name[0].isalpha() else "_" + name, (Opaque,), {})()
    raise WireError(f"unknown form {sorted(data)[:3]}")


def _list(value: Any) -> list:
    if type(value) is not list:
        raise WireError("expected a list")
    return value


def _dtype(text: Any) -> np.dtype:
    try:
        dtype = np.dtype(str(text))
    except TypeError:
        raise WireError(f"bad dtype {text!r}") from None
    if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
        raise WireError(f"dtype {text!r} cannot cross")
    return dtype


def _decode_array(data: dict, budget: list[int]) -> np.ndarray:
    shape = tuple(int(n) for n in _list(data.get("shape")))
    if any(n < 0 for n in shape) or len(shape) > 32:
        raise WireError("negative size or too many dimensions")
    count = math.prod(shape)  # Python's integers: np.prod would wrap around
    if data["array"] is None:  # an array of objects or strings: its dtype and shape only
        _spend(budget, count * np.dtype(object).itemsize)
        return np.empty(shape, dtype=object)
    dtype = _dtype(data["dtype"])
    _spend(budget, count * dtype.itemsize)
    raw = base64.b64decode(str(data["array"]), validate=True)
    if count * dtype.itemsize != len(raw):
        raise WireError("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _spend(budget: list[int], size: int) -> None:
    if size > budget[0]:
        raise WireError(f"the arrays of one message would take more than {MAX_DECODED // 2**20} MB")
    budget[0] -= size


def _decode_tensor(data: dict, budget: list[int]):
    import torch

    dtype = str(data.get("dtype"))
    if dtype not in TENSOR_DTYPES:
        raise WireError(f"tensor dtype {dtype!r} cannot cross")
    array = _decode_array(data["tensor"], budget)
    tensor = torch.from_numpy(np.array(array)).to(getattr(torch, dtype))
    if data.get("requires_grad") is True and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def roundtrip(value: Any) -> Any:
    """`value` as the grader would receive it from a student's process."""
    return decode(json.loads(dumps(encode(value))))


def loads(line: bytes | str) -> Any:
    """Parse one received line (JSON only; size-limited)."""
    if len(line) > MAX_BYTES:
        raise WireError("message too large")
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not JSON ({str(exc)[:80]})") from None
