"""The wire codec's limits and types (hw1_checks._wire, issue 24 item 4): what crosses from a
student's process decodes only to plain data, and a message can make the judge build no more than
MAX_DECODED bytes of arrays, whatever shape it claims."""
from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "source" / "hw1"))
from hw1_checks import _wire  # noqa: E402


def test_plain_values_roundtrip() -> None:
    value = {"a": [1, 2.5, "s", None, True], ("t", 1): (np.float32(0.5), np.int64(3)),
             "x": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.array([True, False])}
    back = _wire.roundtrip(value)
    assert back["a"] == value["a"] and back[("t", 1)] == (0.5, 3) and type(back[("t", 1)][0]) is np.float32
    assert np.array_equal(back["x"], value["x"]) and back["x"].dtype == np.float64 and back["b"].dtype == bool


def test_anything_else_arrives_as_a_stand_in() -> None:
    class Sneaky:
        def __eq__(self, other):
            return True

    back = _wire.roundtrip({"model": Sneaky(), "fn": print, "strings": np.array(["a", "b"])})
    assert isinstance(back["model"], _wire.Opaque) and type(back["model"]).__name__ == "Sneaky"
    assert isinstance(back["fn"], _wire.Opaque)
    assert back["strings"].dtype == object and back["strings"].shape == (2,) and back["strings"][0] is None


@pytest.mark.parametrize("data", [
    {"pickle": "gASV"}, {"tuple": "not a list"}, {"dict": [[{"list": []}, 1]]}, {"array": "AAAA", "dtype": "O",
                                                                                  "shape": [1]},
    {"array": "AAAA", "dtype": "<f8", "shape": [2]}, {"array": None, "shape": [-1]},
    {"array": "", "dtype": "<f8", "shape": [2**32, 2**32]},  # the product wraps to 0 in int64
    {"array": None, "shape": [2**28]},  # 2 GB of pointers from a 40-byte message
    {"list": [{"array": None, "shape": [2**19]}] * 5},  # 5 x 4 MB: each under the cap, together over it
    {"scalar": "<i8", "value": 2**70}, {"tensor": {"array": "", "dtype": "<f8", "shape": [0]}, "dtype": "object"},
])
def test_what_is_not_plain_data_is_refused(data) -> None:
    with pytest.raises(_wire.WireError):
        _wire.decode(json.loads(json.dumps(data)))


def test_an_object_array_builds_what_its_shape_says_unless_capped(monkeypatch) -> None:
    """Positive control for the cap: the same 40-byte message, small (32 MB), with the cap switched off
    does make the decoder allocate it; with the cap it allocates (almost) nothing."""
    message = {"array": None, "shape": [2**22]}

    def peak() -> int:
        tracemalloc.start()
        try:
            try:
                _wire.decode(message)
            except _wire.WireError:
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(_wire, "MAX_DECODED", 2**40)
    assert peak() >= 32 * 2**20
    monkeypatch.setattr(_wire, "MAX_DECODED", 2**20)
    assert peak() < 2**20
    assert _wire.MAX_DECODED < 2**28 * 8  # the real cap refuses the 2 GB one


def test_a_message_is_size_limited() -> None:
    with pytest.raises(_wire.WireError):
        _wire.loads(b"[" + b"1," * (_wire.MAX_BYTES // 2) + b"1]")
    with pytest.raises(_wire.WireError):
        _wire.loads("[" * 100000)
    assert _wire.loads('{"a": 1}') == {"a": 1}

