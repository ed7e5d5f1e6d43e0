"""Instructor-only reference for Planar_MLP: expected values for every case.

Gradients come from PyTorch autograd on the reference loss and are cross-checked
against central differences, so they do not rest on a hand-derived formula.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

PARAMS = ("W1", "b1", "W2", "b2")

# Hidden cases use shapes and seeds the public ones never do; non-square shapes
# (n_x != n_h != m) catch transposed products, n_y > 1 catches hard-wired outputs.
HIDDEN_CASES: dict[str, list[dict]] = {
    "q4_layer_sizes": [dict(seed=11, n_x=3, n_h=4, n_y=1, m=7), dict(seed=12, n_x=7, n_h=4, n_y=3, m=2)],
    "q4_initialize_parameters": [dict(seed=0, n_x=3, n_h=5, n_y=2, m=1), dict(seed=0, n_x=6, n_h=2, n_y=1, m=1)],
    "q4_forward_propagation": [dict(seed=13, n_x=3, n_h=5, n_y=1, m=7), dict(seed=14, n_x=4, n_h=2, n_y=2, m=9)],
    "q4_compute_cost": [dict(seed=15, n_x=2, n_h=3, n_y=1, m=11), dict(seed=16, n_x=5, n_h=4, n_y=1, m=40)],
    "q4_backward_propagation": [dict(seed=17, n_x=3, n_h=5, n_y=1, m=7), dict(seed=18, n_x=6, n_h=4, n_y=1, m=13)],
    "q4_update_parameters": [dict(seed=19, n_x=3, n_h=5, n_y=1, m=7, learning_rate=0.37), dict(seed=20, n_x=4, n_h=6, n_y=2, m=3)],
    "q4_nn_model": [dict(seed=21, n_x=3, n_h=5, n_y=1, m=30, num_iterations=25), dict(flower=True, n_h=4, num_iterations=1500)],
    "q4_predict": [dict(seed=22, n_x=3, n_h=5, n_y=1, m=50), dict(seed=23, n_x=5, n_h=3, n_y=1, m=31)],
    "q4_torch_mlp": [dict(seed=24, n_x=3, n_h=5, n_y=1, m=7), dict(seed=25, n_x=6, n_h=2, n_y=1, m=10)],
    "q4_train_torch": [dict(seed=26, n_x=3, n_h=5, n_y=1, m=20, num_iterations=6, learning_rate=0.8), dict(flower=True, n_h=4, num_iterations=2500, learning_rate=1.2, min_accuracy=0.9)],
    "q4_torch_predict": [dict(seed=27, n_x=3, n_h=5, n_y=1, m=50), dict(seed=28, n_x=4, n_h=3, n_y=1, m=23)],
}


def special_inputs(case: dict) -> dict | None:
    """Inputs of the cases on the notebook's flower data, from the standard starting weights."""
    if not case.get("flower"):
        return None
    from planar_utils import load_planar_dataset

    X, Y = load_planar_dataset()
    return {**case, "X": X, "Y": Y.astype(float), "parameters": initialize_parameters(X.shape[0], case["n_h"], 1)}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict:
    np.random.seed(2)
    W1 = np.random.randn(n_h, n_x) * 0.01
    W2 = np.random.randn(n_y, n_h) * 0.01
    return {"W1": W1, "b1": np.zeros((n_h, 1)), "W2": W2, "b2": np.zeros((n_y, 1))}


def forward_propagation(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, dict]:
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)


