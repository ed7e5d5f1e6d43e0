"""Checks for Problem 1 (softmax + cross-entropy): how each case's inputs are made and how
a student's answer is judged.

Conventions (the notebook states them too): one example per **column**.
Logits S and probabilities Z are (c, N), one-hot targets T are (c, N), inputs X are
(d, N), W1 is (h, d) and W2 is (c, h). The objective is the mean cross-entropy over N.

This module is shipped to students, so it never computes a correct answer itself:
expected values come from `public_expected.json` (public cases) or from the
instructor's reference (hidden cases). Diagnoses only relate the student's values
to the expected ones (a factor N, a sign, a transpose).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._core import as_array, assert_close, assert_float, close, expect_shape, fail
from ._judging import Context, Question, checkers, observe_call, result_of

# Every kind of variation of the hidden cases shows in a public case too (large logits, columns of
# very different scale, another activation, a large N), so no failure is a surprise at grading time.
PUBLIC_CASES: dict[str, list[dict]] = {
    "q1_softmax": [dict(seed=1, c=3, N=4), dict(seed=6, c=4, N=3, offset=1000.0),
                   dict(seed=7, c=4, N=4, scale=1000.0, column_offsets=[1000.0, -1000.0, 0.0, 900.0])],
    "q1_cross_entropy": [dict(seed=2, c=3, N=4), dict(seed=6, c=2, N=7)],
    "q1_grad_hidden_to_output": [dict(seed=3, d=3, h=4, c=2, N=5, activation="tanh"),
                                 dict(seed=6, d=2, h=5, c=3, N=6, activation="sigmoid")],
    "q1_grad_input_to_hidden": [dict(seed=4, d=3, h=4, c=2, N=5, activation="tanh"),
                                dict(seed=6, d=4, h=2, c=3, N=6, activation="relu")],
    "q1_nll_equivalence": [dict(seed=5, c=3, N=4), dict(seed=6, c=4, N=1500)],
}


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# Hidden activations handed to the gradient functions as (f, f_prime).
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "sigmoid": (_sigmoid, lambda a: _sigmoid(a) * (1.0 - _sigmoid(a))),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(float)),
    "softplus": (lambda a: np.logaddexp(0.0, a), _sigmoid),
}


def make_inputs(case: Mapping[str, Any]) -> dict:
    """Arrays for one case.

    S: logits (c, N), optionally shifted by case["offset"] (large offsets test overflow);
    Z: probability columns (c, N); y: labels in 0..c-1 (N,); T: their one-hot (c, N);
    X, W1, W2 and the activation pair (f, f_prime) for the gradient questions.
    """
    inputs = dict(case)
    rng = np.random.default_rng(case["seed"])
    c, N = case["c"], case["N"]
    inputs["S"] = (rng.normal(scale=case.get("scale", 2.0), size=(c, N)) + case.get("offset", 0.0)
                   + np.asarray(case.get("column_offsets", 0.0)))  # columns of very different scale
    inputs["Z"] = rng.dirichlet(np.ones(c), size=N).T
    y = rng.integers(0, c, size=N)
    y[: min(c, N)] = np.arange(min(c, N))  # every class occurs when N >= c
    inputs["y"] = rng.permutation(y)
    T = np.zeros((c, N))
    T[inputs["y"], np.arange(N)] = 1.0
    inputs["T"] = T
    if "d" in case:
        d, h = case["d"], case["h"]
        for _ in range(1000):  # keep ReLU away from its kink, where the derivative is undefined
            X = rng.normal(size=(d, N))
            W1 = rng.normal(scale=0.9, size=(h, d))
            if case.get("activation") != "relu" or np.min(np.abs(W1 @ X)) > 0.05:
                break
        inputs["X"], inputs["W1"] = X, W1
        inputs["W2"] = rng.normal(scale=0.9, size=(c, h))
        inputs["f"], inputs["f_prime"] = ACTIVATIONS[case["activation"]]
    return inputs


def restore_inputs(inputs: dict) -> dict:
    """The activation pair, rebuilt from its name in the student's process (functions do not cross)."""
    if "activation" in inputs:
        inputs["f"], inputs["f_prime"] = ACTIVATIONS[inputs["activation"]]
    return inputs


