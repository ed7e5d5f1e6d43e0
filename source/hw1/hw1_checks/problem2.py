"""Checks for Problem 2 (decision regions and depth): how each case's points are made and
how a student's network is judged.

Networks are built with the layer API of `decision_regions` (Network of Layers with W,
b and an activation). The checks never trust a network's own methods: they read the
layers' weights, run their own forward pass and count units and depth themselves.

Points are drawn on a jittered grid over [0, size]^2. Which points lie too close to a
decision boundary to judge, and the expected labels, come from `public_expected.json`
(public cases) or from the instructor's reference (hidden cases); nothing here encodes
where the boundaries are.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from ._core import assert_labels, fail
from ._judging import Context, Question, checkers, observe_call, result_of

# Every kind of variation of the hidden cases shows in a public case too (several n and ranges, the
# growth of the unit count up to n = 8); the hidden cases add denser grids and larger n.
PUBLIC_CASES: dict[str, list[dict]] = {
    "q2_fig1b": [dict(seed=1, size=1, grid=8)],
    "q2_fig1c": [dict(seed=2, size=2, grid=8)],
    "q2_region_label": [dict(seed=3, size=2, grid=8), dict(seed=6, size=8, grid=32)],
    "q2_deep_network": [dict(seed=4, n=1, size=2, grid=8), dict(seed=7, n=3, size=8, grid=32),
                        dict(kind="growth", ns=[1, 2, 3, 4, 5, 6, 7, 8])],
    "q2_shallow_network": [dict(seed=5, n=1, size=2, grid=8), dict(seed=8, n=2, size=4, grid=24)],
}

STEP_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "step": lambda z: (z > 0).astype(float),
    "relu": lambda z: np.maximum(z, 0.0),
    "abs": np.abs,
    "identity": lambda z: z,
}


def make_inputs(case: Mapping[str, Any]) -> dict:
    """Points X (2, grid^2) on a jittered grid over [0, size]^2: one random point per grid cell."""
    inputs = dict(case)
    if "seed" in case:
        rng = np.random.default_rng(case["seed"])
        g, size = case["grid"], case["size"]
        i1, i2 = np.meshgrid(np.arange(g), np.arange(g))
        cells = np.vstack([i1.ravel(), i2.ravel()]).astype(float)
        inputs["X"] = (cells + rng.random(cells.shape)) * (size / g)
    return inputs


def network_layers(net: Any, what: str) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The (W, b, activation) of every layer of `net`, validated; fails with a clear message."""
    layers = getattr(net, "layers", None)
    if not isinstance(layers, (list, tuple)) or not layers:
        fail(f"{what} should return a decision_regions.Network (a list of Layer objects), "
             f"not a {type(net).__name__}.")
    result = []
    previous = 2
    for number, layer in enumerate(layers, start=1):
        W, b, act = getattr(layer, "W", None), getattr(layer, "b", None), getattr(layer, "activation", None)
        try:
            W = np.array(W, dtype=float, ndmin=2)
            b = np.array(b, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            fail(f"layer {number} of {what} is not a Layer(W, b, activation) of numbers.")
        if W.ndim != 2 or b.shape != (W.shape[0],) or act not in STEP_ACTIVATIONS:
            fail(f"layer {number} of {what} is not a valid Layer(W, b, activation): "
                 "build it with decision_regions.Layer.")
        if not np.all(np.isfinite(W)) or not np.all(np.isfinite(b)):
            fail(f"layer {number} of {what} has nan or inf weights.")
        if W.shape[1] != previous:
            fail(f"layer {number} of {what} takes {W.shape[1]} inputs but receives {previous}.")
        previous = W.shape[0]
        result.append((W, b, act))
    if previous != 1:
        fail(f"the output layer of {what} has {previous} units; it must have exactly 1.")
    return result


def classify(layers: list[tuple[np.ndarray, np.ndarray, str]], X: np.ndarray) -> np.ndarray:
    """Class labels (N,) of the points X (2, N): output > 0.5 means class 1."""
    H = np.asarray(X, dtype=float)
    for W, b, act in layers:
        H = STEP_ACTIVATIONS[act](W @ H + b[:, None])
    return (H[0] > 0.5).astype(float)


def units(layers: list) -> int:
    return int(sum(W.shape[0] for W, _, _ in layers))


def describe_network(net: Any) -> Any:
    """A network as plain data (student side): its layers' W, b and activation, nothing else."""
    layers = getattr(net, "layers", None)
    if not isinstance(layers, (list, tuple)):
        if net is None or isinstance(net, (int, float, str, np.ndarray)):
            return net
        return {"not_network": type(net).__name__}
    return {"layers": [{"W": getattr(layer, "W", None), "b": getattr(layer, "b", None),
                        "activation": getattr(layer, "activation", None)} for layer in list(layers)[:1000]]}


def _network(described: Any) -> Any:
    """An object with the described network's layers, for `network_layers` (judging side)."""
    if isinstance(described, dict) and isinstance(described.get("layers"), list):
        return SimpleNamespace(layers=[SimpleNamespace(**{k: layer.get(k) for k in ("W", "b", "activation")})
                                       for layer in described["layers"] if isinstance(layer, dict)])
    if isinstance(described, dict) and "not_network" in described:
        return type(str(described["not_network"]).replace(".", "_") or "object", (), {})()
    return described


def _observe_net(env: Mapping, name: str, *args) -> dict:
    built = observe_call(env, name, *args)
    if "value" in built:
        built["value"] = describe_network(built["value"])
    return built


def _built(observed: dict, name: str, *args) -> tuple[list, str]:
    what = f"{name}({', '.join(map(repr, args))})"
    return network_layers(_network(result_of(observed, name)), what), what


def _assert_classes(labels: Any, expected: dict, what: str) -> None:
    want, ignore = np.asarray(expected["labels"], dtype=float), np.asarray(expected["ignore"], dtype=bool)
    swapped = (isinstance(labels, np.ndarray) and labels.shape == want.shape
               and np.array_equal(labels[~ignore], 1 - want[~ignore]))
    if swapped:
        fail(f"{what}: class 0 and class 1 are swapped everywhere (class 0 is the lower-left square of Figure 1(b)).")
    assert_labels(labels, want, what, ignore=ignore)


def _labels(layers: list, inputs: dict, expected: dict, what: str) -> None:
    _assert_classes(classify(layers, inputs["X"]), expected,
                    f"the classes that {what} gives on [0, {inputs['size']}]^2")


def observe_fig1b(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"net": _observe_net(env, "net_fig1b")}


def judge_fig1b(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    layers, what = _built(observed["net"], "net_fig1b")
    if len(layers) != 2 or layers[0][0].shape[0] != 2:
        fail(f"{what} must have the structure of Figure 1(a): a first layer of 2 units (h11, h12) and an "
             f"output layer of 1 unit (y); it has layers of {[W.shape[0] for W, _, _ in layers]} units.")
    W = layers[0][0]
    if W[0, 1] != 0 or W[1, 0] != 0:
        fail(f"in {what}, h11 = f11(x1) must depend on x1 only and h12 = f12(x2) on x2 only: "
             "the first layer's W must be diagonal.")
    _labels(layers, inputs, expected, what)


def observe_fig1c(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"net": _observe_net(env, "net_fig1c")}


def judge_fig1c(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    layers, what = _built(observed["net"], "net_fig1c")
    if len(layers) != 3:
        fail(f"{what} must have exactly one more layer than Figure 1(a), i.e. 3 layers; it has {len(layers)}.")
    _labels(layers, inputs, expected, what)


def observe_region_label(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"labels": observe_call(env, "region_label", np.array(inputs["X"], copy=True))}


def judge_region_label(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    labels = result_of(observed["labels"], "region_label")
    if isinstance(labels, np.ndarray) and labels.shape == (1, inputs["X"].shape[1]):
        labels = labels[0]
    _assert_classes(labels, expected, f"region_label(X) on [0, {inputs['size']}]^2")


def observe_deep_network(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    if inputs.get("kind") == "growth":
        return {"nets": [_observe_net(env, "net_deep", n) for n in inputs["ns"]]}
    return {"net": _observe_net(env, "net_deep", inputs["n"])}


def judge_deep_network(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    if inputs.get("kind") == "growth":
        ns = list(inputs["ns"])
        counts = [units(_built(net, "net_deep", n)[0]) for net, n in zip(observed["nets"], ns)]
        steps = {b - a for a, b in zip(counts, counts[1:])}
        if len(steps) != 1 or min(steps) < 0:
            fail(f"net_deep(n) for n = {ns} has {counts} units: the number of units must grow linearly in n "
                 "(the same number of extra units for every extra doubling of the range).")
        return
    layers, what = _built(observed["net"], "net_deep", inputs["n"])
    _labels(layers, inputs, expected, what)


def observe_shallow_network(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"net": _observe_net(env, "net_shallow", inputs["n"])}


def judge_shallow_network(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    layers, what = _built(observed["net"], "net_shallow", inputs["n"])
    if len(layers) != 2:
        fail(f"{what} has {len(layers)} layers; only one hidden layer is allowed (a hidden layer and the output unit).")
    _labels(layers, inputs, expected, what)


QUESTIONS: dict[str, Question] = {
    "q2_fig1b": Question(observe_fig1b, judge_fig1b),
    "q2_fig1c": Question(observe_fig1c, judge_fig1c),
    "q2_region_label": Question(observe_region_label, judge_region_label),
    "q2_deep_network": Question(observe_deep_network, judge_deep_network),
    "q2_shallow_network": Question(observe_shallow_network, judge_shallow_network),
}
CHECKERS = checkers(QUESTIONS)
