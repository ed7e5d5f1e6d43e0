"""Instructor-only reference for Problem 1: expected values for every case.

Softmax and cross-entropy come from PyTorch; the weight gradients come from PyTorch
autograd on the mean cross-entropy and are cross-checked against central differences,
so they do not rest on the hand-derived formulas the students are asked to find.
"""
from __future__ import annotations

import numpy as np
import torch

from .cases import hidden_cases

# Non-square shapes (d != h != c != N) catch transposed products; N > 1 everywhere
# catches a missing 1/N; several activations catch a hard-wired derivative.
HIDDEN_CASES: dict[str, list[dict]] = hidden_cases("q1_")  # edit them in the notebook's hidden blocks

TORCH_ACTIVATIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
}


def special_inputs(case: dict) -> dict | None:
    return None


def softmax(S: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.tensor(S, dtype=torch.float64), dim=0).numpy()


def cross_entropy(Z: np.ndarray, T: np.ndarray) -> float:
    return float(-(torch.tensor(T) * torch.log(torch.tensor(Z))).sum() / T.shape[1])


def _objective(X, T, W1, W2, activation):
    """Mean cross-entropy of the one-hidden-layer softmax network (torch, float64)."""
    S = W2 @ TORCH_ACTIVATIONS[activation](W1 @ X)
    return -(T * torch.log_softmax(S, dim=0)).sum() / X.shape[1]


def autograd_gradients(X, T, W1, W2, activation) -> dict:
    W1t = torch.tensor(W1, dtype=torch.float64, requires_grad=True)
    W2t = torch.tensor(W2, dtype=torch.float64, requires_grad=True)
    J = _objective(torch.tensor(X), torch.tensor(T), W1t, W2t, activation)
    J.backward()
    return {"dW1": W1t.grad.numpy(), "dW2": W2t.grad.numpy()}


def central_difference_gradients(X, T, W1, W2, activation, eps: float = 1e-6) -> dict:
    def J(W1_, W2_):
        with torch.no_grad():
            return float(_objective(torch.tensor(X), torch.tensor(T), torch.tensor(W1_), torch.tensor(W2_), activation))

    grads = {}
    for key, W in (("dW1", W1), ("dW2", W2)):
        grad = np.zeros_like(W)
        for index in np.ndindex(W.shape):
            plus, minus = W.copy(), W.copy()
            plus[index] += eps
            minus[index] -= eps
            args_p = (plus, W2) if key == "dW1" else (W1, plus)
            args_m = (minus, W2) if key == "dW1" else (W1, minus)
            grad[index] = (J(*args_p) - J(*args_m)) / (2 * eps)
        grads[key] = grad
    return grads


def gradients(X, T, W1, W2, activation) -> dict:
    grads = autograd_gradients(X, T, W1, W2, activation)
    numeric = central_difference_gradients(X, T, W1, W2, activation)
    for key, value in grads.items():  # the two references must agree before we trust either
        assert np.allclose(value, numeric[key], rtol=1e-5, atol=1e-8), key
    return grads


def expected(question: str, inputs: dict) -> dict:
    """The reference answer of `question` on one case's inputs (see hw1_checks.problem1)."""
    if question == "q1_softmax":
        return {"Z": softmax(inputs["S"])}
    if question == "q1_cross_entropy":
        return {"J": cross_entropy(inputs["Z"], inputs["T"])}
    if question in ("q1_grad_hidden_to_output", "q1_grad_input_to_hidden"):
        return gradients(inputs["X"], inputs["T"], inputs["W1"], inputs["W2"], inputs["activation"])
    if question == "q1_nll_equivalence":
        Z, y = inputs["Z"], inputs["y"]
        nll = float(-torch.log(torch.tensor(Z)[torch.as_tensor(y), torch.arange(len(y))]).sum())
        # the equivalence itself: N times the mean cross-entropy on one-hot targets
        assert abs(nll - len(y) * cross_entropy(Z, inputs["T"])) <= 1e-9 * max(1.0, abs(nll))
        T = torch.nn.functional.one_hot(torch.as_tensor(y), inputs["c"]).T.double().numpy()
        return {"T": T, "nll": nll}
    raise KeyError(question)
