"""Instructor-only reference for Problem 3: expected values for every case.

Gradients come from PyTorch autograd on the objectives and are cross-checked against
central differences, so they do not rest on the hand-derived formulas.
"""
from __future__ import annotations

import numpy as np
import torch

from .cases import hidden_cases

# m != n everywhere (a transposed outer product fails on shape), k != m, N > 1 (a
# missing 1/N), strong weights in one case (saturated sigmoids), lambda = 0 in one case.
HIDDEN_CASES: dict[str, list[dict]] = hidden_cases("q3_")  # edit them in the notebook's hidden blocks


def special_inputs(case: dict) -> dict | None:
    return None


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=grad)


def siamese_objective(W, b, x1, x2, lam):
    h1 = torch.sigmoid(W @ x1 + b)
    h2 = torch.sigmoid(W @ x2 + b)
    return 0.5 * ((h1 - h2) ** 2).sum() + 0.5 * lam * (W ** 2).sum()


def siamese_gradients(W, b, x1, x2, lam) -> dict:
    Wt, bt = _t(W, True), _t(b, True)
    siamese_objective(Wt, bt, _t(x1), _t(x2), lam).backward()
    grads = {"grad_W": Wt.grad.numpy(), "grad_b": bt.grad.numpy()}

    def J(W_, b_):
        with torch.no_grad():
            return float(siamese_objective(_t(W_), _t(b_), _t(x1), _t(x2), lam))

    numeric = {"grad_W": _central(lambda P: J(P, b), W), "grad_b": _central(lambda P: J(W, P), b)}
    for key in grads:  # the two references must agree before we trust either
        assert np.allclose(grads[key], numeric[key], rtol=1e-5, atol=1e-8), key
    return grads


def pseudo_objective(X, Y, W1, b1, W2, b2, W3, b3, h=None):
    if h is None:
        h1 = torch.sigmoid(W1 @ X + b1)
        h2 = torch.relu(W2 @ X + b2)
    else:
        h1, h2 = h
    log_yhat = torch.log_softmax(W3 @ (h1 + h2) + b3, dim=0)
    return -(Y * log_yhat).sum() / X.shape[1]


def pseudo_siamese_gradients(X, Y, W1, b1, W2, b2, W3, b3) -> dict:
    Xt = _t(X, True)
    P = [_t(a) for a in (W1, b1, W2, b2)]
    h1 = torch.sigmoid(P[0] @ Xt + P[1])
    h2 = torch.relu(P[2] @ Xt + P[3])
    h1.retain_grad()
    h2.retain_grad()
    pseudo_objective(Xt, _t(Y), *P, _t(W3), _t(b3), h=(h1, h2)).backward()
    grads = {"dJ_dh1": h1.grad.numpy(), "dJ_dh2": h2.grad.numpy(), "dJ_dX": Xt.grad.numpy()}

    def J(X_):
        with torch.no_grad():
            return float(pseudo_objective(_t(X_), _t(Y), *(_t(a) for a in (W1, b1, W2, b2, W3, b3))))

    assert np.allclose(grads["dJ_dX"], _central(J, X), rtol=1e-5, atol=1e-8), "dJ_dX"
    return grads


def _central(J, P: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(P, dtype=float)
    for index in np.ndindex(P.shape):
        plus, minus = np.array(P, dtype=float), np.array(P, dtype=float)
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (J(plus) - J(minus)) / (2 * eps)
    return grad


def expected(question: str, inputs: dict) -> dict:
    """The reference answer of `question` on one case's inputs (see hw1_checks.problem3)."""
    if question == "q3_siamese_gradients":
        return siamese_gradients(inputs["W"], inputs["b"], inputs["x1"], inputs["x2"], inputs["lam"])
    if question == "q3_siamese_update":
        alpha = inputs["alpha"]
        return {"W": inputs["W"] - alpha * inputs["grad_W"], "b": inputs["b"] - alpha * inputs["grad_b"]}
    if question == "q3_parameter_count":
        if inputs.get("kind") != "value":
            return {}
        return {"count": int(inputs["m"] * inputs["n"] + inputs["m"])}  # W and b, shared by both branches
    if question == "q3_pseudo_siamese_gradients":
        names = ("X", "Y", "W1", "b1", "W2", "b2", "W3", "b3")
        return pseudo_siamese_gradients(*(inputs[n] for n in names))
    if question == "q3_faster_weight":
        return {"answer": "W2"} if inputs.get("kind") == "value" else {}
    raise KeyError(question)
