"""Problem 1 (softmax + cross-entropy): the instructor's solutions pass every check, plausible wrong
formulas fail the hidden checks."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import solution_namespace
from hw1_checks import CheckFailure, check
from hw1_hidden import check_hidden

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "hw1" / "Problem1_Softmax_CrossEntropy.ipynb"
QUESTIONS = ["q1_softmax", "q1_cross_entropy", "q1_grad_hidden_to_output", "q1_grad_input_to_hidden",
             "q1_nll_equivalence"]


@pytest.fixture(scope="module")
def reference() -> dict:
    return solution_namespace(NOTEBOOK.name)


from conftest import with_wrong  # noqa: E402


@pytest.mark.parametrize("question", QUESTIONS)
def test_reference_passes(reference, question):
    assert "passed" in check(question, reference)
    assert "passed" in check_hidden(question, reference)


@pytest.mark.parametrize("question", QUESTIONS)
def test_missing_function_fails(question):
    with pytest.raises(AssertionError):
        check_hidden(question, {"np": __import__("numpy")})


WRONG = {
    "softmax over the rows": ("q1_softmax", """
def softmax(S):
    E = np.exp(S - S.max(axis=0, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)
"""),
    "softmax without subtracting the maximum": ("q1_softmax", """
def softmax(S):
    E = np.exp(S)
    return E / E.sum(axis=0, keepdims=True)
"""),
    "cross-entropy summed, no 1/N": ("q1_cross_entropy", """
def cross_entropy(Z, T):
    return float(-np.sum(T * np.log(Z)))
"""),
    "cross-entropy sign": ("q1_cross_entropy", """
def cross_entropy(Z, T):
    return float(np.sum(T * np.log(Z)) / T.shape[1])
"""),
    "binary cross-entropy": ("q1_cross_entropy", """
def cross_entropy(Z, T):
    return float(-np.sum(T * np.log(Z) + (1 - T) * np.log(1 - Z)) / T.shape[1])
"""),
    "dW2 without 1/N": ("q1_grad_hidden_to_output", """
def grad_hidden_to_output(X, T, W1, W2, f):
    Y = f(W1 @ X)
    return (softmax(W2 @ Y) - T) @ Y.T
"""),
    "dW2 sign": ("q1_grad_hidden_to_output", """
def grad_hidden_to_output(X, T, W1, W2, f):
    Y = f(W1 @ X)
    return (T - softmax(W2 @ Y)) @ Y.T / X.shape[1]
"""),
    "dW2 with the pre-activation instead of f(A)": ("q1_grad_hidden_to_output", """
def grad_hidden_to_output(X, T, W1, W2, f):
    A = W1 @ X
    return (softmax(W2 @ f(A)) - T) @ A.T / X.shape[1]
"""),
    "dW2 transposed": ("q1_grad_hidden_to_output", """
def grad_hidden_to_output(X, T, W1, W2, f):
    Y = f(W1 @ X)
    return Y @ (softmax(W2 @ Y) - T).T / X.shape[1]
"""),
    "dW1 without 1/N": ("q1_grad_input_to_hidden", """
def grad_input_to_hidden(X, T, W1, W2, f, f_prime):
    A = W1 @ X
    return ((W2.T @ (softmax(W2 @ f(A)) - T)) * f_prime(A)) @ X.T
"""),
    "dW1 with f_prime at the hidden output": ("q1_grad_input_to_hidden", """
def grad_input_to_hidden(X, T, W1, W2, f, f_prime):
    A = W1 @ X
    Y = f(A)
    return ((W2.T @ (softmax(W2 @ Y) - T)) * f_prime(Y)) @ X.T / X.shape[1]
"""),
    "dW1 with sigmoid' hard-wired": ("q1_grad_input_to_hidden", """
def grad_input_to_hidden(X, T, W1, W2, f, f_prime):
    A = W1 @ X
    Y = f(A)
    s = 1 / (1 + np.exp(-A))
    return ((W2.T @ (softmax(W2 @ Y) - T)) * s * (1 - s)) @ X.T / X.shape[1]
"""),
    "dW1 with f instead of f_prime": ("q1_grad_input_to_hidden", """
def grad_input_to_hidden(X, T, W1, W2, f, f_prime):
    A = W1 @ X
    return ((W2.T @ (softmax(W2 @ f(A)) - T)) * f(A)) @ X.T / X.shape[1]
"""),
    "dW1 without the derivative": ("q1_grad_input_to_hidden", """
def grad_input_to_hidden(X, T, W1, W2, f, f_prime):
    A = W1 @ X
    return (W2.T @ (softmax(W2 @ f(A)) - T)) @ X.T / X.shape[1]
"""),
    "NLL as a mean": ("q1_nll_equivalence", """
def negative_log_likelihood(Z, labels):
    return float(-np.mean(np.log(Z[labels, np.arange(len(labels))])))
"""),
    "NLL through the product of probabilities": ("q1_nll_equivalence", """
def negative_log_likelihood(Z, labels):
    return float(-np.log(np.prod(Z[labels, np.arange(len(labels))])))
"""),
    "one-hot transposed": ("q1_nll_equivalence", """
def one_hot(labels, c):
    return np.eye(c)[labels]
"""),
    "one-hot with 1-based labels": ("q1_nll_equivalence", """
def one_hot(labels, c):
    T = np.zeros((c, len(labels)))
    T[np.asarray(labels) - 1, np.arange(len(labels))] = 1.0
    return T
"""),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_wrong_formula_fails(reference, mistake):
    question, source = WRONG[mistake]
    with pytest.raises(AssertionError):
        check_hidden(question, with_wrong(reference, source))


def test_public_check_explains_overflow(reference):
    """Large logits are in a public case too (no hidden surprise): the student sees the overflow before handing in."""
    namespace = with_wrong(reference, WRONG["softmax without subtracting the maximum"][1])
    with pytest.raises(AssertionError, match="public case 2: .*overflow"):
        check("q1_softmax", namespace)
    with pytest.raises(AssertionError, match="overflow"):
        check_hidden("q1_softmax", namespace)


def test_public_check_names_missing_mean(reference):
    with pytest.raises(CheckFailure, match="N = 5 times too large"):
        check("q1_grad_hidden_to_output", with_wrong(reference, WRONG["dW2 without 1/N"][1]))


def test_nll_equivalence_numerically(reference):
    import numpy as np

    rng = np.random.default_rng(7)
    c, N = 5, 40
    Z = reference["softmax"](rng.normal(size=(c, N)))
    labels = rng.integers(0, c, size=N)
    ce = reference["cross_entropy"](Z, reference["one_hot"](labels, c))
    assert abs(N * ce - reference["negative_log_likelihood"](Z, labels)) < 1e-9
