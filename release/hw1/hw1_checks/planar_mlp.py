"""Checks for Planar_MLP: how each case's inputs are made and how a student's answer is judged.

A case is a small dict (seed and sizes). `make_inputs` turns it into arrays; a checker
calls the student's function on them and compares with the expected values, which
come from `public_expected.json` for the public cases and from the instructor's
reference for the hidden ones.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

import numpy as np

from ._core import (
    as_array,
    assert_close,
    assert_float,
    assert_labels,
    call,
    close,
    expect_shape,
    fail,
    quiet,
    student_function,
)

PARAMS = ("W1", "b1", "W2", "b2")

PUBLIC_CASES: dict[str, list[dict]] = {
    "q4_layer_sizes": [dict(seed=1, n_x=5, n_h=4, n_y=2, m=3)],
    "q4_initialize_parameters": [dict(seed=0, n_x=2, n_h=4, n_y=1, m=1)],
    "q4_forward_propagation": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3)],
    "q4_compute_cost": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3)],
    "q4_backward_propagation": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3)],
    "q4_update_parameters": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3)],
    "q4_nn_model": [dict(seed=2, n_x=2, n_h=4, n_y=1, m=5, num_iterations=10)],
    "q4_predict": [dict(seed=3, n_x=2, n_h=4, n_y=1, m=8)],
    "q4_torch_mlp": [dict(seed=1, n_x=2, n_h=4, n_y=1, m=3)],
    "q4_train_torch": [dict(seed=4, n_x=2, n_h=4, n_y=1, m=6, num_iterations=3, learning_rate=1.2)],
    "q4_torch_predict": [dict(seed=3, n_x=2, n_h=4, n_y=1, m=8)],
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


def check_layer_sizes(env: Mapping, inputs: dict, expected: dict) -> None:
    sizes = call(env, "layer_sizes", inputs["X"], inputs["Y"])
    if not isinstance(sizes, tuple) or len(sizes) != 3:
        fail(f"layer_sizes should return a tuple (n_x, n_h, n_y), got {sizes!r}.")
    want = tuple(expected["sizes"])
    if tuple(sizes) != want:
        hint = " n_x and n_y are the number of rows of X and Y (X.shape[0])." if sizes[0] != want[0] else ""
        fail(f"layer_sizes returned {tuple(sizes)} for X of shape {inputs['X'].shape} and Y of shape {inputs['Y'].shape}, expected {want}.{hint}")


def check_initialize_parameters(env: Mapping, inputs: dict, expected: dict) -> None:
    params = call(env, "initialize_parameters", inputs["n_x"], inputs["n_h"], inputs["n_y"])
    if not isinstance(params, dict):
        fail("initialize_parameters should return a dict with W1, b1, W2, b2.")
    for key in PARAMS:
        if key not in params:
            fail(f"initialize_parameters is missing {key}.")
        value = as_array(params[key], key)
        expect_shape(value, np.shape(expected[key]), key)
    for key in ("b1", "b2"):
        if np.any(as_array(params[key], key) != 0):
            fail(f"{key} should start at zeros.")
    for key in ("W1", "W2"):
        value = as_array(params[key], key)
        if close(value, np.asarray(expected[key]) * 100):
            fail(f"{key} is 100 times too large: multiply the random values by 0.01.")
        assert_close(value, expected[key], key, rtol=1e-6, atol=1e-10,
                     diagnose=lambda a, e: "Seed NumPy with np.random.seed(2) inside the function and draw W1 before W2 with np.random.randn.")


def check_forward_propagation(env: Mapping, inputs: dict, expected: dict) -> None:
    result = call(env, "forward_propagation", inputs["X"], _params_copy(inputs))
    if not isinstance(result, tuple) or len(result) != 2:
        fail("forward_propagation should return the pair (A2, cache).")
    A2, cache = result
    if not isinstance(cache, dict):
        fail("the cache returned by forward_propagation should be a dict with Z1, A1, Z2, A2.")
    for key in ("Z1", "A1", "Z2", "A2"):
        if key not in cache:
            fail(f"the cache is missing {key}.")
    assert_close(cache["Z1"], expected["Z1"], "Z1", diagnose=_diagnose_affine)
    Z1 = np.asarray(expected["Z1"])
    if close(as_array(cache["A1"], "A1"), 1 / (1 + np.exp(-Z1))):
        fail("A1 is sigmoid(Z1): the hidden layer uses tanh.")
    assert_close(cache["A1"], expected["A1"], "A1")
    assert_close(cache["Z2"], expected["Z2"], "Z2", diagnose=_diagnose_affine)
    if close(as_array(A2, "A2"), np.tanh(np.asarray(expected["Z2"]))):
        fail("A2 is tanh(Z2): the output layer uses the sigmoid.")
    assert_close(A2, expected["A2"], "A2")
    assert_close(cache["A2"], expected["A2"], "cache['A2']")


def _diagnose_affine(actual: np.ndarray, expected: np.ndarray) -> str | None:
    return "Check W @ X + b: the bias b must be added to every column (b has shape (n, 1))."


def check_compute_cost(env: Mapping, inputs: dict, expected: dict) -> None:
    params = _params_copy(inputs)
    cost = call(env, "compute_cost", inputs["A2"], inputs["Y"], params)
    m = inputs["Y"].shape[1]
    if isinstance(cost, float) and abs(cost - expected["cost"] * m) < 1e-6 * max(1, abs(cost)):
        fail("the cost is m times too large: average over the m examples.")
    assert_float(cost, expected["cost"], "the cost")


def check_backward_propagation(env: Mapping, inputs: dict, expected: dict) -> None:
    params = _params_copy(inputs)
    _, cache = _reference_forward(inputs["X"], params)
    grads = call(env, "backward_propagation", params, cache, inputs["X"], inputs["Y"])
    if not isinstance(grads, dict):
        fail("backward_propagation should return a dict with dW1, db1, dW2, db2.")
    m = inputs["X"].shape[1]
    for key in ("dW2", "db2", "dW1", "db1"):
        if key not in grads:
            fail(f"backward_propagation is missing {key}.")
        assert_close(grads[key], expected[key], key, diagnose=lambda a, e, key=key: _diagnose_grad(key, a, e, m))


def _diagnose_grad(key: str, actual: np.ndarray, expected: np.ndarray, m: int) -> str | None:
    if close(actual, expected * m):
        return f"{key} is m = {m} times too large: did you average over the batch (divide by m)?"
    if close(actual, expected / m):
        return f"{key} is m = {m} times too small: divide by m once, not twice."
    if key in ("dW1", "db1"):
        return "Check dZ1 = W2.T @ dZ2 * (1 - A1**2): the derivative of tanh is 1 - tanh**2."
    return "Check dZ2 = A2 - Y and dW2 = dZ2 @ A1.T / m."


def _reference_forward(X: np.ndarray, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Forward pass used to build the cache handed to backward_propagation.

    The cache is an input here, so a wrong forward_propagation cannot spoil this question.
    """
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.tanh(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def check_update_parameters(env: Mapping, inputs: dict, expected: dict) -> None:
    params, grads = _params_copy(inputs), copy.deepcopy(inputs["grads"])
    rate = inputs.get("learning_rate")
    if rate is None:
        updated = call(env, "update_parameters", params, grads)
    else:
        updated = call(env, "update_parameters", params, grads, learning_rate=rate)
    if not isinstance(updated, dict):
        fail("update_parameters should return the dict of updated parameters.")
    original = inputs["parameters"]
    for key in PARAMS:
        if key not in updated:
            fail(f"update_parameters is missing {key}.")
        value = as_array(updated[key], key)
        if close(value, original[key]):
            fail(f"{key} was not updated.")
        if close(value, original[key] + (original[key] - expected[key])):
            fail(f"{key} moved uphill: subtract learning_rate * d{key}.")
        assert_close(value, expected[key], key,
                     diagnose=lambda a, e: f"Use the learning_rate argument (default 1.2): {key} - learning_rate * d{key}.")


def check_nn_model(env: Mapping, inputs: dict, expected: dict) -> None:
    trained = call(env, "nn_model", inputs["X"], inputs["Y"], inputs["n_h"],
                   num_iterations=inputs["num_iterations"], print_cost=False)
    if not isinstance(trained, dict):
        fail("nn_model should return the trained parameters dict.")
    for key in PARAMS:
        if key not in trained:
            fail(f"nn_model's parameters are missing {key}.")
        assert_close(trained[key], expected[key], f"{key} after {inputs['num_iterations']} iterations", rtol=1e-4, atol=1e-7,
                     diagnose=lambda a, e: "Train on the X and Y passed in, for num_iterations steps: forward, cost, backward, update.")


def check_predict(env: Mapping, inputs: dict, expected: dict) -> None:
    labels = call(env, "predict", _params_copy(inputs), inputs["X"])
    assert_labels(labels, expected["labels"], "predict(parameters, X)", ignore=np.asarray(expected["ignore"], bool))


def _torch_model(env: Mapping, inputs: dict):
    """A float64 TorchMLP of the case's sizes, loaded with the case's parameters."""
    import torch

    params = inputs["parameters"]
    n_h, n_x = np.shape(params["W1"])
    n_y = np.shape(params["W2"])[0]
    model = call(env, "TorchMLP", n_x, n_h, n_y)
    if not isinstance(model, torch.nn.Module):
        fail("TorchMLP should subclass torch.nn.Module.")
    for name, shape in (("hidden", (n_h, n_x)), ("output", (n_y, n_h))):
        layer = getattr(model, name, None)
        if not isinstance(layer, torch.nn.Linear):
            fail(f"TorchMLP should have a layer `{name}` that is an nn.Linear.")
        if tuple(layer.weight.shape) != shape:
            fail(f"model.{name}.weight has shape {tuple(layer.weight.shape)}, expected {shape}: nn.Linear(in_features, out_features).")
    model = model.double()
    with torch.no_grad():
        for layer, w, b in ((model.hidden, "W1", "b1"), (model.output, "W2", "b2")):
            layer.weight.copy_(torch.as_tensor(params[w]))
            layer.bias.copy_(torch.as_tensor(params[b]).reshape(-1))
    return model


def _model_probabilities(model, X: np.ndarray, what: str):
    import torch

    try:
        with quiet():
            out = model(torch.as_tensor(X.T, dtype=torch.float64))
    except (Exception, SystemExit) as exc:
        fail(f"{what} raised {type(exc).__name__}: {exc}")
    if not isinstance(out, torch.Tensor):
        fail(f"{what} should return a tensor, not a {type(out).__name__}.")
    return out


def check_torch_mlp(env: Mapping, inputs: dict, expected: dict) -> None:
    import torch

    model = _torch_model(env, inputs)
    X, Y = inputs["X"], inputs["Y"]
    out = _model_probabilities(model, X, "model(X)")
    if tuple(out.shape) != (X.shape[1], Y.shape[0]):
        fail(f"model(X) has shape {tuple(out.shape)}, expected (m, n_y) = {(X.shape[1], Y.shape[0])}: X is (m, n_x) here.")
    if not out.requires_grad:
        fail("model(X) does not track gradients: do not detach or convert to NumPy inside forward.")
    probs = out.detach().numpy().T
    A2 = np.asarray(expected["A2"])
    if close(probs, np.log(A2 / (1 - A2))):
        fail("forward returns logits: apply torch.sigmoid to the output layer.")
    assert_close(probs, expected["A2"], "model(X).T", rtol=1e-9, atol=1e-12)
    loss = torch.nn.functional.binary_cross_entropy(out, torch.as_tensor(Y.T))
    assert_float(float(loss.detach()), expected["cost"], "the loss", rtol=1e-9)
    model.zero_grad()
    loss.backward()
    for key, param in (("dW1", model.hidden.weight), ("db1", model.hidden.bias), ("dW2", model.output.weight), ("db2", model.output.bias)):
        if param.grad is None:
            fail(f"no gradient reached {key[1:]}: every parameter must take part in forward.")
        grad = param.grad.numpy().reshape(np.shape(expected[key]))
        assert_close(grad, expected[key], f"autograd's {key}", rtol=1e-7, atol=1e-10)


def check_train_torch(env: Mapping, inputs: dict, expected: dict) -> None:
    import torch

    model = _torch_model(env, inputs)
    backward_calls = []
    for param in model.parameters():
        param.register_hook(lambda grad: backward_calls.append(1) or grad)
    steps = inputs["num_iterations"]
    costs = call(env, "train_torch", model, inputs["X"], inputs["Y"], num_iterations=steps,
                 learning_rate=inputs["learning_rate"], print_cost=False)
    if not backward_calls:
        fail("train_torch never called loss.backward(): compute the gradients with autograd.")
    try:
        costs = np.asarray([float(c) for c in costs], dtype=float)
    except (TypeError, ValueError):
        fail("train_torch should return the list of costs as numbers (use loss.item()).")
    if len(costs) != steps:
        fail(f"train_torch returned {len(costs)} costs for {steps} iterations: record one cost per iteration.")
    if "min_accuracy" in inputs:
        probs = _model_probabilities(model, inputs["X"], "model(X)").detach().numpy().T
        acc = float(np.mean((probs > 0.5) == (inputs["Y"] > 0.5)))
        if acc < inputs["min_accuracy"]:
            fail(f"after {steps} iterations the model reaches {acc:.1%} training accuracy, expected at least {inputs['min_accuracy']:.0%}.")
    want = np.asarray(expected["costs"])
    if costs.size > 1 and close(costs[:2], want[:2], rtol=1e-6) and not close(costs, want, rtol=1e-5):
        fail("the first steps match but later costs drift: call optimizer.zero_grad() (or zero the .grad) every iteration; gradients accumulate otherwise.")
    assert_close(costs, want, "the costs per iteration", rtol=1e-5,
                 diagnose=lambda a, e: "Use full-batch gradient descent on the mean binary cross-entropy with the given learning_rate, starting from the model's current weights.")
    for key, param in (("W1", model.hidden.weight), ("b1", model.hidden.bias), ("W2", model.output.weight), ("b2", model.output.bias)):
        value = param.detach().numpy().reshape(np.shape(expected[key]))
        assert_close(value, expected[key], f"{key} after training", rtol=1e-5, atol=1e-8)


def check_torch_predict(env: Mapping, inputs: dict, expected: dict) -> None:
    model = _torch_model(env, inputs)
    labels = call(env, "torch_predict", model, inputs["X"])
    if not isinstance(labels, np.ndarray):
        fail(f"torch_predict should return a NumPy array, not a {type(labels).__name__}: use .detach().numpy().")
    assert_labels(labels, expected["labels"], "torch_predict(model, X)", ignore=np.asarray(expected["ignore"], bool))


CHECKERS: dict[str, Callable[[Mapping, dict, dict], None]] = {
    "q4_layer_sizes": check_layer_sizes,
    "q4_initialize_parameters": check_initialize_parameters,
    "q4_forward_propagation": check_forward_propagation,
    "q4_compute_cost": check_compute_cost,
    "q4_backward_propagation": check_backward_propagation,
    "q4_update_parameters": check_update_parameters,
    "q4_nn_model": check_nn_model,
    "q4_predict": check_predict,
    "q4_torch_mlp": check_torch_mlp,
    "q4_train_torch": check_train_torch,
    "q4_torch_predict": check_torch_predict,
}
