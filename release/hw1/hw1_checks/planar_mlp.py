"""Checks for Planar_MLP: how each case's inputs are made and how a student's answer is judged.

A case is a small dict (seed and sizes). `make_inputs` turns it into arrays; each question's
`observe_*` calls the student's functions on them (in the student's process) and its `judge_*`
compares what came back with the expected values (where those are: `public_expected.json`
for the public cases, the instructor's reference, in the grader's own process, for the
hidden ones). See `_judging`.

Each question is judged on its own code only. Functions that call other answers
(`nn_model`, `predict`) run with the helpers they call replaced, for the duration of the
check, by stand-ins that replay the reference's numbers for this case and check the call
protocol (which X, which parameters, which learning rate); the numbers are handed out by the
judging side one call at a time. `predict` is judged on the notebook's own tanh network, so
one that writes the forward pass out passes as one that calls `forward_propagation` (the text
allows both). `train_torch` and `torch_predict` get a grader-made model instead of the
student's `TorchMLP`. A mistake in one answer therefore costs that answer's points and no others.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._core import (
    CheckFailure,
    as_array,
    as_tuple,
    assert_close,
    assert_float,
    assert_labels,
    close,
    diagnose_common,
    expect_shape,
    fail,
    known_mistake,
    quiet,
    same,
    substituted,
)
from ._judging import Context, Question, checkers, describe_exception, observe_call, result_of

PARAMS = ("W1", "b1", "W2", "b2")

# The first public case of a question uses the notebook's sizes (n_x = 2, n_h = 4, n_y = 1), a
# second one other sizes (and another learning rate where the function takes one): every kind of
# variation of the hidden cases shows in a public case, so
# an answer that only works for the notebook's sizes fails before it is handed in.
PUBLIC_CASES: dict[str, list[dict]] = {
    "q4_layer_sizes": [dict(seed=1, n_x=5, n_h=4, n_y=2, m=3)],
    "q4_initialize_parameters": [dict(seed=0, n_x=2, n_h=4, n_y=1, m=1), dict(seed=0, n_x=4, n_h=3, n_y=2, m=1)],
    "q4_forward_propagation": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3), dict(seed=5, n_x=4, n_h=3, n_y=1, m=5)],
    "q4_compute_cost": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3), dict(seed=5, n_x=4, n_h=3, n_y=1, m=6)],
    "q4_backward_propagation": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3), dict(seed=5, n_x=4, n_h=3, n_y=1, m=5)],
    "q4_update_parameters": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3),
                             dict(seed=5, n_x=4, n_h=3, n_y=1, m=5, learning_rate=0.5)],
    "q4_nn_model": [dict(seed=2, n_x=2, n_h=4, n_y=1, m=5, num_iterations=10),
                    dict(seed=5, n_x=4, n_h=3, n_y=1, m=8, num_iterations=6)],
    "q4_predict": [dict(seed=3, n_x=2, n_h=4, n_y=1, m=8), dict(seed=5, n_x=4, n_h=3, n_y=1, m=12)],
    "q4_torch_mlp": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3), dict(seed=5, n_x=4, n_h=3, n_y=1, m=5)],
    "q4_train_torch": [dict(seed=4, n_x=2, n_h=4, n_y=1, m=6, num_iterations=3, learning_rate=1.2),
                       dict(seed=5, n_x=4, n_h=3, n_y=1, m=7, num_iterations=4, learning_rate=0.5)],
    "q4_torch_predict": [dict(seed=3, n_x=2, n_h=4, n_y=1, m=8), dict(seed=5, n_x=4, n_h=3, n_y=1, m=12)],
}


def make_inputs(case: Mapping[str, Any]) -> dict:
    """Arrays for one case: data X (n_x, m), labels Y (n_y, m), parameters, A2 and gradients."""
    inputs = dict(case)
    rng = np.random.default_rng(case["seed"])
    n_x, n_h, n_y, m = case["n_x"], case["n_h"], case["n_y"], case["m"]
    inputs["X"] = rng.normal(size=(n_x, m))
    inputs["Y"] = (rng.random((n_y, m)) > 0.5).astype(float)
    inputs["parameters"] = {
        "W1": rng.normal(scale=0.8, size=(n_h, n_x)),
        "b1": rng.normal(scale=0.3, size=(n_h, 1)),
        "W2": rng.normal(scale=0.8, size=(n_y, n_h)),
        "b2": rng.normal(scale=0.3, size=(n_y, 1)),
    }
    inputs["A2"] = rng.uniform(0.05, 0.95, size=(n_y, m))
    inputs["grads"] = {"d" + k: rng.normal(size=v.shape) for k, v in inputs["parameters"].items()}
    return inputs


def _params_copy(inputs: Mapping[str, Any]) -> dict:
    return copy.deepcopy(inputs["parameters"])


def _mistakes(expected: Mapping, key: str) -> list:
    """Known wrong answers for `key` (explanation, value), computed by the reference."""
    return list(expected.get("mistakes", {}).get(key, []))


def _global_data(data: Mapping, X: Any) -> bool:
    """Whether `X` is the notebook's global data set rather than the array the test passed."""
    own = data.get("X")
    return isinstance(own, np.ndarray) and isinstance(X, np.ndarray) and same(X, own, 0, 0)