def _copies(inputs: Mapping[str, Any], *names: str) -> list:
    return [np.array(inputs[n], copy=True) for n in names]


def observe_softmax(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"Z": observe_call(env, "softmax", *_copies(inputs, "S"))}


def judge_softmax(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    Z = result_of(observed["Z"], "softmax")
    want = np.asarray(expected["Z"])
    value = as_array(Z, "softmax(S)")
    expect_shape(value, want.shape, "softmax(S)")
    if value.size and (np.any(value != value) or np.any(np.abs(value) == np.inf)):
        fail("softmax(S) contains nan or inf: exp overflows for large logits. Subtract each column's "
             "maximum before exponentiating (softmax is unchanged by adding a constant to a column).")
    sums = np.sum(value, axis=0)
    if not close(sums, np.ones_like(sums), rtol=1e-9, atol=1e-9):
        if close(np.sum(value, axis=1), np.ones(value.shape[0]), rtol=1e-9, atol=1e-9):
            fail("the rows of softmax(S) sum to 1 but each column is one example: normalise over axis 0.")
        fail("the columns of softmax(S) do not sum to 1: divide by the sum of the exponentials of each column.")
    assert_close(Z, want, "softmax(S)", rtol=1e-7, atol=1e-12)


def observe_cross_entropy(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"J": observe_call(env, "cross_entropy", *_copies(inputs, "Z", "T"))}


def judge_cross_entropy(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    J = result_of(observed["J"], "cross_entropy")
    Z, T = inputs["Z"], inputs["T"]
    if isinstance(J, np.ndarray) and J.size == 1:
        fail("cross_entropy should return a Python float, not an array: use float(...).")
    N = T.shape[1]
    if isinstance(J, float) and N > 1 and abs(J - expected["J"] * N) < 1e-7 * max(1.0, abs(J)):
        fail(f"the cross-entropy is N = {N} times too large: the objective is the mean over the N examples.")
    if isinstance(J, float) and np.all((Z > 0) & (Z < 1)):
        binary = float(-np.sum(T * np.log(Z) + (1 - T) * np.log(1 - Z)) / N)
        if abs(J - binary) < 1e-7 * max(1.0, abs(binary)) and abs(J - expected["J"]) > 1e-7 * max(1.0, abs(J)):
            fail("cross_entropy(Z, T) adds (1 - t) log(1 - z) terms: that is the two-class (binary) form. With a "
                 "softmax over c classes use the multi-class cross-entropy of part (1).")
    assert_float(J, expected["J"], "cross_entropy(Z, T)", rtol=1e-7)


def _stable_softmax(S: np.ndarray) -> np.ndarray:
    """Stand-in for the student's softmax while a gradient question is checked."""
    E = np.exp(S - np.max(S, axis=0, keepdims=True))
    return E / np.sum(E, axis=0, keepdims=True)


@contextlib.contextmanager
def _own_softmax_replaced(env: Mapping, name: str):
    """Grade the gradient on its own: a wrong softmax costs only q1_softmax's points."""
    fn = env.get(name)
    namespaces = [ns for ns in (env, getattr(fn, "__globals__", None)) if isinstance(ns, dict) and "softmax" in ns]
    saved = [ns["softmax"] for ns in namespaces]
    for ns in namespaces:
        ns["softmax"] = _stable_softmax
    try:
        yield
    finally:
        for ns, original in zip(namespaces, saved):
            ns["softmax"] = original


def _observe_gradient(env: Mapping, inputs: dict, name: str, with_prime: bool) -> dict:
    args = (*_copies(inputs, "X", "T", "W1", "W2"), inputs["f"]) + ((inputs["f_prime"],) if with_prime else ())
    with _own_softmax_replaced(env, name):
        return {"grad": observe_call(env, name, *args)}


def _judge_gradient(inputs: dict, observed: dict, expected: dict, name: str, key: str, with_prime: bool) -> None:
    grad = result_of(observed["grad"], name)
    N = inputs["X"].shape[1]
    want = np.asarray(expected[key])
    what = f"{name}(...) with {inputs['activation']} hidden units"

    def diagnose(actual: np.ndarray, target: np.ndarray) -> str | None:
        if close(actual, target * N):
            return f"It is N = {N} times too large: the objective is the mean over N examples, divide by N."
        if close(actual, target / N):
            return f"It is N = {N} times too small: divide by N once, not twice."
        if close(actual, -target):
            return "It has the wrong sign: the output error is Z - T (prediction minus target)."
        if with_prime:
            return ("Backpropagate the output error through W2 (transposed), multiply elementwise by the "
                    "derivative f_prime evaluated at the hidden pre-activation A = W1 X, then multiply by X "
                    "transposed.")
        return "Multiply the output error by the hidden *outputs* Y = f(W1 X) transposed."

    assert_close(grad, want, what, rtol=1e-6, atol=1e-9, diagnose=diagnose)


def observe_grad_hidden_to_output(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return _observe_gradient(env, inputs, "grad_hidden_to_output", with_prime=False)


def judge_grad_hidden_to_output(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    _judge_gradient(inputs, observed, expected, "grad_hidden_to_output", "dW2", with_prime=False)


def observe_grad_input_to_hidden(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return _observe_gradient(env, inputs, "grad_input_to_hidden", with_prime=True)


def judge_grad_input_to_hidden(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    _judge_gradient(inputs, observed, expected, "grad_input_to_hidden", "dW1", with_prime=True)


def observe_nll_equivalence(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"T": observe_call(env, "one_hot", np.array(inputs["y"], copy=True), inputs["c"]),
            "nll": observe_call(env, "negative_log_likelihood", *_copies(inputs, "Z", "y"))}


def judge_nll_equivalence(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    c, N = inputs["c"], inputs["N"]
    T = as_array(result_of(observed["T"], "one_hot"), "one_hot(y, c)")
    expect_shape(T, (c, N), "one_hot(y, c)")
    want_T = np.asarray(expected["T"])
    if not close(T, want_T, rtol=0, atol=1e-12):
        if close(np.roll(T, 1, axis=0), want_T, rtol=0, atol=1e-12) or close(
                np.roll(T, -1, axis=0), want_T, rtol=0, atol=1e-12):
            fail("one_hot(y, c) is shifted by one class: labels are 0, ..., c-1 here (Python indexing).")
        fail("one_hot(y, c) is wrong: column i must hold a single 1, in row y[i].")
    nll = result_of(observed["nll"], "negative_log_likelihood")
    if isinstance(nll, np.ndarray) and nll.size == 1:
        fail("negative_log_likelihood should return a Python float, not an array: use float(...).")
    if isinstance(nll, float) and (nll != nll or nll in (float("inf"), float("-inf"))):
        fail(f"negative_log_likelihood is {nll} for N = {N} examples: the product of N probabilities "
             "underflows to 0. Use log of a product = sum of logs.")
    if isinstance(nll, float) and N > 1 and abs(nll * N - expected["nll"]) < 1e-7 * max(1.0, abs(expected["nll"])):
        fail("negative_log_likelihood is N times too small: the likelihood of the training set is the "
             "product over all N examples, so its negative log is a sum (no 1/N).")
    assert_float(nll, expected["nll"], "negative_log_likelihood(Z, y)", rtol=1e-7)


QUESTIONS: dict[str, Question] = {
    "q1_softmax": Question(observe_softmax, judge_softmax),
    "q1_cross_entropy": Question(observe_cross_entropy, judge_cross_entropy),
    "q1_grad_hidden_to_output": Question(observe_grad_hidden_to_output, judge_grad_hidden_to_output),
    "q1_grad_input_to_hidden": Question(observe_grad_input_to_hidden, judge_grad_input_to_hidden),
    "q1_nll_equivalence": Question(observe_nll_equivalence, judge_nll_equivalence),
}
CHECKERS = checkers(QUESTIONS, restore_inputs)
