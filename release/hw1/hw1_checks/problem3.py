"""Checks for Problem 3 (Siamese and pseudo-Siamese nets): how each case's inputs are made
and how a student's answer is judged.

Conventions (the notebook states them too): vectors are **columns**. Siamese net:
W (m, n), b (m, 1), x1 and x2 (n, 1). Pseudo-Siamese net on a batch of N examples, one
per column: X (n, N), one-hot Y (k, N), W1 and W2 (m, n), b1 and b2 (m, 1), W3 (k, m),
b3 (k, 1); the objective is the mean cross-entropy over N.

Shipped to students: no correct formula lives here. The public cases of the two
one-value questions (parameter count, faster weight) only check the *form* of the
answer, so the public expected values do not give the answer away.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._core import as_array, as_tuple, assert_close, close, expect_shape, fail
from ._judging import Context, Question, checkers, observe_call, result_of

# Every kind of variation of the hidden cases shows in a public case too (other sizes, lambda = 0,
# saturated units, N = 1). The parameter count and FASTER_WEIGHT are answers to written questions:
# their public cases check the form only and the hidden ones the value, as the notebook says.
PUBLIC_CASES: dict[str, list[dict]] = {
    "q3_siamese_gradients": [dict(seed=1, m=3, n=2, lam=0.1), dict(seed=6, m=2, n=5, lam=0.0, scale=2.5)],
    "q3_siamese_update": [dict(seed=2, m=3, n=2, lam=0.1, alpha=0.5), dict(seed=7, m=4, n=3, lam=0.0, alpha=1.3)],
    "q3_parameter_count": [dict(kind="form", m=3, n=2), dict(kind="form", m=4, n=7)],
    "q3_pseudo_siamese_gradients": [dict(seed=3, n=3, m=4, k=2, N=5), dict(seed=6, n=2, m=5, k=3, N=1, scale=2.5)],
    "q3_faster_weight": [dict(kind="form")],
}


def make_inputs(case: Mapping[str, Any]) -> dict:
    """Arrays for one case (see the module docstring for the shapes)."""
    inputs = dict(case)
    if "seed" not in case:
        return inputs
    rng = np.random.default_rng(case["seed"])
    m, n = case["m"], case["n"]
    if "k" not in case:  # Siamese net
        inputs["W"] = rng.normal(scale=case.get("scale", 0.8), size=(m, n))
        inputs["b"] = rng.normal(scale=0.3, size=(m, 1))
        inputs["x1"] = rng.normal(size=(n, 1))
        inputs["x2"] = rng.normal(size=(n, 1))
        inputs["grad_W"] = rng.normal(size=(m, n))
        inputs["grad_b"] = rng.normal(size=(m, 1))
        return inputs
    k, N = case["k"], case["N"]
    for _ in range(1000):  # keep the ReLU branch away from its kink
        X = rng.normal(size=(n, N))
        W2 = rng.normal(scale=0.8, size=(m, n))
        b2 = rng.normal(scale=0.3, size=(m, 1))
        if np.min(np.abs(W2 @ X + b2)) > 0.05:
            break
    inputs.update(X=X, W2=W2, b2=b2)
    inputs["W1"] = rng.normal(scale=case.get("scale", 0.8), size=(m, n))
    inputs["b1"] = rng.normal(scale=0.3, size=(m, 1))
    inputs["W3"] = rng.normal(scale=0.8, size=(k, m))
    inputs["b3"] = rng.normal(scale=0.3, size=(k, 1))
    labels = rng.integers(0, k, size=N)
    Y = np.zeros((k, N))
    Y[labels, np.arange(N)] = 1.0
    inputs["Y"] = Y
    return inputs


def _copy(inputs: Mapping[str, Any], *names: str) -> list:
    return [np.array(inputs[n], copy=True) for n in names]


def _pair(result: Any, name: str, what: str) -> tuple:
    pair = as_tuple(result, 2)
    if pair is None:
        fail(f"{name} should return the pair {what}, got {_described(result)}.")
    return pair


def _described(result: Any) -> str:
    return f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list)) else type(result).__name__


def observe_siamese_gradients(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    W, b, x1, x2 = _copy(inputs, "W", "b", "x1", "x2")
    return {"grads": observe_call(env, "siamese_gradients", W, b, x1, x2, inputs["lam"])}


def judge_siamese_gradients(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    lam = inputs["lam"]
    grad_W, grad_b = _pair(result_of(observed["grads"], "siamese_gradients"), "siamese_gradients", "(grad_W, grad_b)")
    want_W, want_b = np.asarray(expected["grad_W"]), np.asarray(expected["grad_b"])
    W0 = inputs["W"]

    def diagnose_W(actual: np.ndarray, target: np.ndarray) -> str | None:
        if close(actual, target - lam * W0):
            return "The regularisation term is missing: (lambda/2) ||W||_F^2 contributes lambda W."
        if close(actual, target - lam * W0 / 2) or close(actual, target + lam * W0):
            return "The regularisation term is off: the derivative of (lambda/2) ||W||_F^2 is lambda W."
        return ("W is shared: both branches (x1 and x2) contribute to the gradient, with opposite signs of "
                "h1 - h2, each through the derivative of the sigmoid at its own pre-activation.")

    assert_close(grad_W, want_W, "grad_W", rtol=1e-6, atol=1e-10, diagnose=diagnose_W)

    def diagnose_b(actual: np.ndarray, target: np.ndarray) -> str | None:
        if close(actual, target + lam * inputs["b"]):
            return "Only W is regularised: the lambda term does not apply to b."
        return "Both branches contribute to grad_b, as for grad_W."

    assert_close(grad_b, want_b, "grad_b", rtol=1e-6, atol=1e-10, diagnose=diagnose_b)


def observe_siamese_update(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    W, b, gW, gb = _copy(inputs, "W", "b", "grad_W", "grad_b")
    return {"new": observe_call(env, "siamese_update", W, b, gW, gb, inputs["alpha"])}


def judge_siamese_update(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    new = _pair(result_of(observed["new"], "siamese_update"), "siamese_update", "(W_new, b_new)")
    for value, key, old in ((new[0], "W", inputs["W"]), (new[1], "b", inputs["b"])):
        target = np.asarray(expected[key])
        value = as_array(value, f"the updated {key}")
        expect_shape(value, target.shape, f"the updated {key}")
        if close(value, old):
            fail(f"{key} was not updated.")
        if close(value, 2 * old - target):
            fail(f"{key} moved uphill: gradient *descent* subtracts alpha times the gradient.")
        assert_close(value, target, f"the updated {key}", rtol=1e-9, atol=1e-12,
                     diagnose=lambda a, e, key=key: f"Use the step size alpha: {key} - alpha * grad_{key}.")


def observe_parameter_count(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"count": observe_call(env, "siamese_parameter_count", inputs["m"], inputs["n"])}


def judge_parameter_count(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    m, n = inputs["m"], inputs["n"]
    count = result_of(observed["count"], "siamese_parameter_count")
    if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)):
        fail(f"siamese_parameter_count should return an int, not a {type(count).__name__}.")
    if count <= 0:
        fail(f"siamese_parameter_count({m}, {n}) returned {count}: a model has a positive number of parameters.")
    if "count" not in expected:  # public case: the form only
        return
    want = expected["count"]
    if count == 2 * want:
        fail(f"siamese_parameter_count({m}, {n}) = {count} counts the shared parameters twice: both "
             "branches use the same W and b.")
    if count != want:
        fail(f"siamese_parameter_count({m}, {n}) = {count} is wrong: count every entry of W and of b once.")


def observe_pseudo_siamese_gradients(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    names = ("X", "Y", "W1", "b1", "W2", "b2", "W3", "b3")
    return {"grads": observe_call(env, "pseudo_siamese_gradients", *_copy(inputs, *names))}


def judge_pseudo_siamese_gradients(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    result = as_tuple(result_of(observed["grads"], "pseudo_siamese_gradients"), 3)
    if result is None:
        fail("pseudo_siamese_gradients should return the triple (dJ_dh1, dJ_dh2, dJ_dX).")
    N = inputs["X"].shape[1]
    for value, key in zip(result, ("dJ_dh1", "dJ_dh2", "dJ_dX")):
        def diagnose(actual: np.ndarray, target: np.ndarray, key: str = key) -> str | None:
            if close(actual, target * N):
                return f"It is N = {N} times too large: J is the mean over the N examples, divide by N."
            if close(actual, target / N):
                return f"It is N = {N} times too small: divide by N once."
            if close(actual, -target):
                return "It has the wrong sign: the softmax output error is yhat - y."
            if key == "dJ_dX":
                return ("x feeds both branches: add the sigmoid branch's and the ReLU branch's contributions, "
                        "each through its own weight matrix (transposed) and its own derivative.")
            return ("h1 and h2 enter the output only through their sum h1 + h2: backpropagate the output "
                    "error through W3 (transposed) and stop there.")

        assert_close(value, np.asarray(expected[key]), f"{key}", rtol=1e-6, atol=1e-10, diagnose=diagnose)


def observe_faster_weight(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    if "FASTER_WEIGHT" not in env:
        return {"answer": {"missing": "FASTER_WEIGHT"}}
    return {"answer": {"value": env["FASTER_WEIGHT"]}}


def judge_faster_weight(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    if "missing" in observed["answer"]:
        fail("FASTER_WEIGHT is not defined: run the cell that sets it.")
    answer = observed["answer"]["value"]
    if not isinstance(answer, str) or answer.strip() not in ("W1", "W2"):
        fail(f'FASTER_WEIGHT should be the string "W1" or "W2", not {answer!r}.')
    if "answer" in expected and answer.strip() != expected["answer"]:
        fail(f"FASTER_WEIGHT = {answer!r} is not the weight matrix that is likely to train faster.")


QUESTIONS: dict[str, Question] = {
    "q3_siamese_gradients": Question(observe_siamese_gradients, judge_siamese_gradients),
    "q3_siamese_update": Question(observe_siamese_update, judge_siamese_update),
    "q3_parameter_count": Question(observe_parameter_count, judge_parameter_count),
    "q3_pseudo_siamese_gradients": Question(observe_pseudo_siamese_gradients, judge_pseudo_siamese_gradients),
    "q3_faster_weight": Question(observe_faster_weight, judge_faster_weight),
}
CHECKERS = checkers(QUESTIONS)