GLOBAL_DATA = ("{name} used the notebook's global data set instead of the {arg} passed in: "
               "inside a function, use its arguments, never the global X and Y.")


def observe_layer_sizes(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"sizes": observe_call(env, "layer_sizes", inputs["X"], inputs["Y"])}


def judge_layer_sizes(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    sizes = result_of(observed["sizes"], "layer_sizes")
    if as_tuple(sizes, 3) is None:
        fail(f"layer_sizes should return a tuple (n_x, n_h, n_y), got {sizes!r}.")
    try:
        sizes = tuple(int(v) for v in sizes)  # plain ints: no object with a home-made == counts
    except (TypeError, ValueError):
        fail(f"layer_sizes should return three integers, got {sizes!r}.")
    want = tuple(int(v) for v in expected["sizes"])
    if sizes != want:
        X, Y, data, labels = inputs["X"], inputs["Y"], ctx.data.get("X"), ctx.data.get("Y")
        hint = ""
        if isinstance(data, np.ndarray) and isinstance(labels, np.ndarray) and data.shape != X.shape \
                and (sizes[0], sizes[2]) == (data.shape[0], labels.shape[0]):
            hint = " " + GLOBAL_DATA.format(name="layer_sizes", arg="X and Y")
        elif sizes[0] == X.shape[1] or sizes[2] == Y.shape[1]:
            hint = " n_x and n_y are the numbers of rows (X.shape[0], Y.shape[0]); the columns are the m examples."
        elif sizes[1] != want[1]:
            hint = " The hidden layer has n_h = 4 units."
        elif sizes[0] != want[0] or sizes[2] != want[2]:
            hint = " Read n_x and n_y from the shapes of the X and Y passed in; do not type in numbers."
        fail(f"layer_sizes returned {sizes} for X of shape {X.shape} and Y of shape {Y.shape}, expected "
             f"(X.shape[0], 4, Y.shape[0]).{hint}")


def observe_initialize_parameters(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"params": observe_call(env, "initialize_parameters", inputs["n_x"], inputs["n_h"], inputs["n_y"])}


def judge_initialize_parameters(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    params = result_of(observed["params"], "initialize_parameters")
    if not isinstance(params, dict):
        fail("initialize_parameters should return a dict with W1, b1, W2, b2.")
    for key in PARAMS:
        if key not in params:
            fail(f"initialize_parameters is missing {key}.")
        value = as_array(params[key], key)
        rows = "n_h" if key in ("W1", "b1") else "n_y"
        expect_shape(value, np.shape(expected[key]), key,
                     f"{key} must be a column of shape ({rows}, 1): np.zeros(({rows}, 1))." if key[0] == "b" else
                     f"{key} has {rows} rows: use the sizes passed in, in the order (rows, columns).")
    for key in ("b1", "b2"):
        if np.ndarray.tolist(as_array(params[key], key).ravel()) != [0.0] * int(np.size(expected[key])):
            fail(f"{key} should start at zeros (np.zeros), not random values.")
    for key in ("W1", "W2"):
        value = as_array(params[key], key)
        if close(value, np.asarray(expected[key]) * 100):
            fail(f"{key} is 100 times too large: multiply the random values by 0.01.")
        assert_close(value, expected[key], key, rtol=1e-6, atol=1e-10, mistakes=_mistakes(expected, key),
                     diagnose=lambda a, e: diagnose_common(a, e) or "Seed NumPy with np.random.seed(2) inside the "
                                                                 "function and draw W1 before W2 with np.random.randn.")


def observe_forward_propagation(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"result": observe_call(env, "forward_propagation", inputs["X"], _params_copy(inputs))}


def judge_forward_propagation(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    result = as_tuple(result_of(observed["result"], "forward_propagation"), 2)
    if result is None:
        fail("forward_propagation should return the pair (A2, cache).")
    A2, cache = result
    if not isinstance(cache, dict):
        fail("the cache returned by forward_propagation should be a dict with Z1, A1, Z2, A2.")
    for key in ("Z1", "A1", "Z2", "A2"):
        if key not in cache:
            fail(f"the cache is missing {key}.")
    for key in ("Z1", "A1", "Z2"):
        assert_close(cache[key], expected[key], key, rtol=1e-5, atol=1e-7, mistakes=_mistakes(expected, key),
                     diagnose=_diagnose_affine if key[0] == "Z" else None,
                     shape_hint=f"{key} has one row per unit and one column per example: W @ X, not X @ W.")
    assert_close(A2, expected["A2"], "A2", rtol=1e-5, atol=1e-7, mistakes=_mistakes(expected, "A2"))
    assert_close(cache["A2"], expected["A2"], "cache['A2']", rtol=1e-5, atol=1e-7)


def _diagnose_affine(actual: np.ndarray, expected: np.ndarray) -> str | None:
    return "Check W @ X + b: the bias b must be added to every column (b has shape (n, 1))."


def observe_compute_cost(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"cost": observe_call(env, "compute_cost", inputs["A2"], inputs["Y"], _params_copy(inputs))}


def judge_compute_cost(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    cost = result_of(observed["cost"], "compute_cost")
    m = inputs["Y"].shape[1]
    want = float(expected["cost"])
    if isinstance(cost, float) and want and cost == cost:
        factor = cost / want
        if abs(factor - m) < 1e-6 * m:
            fail("the cost is m times too large: average over the m examples (divide by m).")
        if factor > 0 and abs(m / factor - round(m / factor)) < 1e-6 * m and round(m / factor) not in (m, 1):
            fail(f"the cost is divided by {round(m / factor)} instead of the number of examples m = {m}: "
                 "use m = Y.shape[1].")
    assert_float(cost, want, "the cost", mistakes=_mistakes(expected, "cost"))


def observe_backward_propagation(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    cache = {k: np.array(v, dtype=np.float64) for k, v in inputs["cache"].items()}  # copies: may be modified
    return {"grads": observe_call(env, "backward_propagation", _params_copy(inputs), cache, inputs["X"], inputs["Y"])}


def judge_backward_propagation(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    grads = result_of(observed["grads"], "backward_propagation")
    if not isinstance(grads, dict):
        fail("backward_propagation should return a dict with dW1, db1, dW2, db2.")
    n_x, m = inputs["X"].shape
    for key in ("dW2", "db2", "dW1", "db1"):
        if key not in grads:
            fail(f"backward_propagation is missing {key}.")
        hint = ("sum over the examples (axis=1) with keepdims=True: it has one row per unit." if key[1] == "b"
                else "it has the shape of the parameter: dZ @ A_prev.T.")
        assert_close(grads[key], expected[key], key, rtol=1e-5, atol=1e-8, mistakes=_mistakes(expected, key),
                     diagnose=lambda a, e, key=key: _diagnose_grad(key, a, e, m, n_x),
                     shape_hint=f"{key} must have the shape of {key[1:]}: {hint}")


def _diagnose_grad(key: str, actual: np.ndarray, expected: np.ndarray, m: int, n_x: int) -> str | None:
    if n_x != m and close(actual, expected * m / n_x):
        return (f"{key} is divided by n_x = X.shape[0] = {n_x} instead of m: m is the number of examples, "
                f"X.shape[1] = {m} (the columns of X).")
    if close(actual, expected * m):
        return (f"{key} is m = {m} times too large: did you average over the batch (divide by m, the number of "
                "examples, X.shape[1])?")
    if close(actual, expected / m):
        return f"{key} is m = {m} times too small: divide by m once, not twice."
    if close(actual, -expected):
        return f"{key} has the wrong sign: dZ2 = A2 - Y (prediction minus label)."
    if key in ("dW1", "db1"):
        return "Check dZ1 = W2.T @ dZ2 * (1 - A1**2): the derivative of tanh is 1 - tanh**2."
    return "Check dZ2 = A2 - Y and dW2 = dZ2 @ A1.T / m."


def observe_update_parameters(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    params, grads = _params_copy(inputs), copy.deepcopy(inputs["grads"])
    rate = inputs.get("learning_rate")
    if rate is None:
        return {"updated": observe_call(env, "update_parameters", params, grads)}
    return {"updated": observe_call(env, "update_parameters", params, grads, learning_rate=rate)}


def judge_update_parameters(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    updated = result_of(observed["updated"], "update_parameters")
    if not isinstance(updated, dict):
        fail("update_parameters should return the dict of updated parameters.")
    original = inputs["parameters"]
    for key in PARAMS:
        if key not in updated:
            fail(f"update_parameters is missing {key}.")
        value = as_array(updated[key], key)
        if close(value, original[key]):
            fail(f"{key} was not updated: every parameter, biases included, takes a step.")
        if close(value, original[key] + (original[key] - expected[key])):
            fail(f"{key} moved uphill: subtract learning_rate * d{key}.")
        assert_close(value, expected[key], key, mistakes=_mistakes(expected, key),
                     diagnose=lambda a, e, key=key: ("Use the learning_rate argument (default 1.2): "
                                                     f"{key} - learning_rate * d{key}."))


HELPERS = ("layer_sizes", "initialize_parameters", "forward_propagation", "compute_cost", "backward_propagation",
           "update_parameters")


class _Replay:
    """The judging side of the stand-ins for the helpers a composed function calls (layer_sizes ...
    update_parameters).

    They answer with the reference's numbers for this case (a table: the parameters, forward
    caches, costs and gradients of every iteration) and refuse, with a clear message, a call
    made the wrong way, so the composed function is judged on how it uses its helpers, not on
    whether the student's helpers are right. The table stays on the judging side.
    """

    def __init__(self, data: Mapping, caller: str, X: np.ndarray, Y: np.ndarray | None, table: Mapping,
                 n_h: int | None = None, learning_rate: float = 1.2):
        self.data, self.caller, self.X, self.Y, self.n_h, self.rate = data, caller, X, Y, n_h, learning_rate
        as_arrays = lambda d: {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}  # noqa: E731
        self.params = [as_arrays(p) for p in table["parameters"]]
        self.caches = [as_arrays(c) for c in table["caches"]]
        self.costs = [float(c) for c in table.get("costs", [])]
        self.grads = [as_arrays(g) for g in table.get("grads", [])]
        self.sizes = tuple(table.get("sizes", ()))
        self.latest = 0
        self.failure: str | None = None
        self.forward_calls = 0  # predict may call forward_propagation or write the forward pass out

    def functions(self) -> dict[str, Callable]:
        return {"layer_sizes": self.layer_sizes, "initialize_parameters": self.initialize_parameters,
                "forward_propagation": self.forward_propagation, "compute_cost": self.compute_cost,
                "backward_propagation": self.backward_propagation, "update_parameters": self.update_parameters}

    def _data(self, value: Any, mine: np.ndarray, arg: str, helper: str) -> None:
        if same(value, mine, 0, 0):
            return
        if isinstance(value, np.ndarray) and isinstance(self.data.get(arg), np.ndarray) \
                and same(value, self.data[arg], 0, 0):
            fail(GLOBAL_DATA.format(name=self.caller, arg=arg))
        fail(f"{self.caller} passed {helper} a different {arg} than the one it was given: pass {arg} on unchanged.")

    def _step(self, parameters: Any, helper: str) -> int:
        if not isinstance(parameters, dict) or any(k not in parameters for k in PARAMS):
            fail(f"{self.caller} passed {helper} something that is not the parameters dict (W1, b1, W2, b2).")
        near = [k for k in (self.latest, self.latest - 1) if 0 <= k < len(self.params)]
        for k in near + list(range(len(self.params) - 1, -1, -1)):
            if all(same(parameters[key], self.params[k][key], 1e-7, 1e-10) for key in PARAMS):
                return k
        if self.caller == "predict":
            fail("predict passed forward_propagation other parameters than the ones it was given.")
        fail(f"{self.caller} passed {helper} parameters that are neither the starting ones nor the result of the "
             "last update: keep parameters = update_parameters(parameters, grads, ...) in the loop.")

    def layer_sizes(self, X, Y):
        self._data(X, self.X, "X", "layer_sizes")
        self._data(Y, self.Y, "Y", "layer_sizes")
        return self.sizes

    def initialize_parameters(self, n_x, n_h, n_y):
        want = (self.sizes[0], self.n_h, self.sizes[2])
        if (n_x, n_h, n_y) != want:
            hint = (f" Use the n_h = {self.n_h} passed to {self.caller}, not layer_sizes' n_h." if n_h != self.n_h
                    else " n_x and n_y come from the shapes of X and Y.")
            fail(f"{self.caller} called initialize_parameters{(n_x, n_h, n_y)}, expected {want}.{hint}")
        return copy.deepcopy(self.params[0])

    def forward_propagation(self, X, parameters):
        self._data(X, self.X, "X", "forward_propagation")
        k = self._step(parameters, "forward_propagation")
        self.forward_calls += 1
        cache = copy.deepcopy(self.caches[k])
        return cache["A2"], cache

    def compute_cost(self, A2, Y, parameters=None):
        self._data(Y, self.Y, "Y", "compute_cost")
        near = [k for k in (self.latest, self.latest - 1) if 0 <= k < len(self.caches)]
        for k in near + list(range(len(self.caches))):
            if same(A2, self.caches[k]["A2"], 1e-7, 1e-10):
                return self.costs[k] if k < len(self.costs) else float("nan")
        fail(f"{self.caller} passed compute_cost an A2 that forward_propagation did not return: pass A2 on unchanged.")

    def backward_propagation(self, parameters, cache, X, Y):
        self._data(X, self.X, "X", "backward_propagation")
        self._data(Y, self.Y, "Y", "backward_propagation")
        k = self._step(parameters, "backward_propagation")
        if not isinstance(cache, dict) or not all(same(cache.get(key), self.caches[k][key], 1e-7, 1e-10)
                                                  for key in ("A1", "A2")):
            fail(f"{self.caller} passed backward_propagation a cache that does not belong to the current parameters: "
                 "pass the cache the forward_propagation of this iteration returned.")
        if k >= len(self.grads):
            fail(f"{self.caller} ran more than num_iterations iterations.")
        return copy.deepcopy(self.grads[k])

    def update_parameters(self, parameters, grads, learning_rate=1.2):
        k = self._step(parameters, "update_parameters")
        if k >= len(self.grads):
            fail(f"{self.caller} ran more than num_iterations updates.")
        if not isinstance(grads, dict) or not all(same(grads.get("d" + key), self.grads[k]["d" + key], 1e-6, 1e-10)
                                                  for key in PARAMS):
            fail(f"{self.caller} passed update_parameters gradients that backward_propagation did not return for "
                 "the current parameters: pass grads on unchanged.")
        if type(learning_rate) not in (int, float) or abs(learning_rate - self.rate) > 1e-12:
            fail(f"{self.caller} trained with learning_rate={learning_rate!r}; the network is trained with "
                 f"learning_rate={self.rate:g}.")
        self.latest = k + 1
        return copy.deepcopy(self.params[k + 1])


def _stand_ins(helpers: Callable, names: tuple[str, ...]) -> dict[str, Callable]:
    """Functions that forward every call to the judging side's answers (`helpers`)."""
    def stand_in(name: str) -> Callable:
        def helper(*args, **kwargs):
            return helpers(name, *args, **kwargs)
        helper.__name__ = name
        return helper
    return {name: stand_in(name) for name in names}


def _with_stand_ins(env: Mapping, name: str, helpers: Callable, names: tuple[str, ...]):
    """The stand-ins in place of the helpers while the student's `name` runs."""
    fn = env.get(name)
    return substituted([env, getattr(fn, "__globals__", None)], _stand_ins(helpers, names))


def observe_nn_model(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    with _with_stand_ins(env, "nn_model", helpers, HELPERS):
        return {"trained": observe_call(env, "nn_model", inputs["X"], inputs["Y"], inputs["n_h"],
                                        num_iterations=inputs["num_iterations"], print_cost=False)}


def answers_nn_model(inputs: dict, expected: dict, data: dict) -> _Replay:
    return _Replay(data, "nn_model", inputs["X"], inputs["Y"], expected["trajectory"], n_h=inputs["n_h"])


def judge_nn_model(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    replay: _Replay = ctx.helpers
    if replay.failure:
        fail(replay.failure)
    trained = result_of(observed["trained"], "nn_model")
    steps = inputs["num_iterations"]
    if not isinstance(trained, dict):
        fail("nn_model should return the trained parameters dict.")
    for key in PARAMS:
        if key not in trained:
            fail(f"nn_model's parameters are missing {key}.")
        if not isinstance(trained[key], np.ndarray):
            fail(f"nn_model's {key} should be a NumPy array.")
    done = [k for k, p in enumerate(replay.params) if all(same(trained[key], p[key], 1e-7, 1e-10) for key in PARAMS)]
    if done and done[-1] != steps:
        if done[-1] == 0:
            fail("nn_model returned the starting parameters: assign the result, parameters = update_parameters(...), "
                 "in every iteration and return it.")
        fail(f"nn_model returned the parameters after {done[-1]} of {steps} iterations: run num_iterations updates "
             "and return the last one.")
    for key in PARAMS:
        assert_close(trained[key], expected[key], f"{key} after {steps} iterations", rtol=1e-4, atol=1e-7,
                     diagnose=lambda a, e: "Train on the X and Y passed in, for num_iterations steps: forward, cost, "
                                           "backward, update with learning_rate=1.2.")


def observe_predict(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    with _with_stand_ins(env, "predict", helpers, ("forward_propagation",)):
        return {"labels": observe_call(env, "predict", _params_copy(inputs), inputs["X"])}


def answers_predict(inputs: dict, expected: dict, data: dict) -> _Replay:
    return _Replay(data, "predict", inputs["X"], inputs.get("Y"),
                   {"parameters": [inputs["parameters"]], "caches": [expected["cache"]]})


def judge_predict(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    if ctx.helpers.failure:
        fail(ctx.helpers.failure)
    labels = result_of(observed["labels"], "predict")
    if isinstance(labels, np.ndarray) and isinstance(ctx.data.get("X"), np.ndarray) \
            and labels.size == ctx.data["X"].shape[1] != inputs["X"].shape[1]:
        fail(GLOBAL_DATA.format(name="predict", arg="X"))
    hint = "Class 1 is a probability A2 above 0.5." if ctx.helpers.forward_calls else (
        "predict computes its own forward pass (it does not call forward_propagation): check it against "
        "forward_propagation's equations (tanh hidden layer, sigmoid output), or call "
        "forward_propagation(X, parameters).")
    assert_labels(labels, expected["labels"], "predict(parameters, X)", ignore=np.asarray(expected["ignore"], bool),
                  shape_hint="Return shape (1, m): one row of labels (keep the row dimension).", hint=hint)


TARGET_SHAPE = ("The labels must have the shape of the model's output, (m, 1): use Y.T, as the given line does "
                "(Y itself is (1, m)).")


def _result_or_dtype_hint(observed: Any, name: str, hint: str) -> Any:
    """`result_of`, with `hint` added when the student's code raised over mismatched dtypes
    (float32 tensors meeting the float64 model the tests use), or the labels' shape when the loss refused them."""
    try:
        return result_of(observed, name)
    except CheckFailure as failure:
        raised = observed.get("raised") if isinstance(observed, dict) else None
        message = str(raised.get("message", "")) if isinstance(raised, dict) else ""
        if "dtype" in message:
            fail(f"{failure} {hint}")
        if "target size" in message and name == "train_torch":
            fail(f"{failure} {TARGET_SHAPE}")
        raise


FIXED_DTYPE = ("The tests use a float64 model: convert X and Y with the model's dtype, "
               "dtype = next(model.parameters()).dtype (the given line), not a fixed torch.float32 "
               "(torch.Tensor(...), .float() and dtype=torch.float are float32 too).")


def _probe_mlp_class():
    """The grader-made model train_torch and torch_predict are checked on (public and hidden cases).

    It has the `hidden` and `output` layers of the contract, but a softsign hidden layer, so
    these checks neither depend on the student's TorchMLP nor reveal it.
    """
    import torch

    class ProbeMLP(torch.nn.Module):
        def __init__(self, n_x: int, n_h: int, n_y: int):
            super().__init__()
            self.hidden = torch.nn.Linear(n_x, n_h)
            self.output = torch.nn.Linear(n_h, n_y)

        def forward(self, X):
            return torch.sigmoid(self.output(torch.nn.functional.softsign(self.hidden(X))))

    return ProbeMLP


def _load(model, params: Mapping[str, Any]):
    import torch

    model = model.double()
    with torch.no_grad():
        for layer, w, b in ((model.hidden, "W1", "b1"), (model.output, "W2", "b2")):
            layer.weight.copy_(torch.as_tensor(np.asarray(params[w], dtype=np.float64)))
            layer.bias.copy_(torch.as_tensor(np.asarray(params[b], dtype=np.float64)).reshape(-1))
    return model


def _sizes(inputs: dict) -> tuple[int, int, int]:
    n_h, n_x = np.shape(inputs["parameters"]["W1"])
    return n_x, n_h, np.shape(inputs["parameters"]["W2"])[0]


def _grader_model(inputs: dict):
    """The model train_torch and torch_predict are checked on: never the student's TorchMLP."""
    return _load(_probe_mlp_class()(*_sizes(inputs)), inputs["parameters"])


def _layer_params(model) -> dict:
    return {"W1": model.hidden.weight, "b1": model.hidden.bias, "W2": model.output.weight, "b2": model.output.bias}


def observe_torch_mlp(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    """Build the student's TorchMLP with the case's weights, run it, and backpropagate the loss."""
    import torch

    n_x, n_h, n_y = _sizes(inputs)
    made = observe_call(env, "TorchMLP", n_x, n_h, n_y)
    observed: dict = {"made": {k: v for k, v in made.items() if k != "value"}}
    model = made.get("value")
    if model is None:
        return observed
    observed["module"] = isinstance(model, torch.nn.Module)
    observed["layers"] = {name: _describe_layer(getattr(model, name, None)) for name in ("hidden", "output")}
    if not observed["module"] or not all(layer["linear"] for layer in observed["layers"].values()):
        return observed
    try:
        with quiet():
            model = _load(model, inputs["parameters"])
    except (Exception, SystemExit) as exc:
        observed["load"] = describe_exception(exc)
        return observed
    X, Y = inputs["X"], inputs["Y"]
    forward = observe_call({"model": model}, "model", torch.as_tensor(X.T, dtype=torch.float64))
    observed["forward"] = forward
    out = forward.get("value")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (X.shape[1], Y.shape[0]) \
            or not out.requires_grad or out.dtype != torch.float64:
        return observed
    Yt = torch.as_tensor(Y.T, dtype=torch.float64)
    try:
        with quiet():
            loss = -(Yt * out.log() + (1 - Yt) * (1 - out).log()).mean()  # no library loss the submission could replace
            observed["loss"] = float(loss.detach())
            model.zero_grad()
            loss.backward()
    except (Exception, SystemExit) as exc:
        observed["backward"] = describe_exception(exc)
        return observed
    observed["grads"] = {"d" + key: None if p.grad is None else p.grad.detach().numpy().copy()
                         for key, p in _layer_params(model).items()}
    return observed


def _describe_layer(layer: Any) -> dict:
    import torch

    if not isinstance(layer, torch.nn.Linear):
        return {"linear": False}
    return {"linear": True, "shape": tuple(int(n) for n in layer.weight.shape)}


def judge_torch_mlp(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    import torch

    result_of({**observed["made"], "value": None} if "made" in observed else {}, "TorchMLP")
    n_x, n_h, n_y = _sizes(inputs)
    if not observed.get("module"):
        fail("TorchMLP should subclass torch.nn.Module.")
    for name, shape in (("hidden", (n_h, n_x)), ("output", (n_y, n_h))):
        layer = observed["layers"][name]
        if not layer["linear"]:
            fail(f"TorchMLP should have a layer `{name}` that is an nn.Linear.")
        if tuple(layer["shape"]) != shape:
            fail(f"model.{name}.weight has shape {tuple(layer['shape'])}, expected {shape}: "
                 "nn.Linear(in_features, out_features).")
    if "load" in observed:
        fail("TorchMLP could not be loaded with given weights "
             f"({observed['load']['type']}: {observed['load']['message']}).")
    out = _result_or_dtype_hint(observed["forward"], "model(X)",
                                "The tests run a float64 copy of your model on a float64 X: forward must not "
                                "convert X to another dtype (no .float() or dtype=torch.float32 inside forward).")
    X, Y = inputs["X"], inputs["Y"]
    if not isinstance(out, torch.Tensor):
        fail(f"model(X) should return a tensor, not a {type(out).__name__}.")
    if tuple(out.shape) != (X.shape[1], Y.shape[0]):
        fail(f"model(X) has shape {tuple(out.shape)}, expected (m, n_y) = {(X.shape[1], Y.shape[0])}: "
             "X is (m, n_x) here.")
    if not out.requires_grad:
        fail("model(X) does not track gradients: do not detach or convert to NumPy inside forward.")
    if out.dtype != torch.float64:
        fail(f"model(X) returned {out.dtype}: keep the dtype of the input (do not convert inside forward).")
    probs = np.asarray(out.detach().numpy(), dtype=np.float64).T
    A2 = np.asarray(expected["A2"])
    if close(probs, np.log(A2 / (1 - A2))):
        fail("forward returns logits: apply torch.sigmoid to the output layer.")
    assert_close(probs, expected["A2"], "model(X).T", rtol=1e-9, atol=1e-12, mistakes=_mistakes(expected, "A2"))
    if "backward" in observed:
        fail("the loss could not be backpropagated "
             f"({observed['backward']['type']}: {observed['backward']['message']}).")
    assert_float(observed.get("loss"), expected["cost"], "the loss", rtol=1e-9)
    for key in ("dW1", "db1", "dW2", "db2"):
        grad = observed["grads"].get(key)
        if grad is None:
            fail(f"no gradient reached {key[1:]}: every parameter must take part in forward.")
        grad = as_array(grad, f"autograd's {key}").reshape(np.shape(expected[key]))
        assert_close(grad, expected[key], f"autograd's {key}", rtol=1e-7, atol=1e-10)


def observe_train_torch(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    """Train a grader-made model with the student's train_torch; read back costs and weights."""
    model = _grader_model(inputs)
    backward_calls = []
    for param in model.parameters():
        param.register_hook(lambda grad: backward_calls.append(1) or grad)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    costs = observe_call(env, "train_torch", model, inputs["X"], inputs["Y"], num_iterations=inputs["num_iterations"],
                         learning_rate=inputs["learning_rate"], print_cost=False)
    if "value" in costs:
        costs["value"] = _plain_costs(costs["value"])
    return {"costs": costs, "backward_called": bool(backward_calls),
            "moved": any(not bool((p.detach() == start[name]).all()) for name, p in model.named_parameters()),
            "params": {key: p.detach().numpy().copy() for key, p in _layer_params(model).items()}}


def _plain_costs(costs: Any) -> Any:
    """The costs as floats (tensors and NumPy scalars read with float()), or their type if they are not numbers.
    A 1-D array or tensor of the costs counts as their list."""
    if getattr(costs, "ndim", None) == 1 and hasattr(costs, "tolist"):
        costs = costs.tolist()
    if not isinstance(costs, (list, tuple)):
        return costs
    try:
        return [float(c) for c in costs]
    except (TypeError, ValueError, RuntimeError):
        return {"not_numbers": True}


def judge_train_torch(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    costs = _result_or_dtype_hint(observed["costs"], "train_torch", FIXED_DTYPE)
    steps = inputs["num_iterations"]
    if not observed["backward_called"]:
        fail("train_torch never called loss.backward(): compute the gradients with autograd.")
    if isinstance(costs, dict) and costs.get("not_numbers"):
        fail("train_torch should return the list of costs as numbers (use loss.item()).")
    if not isinstance(costs, list):
        fail(f"train_torch should return the list of costs, not a {type(costs).__name__}.")
    costs = np.asarray(costs, dtype=float)
    if len(costs) != steps:
        fail(f"train_torch returned {len(costs)} costs for {steps} iterations: record one cost per iteration.")
    if not observed["moved"]:
        fail("train_torch did not change the model's weights: the optimizer must update model.parameters() "
             "in place (do not create new tensors for the weights).")
    want = np.asarray(expected["costs"])
    if not close(costs, want, rtol=1e-5):
        hint = known_mistake(costs, _mistakes(expected, "costs"))
        if hint:
            fail(f"the costs per iteration are wrong: {hint}")
    if costs.size > 1 and close(costs[:2], want[:2], rtol=1e-6) and not close(costs, want, rtol=1e-5):
        fail("the first steps match but later costs drift: call optimizer.zero_grad() (or zero the .grad) "
             "every iteration; gradients accumulate otherwise.")
    m = inputs["X"].shape[1]
    if costs.size and abs(costs[0] - want[0] * m) < 1e-6 * m * abs(want[0]):
        fail("the loss is m times too large: use the mean binary cross-entropy, not the sum.")
    assert_close(costs, want, "the costs per iteration", rtol=1e-5, diagnose=_diagnose_costs)
    for key in PARAMS:
        value = as_array(observed["params"][key], key).reshape(np.shape(expected[key]))
        assert_close(value, expected[key], f"{key} after training", rtol=1e-5, atol=1e-8,
                     diagnose=lambda a, e: "The weights must be those after the last step: record the cost, then step.")


def _diagnose_costs(actual: np.ndarray, expected: np.ndarray) -> str:
    if actual.size > 1 and close(actual[:1], expected[:1], rtol=1e-6):
        return ("The first cost is right (so are the model and the loss) but the later ones are not: each step must "
                "be plain gradient descent, p = p - learning_rate * p.grad (torch.optim.SGD with lr=learning_rate, "
                "no momentum, no other optimizer).")
    return ("Use full-batch gradient descent on the mean binary cross-entropy with the given learning_rate, starting "
            "from the model's current weights.")


def observe_torch_predict(env: Mapping, inputs: dict, helpers: Callable) -> dict:
    return {"labels": observe_call(env, "torch_predict", _grader_model(inputs), inputs["X"])}


def judge_torch_predict(inputs: dict, observed: dict, expected: dict, ctx: Context) -> None:
    labels = _result_or_dtype_hint(observed["labels"], "torch_predict", FIXED_DTYPE.replace(" and Y", ""))
    if not isinstance(labels, np.ndarray):
        fail(f"torch_predict should return a NumPy array, not a {type(labels).__name__}: use .detach().numpy().")
    if isinstance(ctx.data.get("X"), np.ndarray) and labels.size == ctx.data["X"].shape[1] != inputs["X"].shape[1]:
        fail(GLOBAL_DATA.format(name="torch_predict", arg="X"))
    assert_labels(labels, expected["labels"], "torch_predict(model, X)", ignore=np.asarray(expected["ignore"], bool),
                  shape_hint="Return shape (1, m): transpose the (m, 1) output of the model.",
                  hint="Class 1 is a probability above 0.5.")


QUESTIONS: dict[str, Question] = {
    "q4_layer_sizes": Question(observe_layer_sizes, judge_layer_sizes),
    "q4_initialize_parameters": Question(observe_initialize_parameters, judge_initialize_parameters),
    "q4_forward_propagation": Question(observe_forward_propagation, judge_forward_propagation),
    "q4_compute_cost": Question(observe_compute_cost, judge_compute_cost),
    "q4_backward_propagation": Question(observe_backward_propagation, judge_backward_propagation, given=("cache",)),
    "q4_update_parameters": Question(observe_update_parameters, judge_update_parameters),
    "q4_nn_model": Question(observe_nn_model, judge_nn_model, answers_nn_model),
    "q4_predict": Question(observe_predict, judge_predict, answers_predict),
    "q4_torch_mlp": Question(observe_torch_mlp, judge_torch_mlp),
    "q4_train_torch": Question(observe_train_torch, judge_train_torch),
    "q4_torch_predict": Question(observe_torch_predict, judge_torch_predict),
}


CHECKERS = checkers(QUESTIONS)
