"""Instructor-only reference for Problem 2: expected labels for every case.

The answer key is the reference deep network (space folding): on [0, 2^n]^2, n folding
layers u <- c - |u - c| with centres c = 2^(n-1), ..., 2, 1 (one abs unit per
coordinate and layer), then f11 = step(u1 - 1/2), f12 = step(u2 - 1/2) and
g = |h11 - h12| (XOR of two 0/1 values): 2n + 3 units, depth n + 2. Its labels are
cross-checked against the closed form (parity of round(x1) + round(x2)). That the
notebook's figures (drawn by decision_regions.py) agree with this key is tested in
tests/test_problem2.py, not here: at grading time decision_regions.py is the student's
copy, so the grader does not depend on it.
"""
from __future__ import annotations

import numpy as np

from .cases import hidden_cases

MARGIN = 0.02  # points closer than this to a boundary line are not judged

HIDDEN_CASES: dict[str, list[dict]] = hidden_cases("q2_")  # edit them in the notebook's hidden blocks


def special_inputs(case: dict) -> dict | None:
    return None


def deep_reference(n: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The reference network for [0, 2^n]^2 as (W, b, activation) layers."""
    layers = []
    offset = np.zeros(2)  # each fold's "c -" is carried into the next layer's bias
    sign = np.ones(2)
    for k in range(n - 1, -1, -1):
        c = 2.0 ** k
        # u_prev = offset + sign * h_prev; this layer computes |u_prev - c|, and u = c - |u_prev - c|
        layers.append((np.diag(sign), offset - c, "abs"))
        offset, sign = np.full(2, c), -np.ones(2)
    layers.append((np.diag(sign), offset - 0.5, "step"))  # h11 = step(u1 - 1/2), h12 = step(u2 - 1/2)
    layers.append((np.array([[1.0, -1.0]]), np.zeros(1), "abs"))  # g = |h11 - h12|
    return layers


def run(layers, X: np.ndarray) -> np.ndarray:
    H = np.asarray(X, dtype=float)
    acts = {"abs": np.abs, "step": lambda z: (z > 0).astype(float)}
    for W, b, act in layers:
        H = acts[act](W @ H + b[:, None])
    return (H[0] > 0.5).astype(float)


def closed_form(X: np.ndarray) -> np.ndarray:
    return (np.floor(X[0] + 0.5) + np.floor(X[1] + 0.5)) % 2


def near_boundary(X: np.ndarray, size: float) -> np.ndarray:
    """Points within MARGIN of one of the lines x = 1/2, 3/2, ..., size - 1/2."""
    distance = np.abs((X - 0.5) - np.round(X - 0.5))
    return np.any(distance < MARGIN, axis=0)


def labels(X: np.ndarray, size: float) -> dict:
    n = int(round(np.log2(size)))
    assert 2 ** n == size
    layers = deep_reference(n)
    assert sum(W.shape[0] for W, _, _ in layers) == 2 * n + 3 and len(layers) == n + 2
    ignore = near_boundary(X, size)
    result = run(layers, X)
    keep = ~ignore
    assert np.array_equal(result[keep], closed_form(X)[keep])
    return {"labels": result, "ignore": ignore}


def expected(question: str, inputs: dict) -> dict:
    """The reference answer of `question` on one case's inputs (see hw1_checks.problem2)."""
    if question not in HIDDEN_CASES:
        raise KeyError(question)
    if inputs.get("kind") == "growth":
        return {}
    return labels(inputs["X"], inputs["size"])