def autograd_gradients(parameters: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Gradients of the mean cross-entropy by PyTorch autograd in float64."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in parameters.items()}
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    A1 = torch.tanh(tensors["W1"] @ Xt + tensors["b1"])
    A2 = torch.sigmoid(tensors["W2"] @ A1 + tensors["b2"])
    cost = -(Yt * torch.log(A2) + (1 - Yt) * torch.log(1 - A2)).sum() / X.shape[1]
    cost.backward()
    return {"d" + k: t.grad.numpy() for k, t in tensors.items()}


def central_difference_gradients(parameters: dict, X: np.ndarray, Y: np.ndarray, eps: float = 1e-6) -> dict:
    """Gradients of the reference cost by central differences (an independent cross-check)."""
    grads = {}
    for name in PARAMS:
        grad = np.zeros_like(parameters[name])
        for index in np.ndindex(grad.shape):
            shifted = {k: v.copy() for k, v in parameters.items()}
            shifted[name][index] += eps
            plus = compute_cost(forward_propagation(X, shifted)[0], Y)
            shifted[name][index] -= 2 * eps
            minus = compute_cost(forward_propagation(X, shifted)[0], Y)
            grad[index] = (plus - minus) / (2 * eps)
        grads["d" + name] = grad
    return grads


def backward_propagation(parameters: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    grads = autograd_gradients(parameters, X, Y)
    numeric = central_difference_gradients(parameters, X, Y)
    for key, value in grads.items():  # the two references must agree before we trust either
        assert np.allclose(value, numeric[key], rtol=1e-5, atol=1e-8), key
    return grads


def update_parameters(parameters: dict, grads: dict, learning_rate: float) -> dict:
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in PARAMS}


def train(parameters: dict, X: np.ndarray, Y: np.ndarray, num_iterations: int, learning_rate: float = 1.2):
    """Full-batch gradient descent; returns the final parameters and the cost before each step."""
    parameters, costs = copy.deepcopy(parameters), []
    for _ in range(num_iterations):
        A2, cache = forward_propagation(X, parameters)
        costs.append(compute_cost(A2, Y))
        dZ2 = A2 - Y
        dZ1 = (parameters["W2"].T @ dZ2) * (1 - cache["A1"] ** 2)
        m = X.shape[1]
        grads = {"dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m,
                 "dW2": dZ2 @ cache["A1"].T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m}
        parameters = update_parameters(parameters, grads, learning_rate)
    return parameters, costs


def near_boundary(parameters: dict, X: np.ndarray, margin: float = 1e-6) -> np.ndarray:
    """Points whose probability is too close to 0.5 to judge a 0/1 label."""
    A2, _ = forward_propagation(X, parameters)
    return np.abs(A2 - 0.5) < margin


def expected(question: str, inputs: dict) -> dict:
    """The reference answer of `question` on one case's inputs (see hw1_checks.planar_mlp)."""
    X, Y, params = inputs.get("X"), inputs.get("Y"), inputs.get("parameters")
    if question == "q4_layer_sizes":
        return {"sizes": [X.shape[0], 4, Y.shape[0]]}
    if question == "q4_initialize_parameters":
        return initialize_parameters(inputs["n_x"], inputs["n_h"], inputs["n_y"])
    if question == "q4_forward_propagation":
        return forward_propagation(X, params)[1]
    if question == "q4_compute_cost":
        return {"cost": compute_cost(inputs["A2"], Y)}
    if question == "q4_backward_propagation":
        return backward_propagation(params, X, Y)
    if question == "q4_update_parameters":
        return update_parameters(params, inputs["grads"], inputs.get("learning_rate") or 1.2)
    if question == "q4_nn_model":
        start = initialize_parameters(X.shape[0], inputs["n_h"], Y.shape[0])
        return train(start, X, Y, inputs["num_iterations"])[0]
    if question in ("q4_predict", "q4_torch_predict"):
        A2, _ = forward_propagation(X, params)
        return {"labels": (A2 > 0.5).astype(float), "ignore": near_boundary(params, X)}
    if question == "q4_torch_mlp":
        A2, _ = forward_propagation(X, params)
        return {"A2": A2, "cost": compute_cost(A2, Y), **backward_propagation(params, X, Y)}
    if question == "q4_train_torch":
        final, costs = train(params, X, Y, inputs["num_iterations"], inputs["learning_rate"])
        return {"costs": costs, **final}
    raise KeyError(question)
