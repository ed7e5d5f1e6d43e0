"""Problem 3 (Siamese nets): the instructor's solutions pass every check, plausible wrong formulas
fail the hidden checks, and the public cases of one-value answers do not give the answer away."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import solution_namespace
from hw1_checks import check, public_expected
from hw1_hidden import check_hidden

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "hw1" / "Problem3_Siamese_Nets.ipynb"
QUESTIONS = ["q3_siamese_gradients", "q3_siamese_update", "q3_parameter_count", "q3_pseudo_siamese_gradients",
             "q3_faster_weight"]


@pytest.fixture(scope="module")
def reference() -> dict:
    return solution_namespace(NOTEBOOK.name)


from conftest import with_wrong  # noqa: E402


@pytest.mark.parametrize("question", QUESTIONS)
def test_reference_passes(reference, question):
    assert "passed" in check(question, reference)
    assert "passed" in check_hidden(question, reference)


@pytest.mark.parametrize("question", QUESTIONS)
def test_missing_answer_fails(question):
    with pytest.raises(AssertionError):
        check_hidden(question, {"np": np})


def test_reference_values(reference):
    assert reference["siamese_parameter_count"](10, 5) == 60
    assert reference["FASTER_WEIGHT"] == "W2"


def test_public_expected_does_not_reveal_one_value_answers():
    expected = public_expected()
    assert all(case == {} for case in expected["q3_parameter_count"])
    assert expected["q3_faster_weight"] == [{}]


SIAMESE = """
def siamese_gradients(W, b, x1, x2, lam):
    a1, a2 = W @ x1 + b, W @ x2 + b
    h1, h2 = sigmoid(a1), sigmoid(a2)
    d1 = {d1}
    d2 = {d2}
    return {grad_W}, {grad_b}
"""


def siamese(d1="(h1 - h2) * h1 * (1 - h1)", d2="(h2 - h1) * h2 * (1 - h2)",
            grad_W="d1 @ x1.T + d2 @ x2.T + lam * W", grad_b="d1 + d2") -> str:
    return SIAMESE.format(d1=d1, d2=d2, grad_W=grad_W, grad_b=grad_b)


PSEUDO = """
def pseudo_siamese_gradients(X, Y, W1, b1, W2, b2, W3, b3):
    N = X.shape[1]
    A1, A2 = W1 @ X + b1, W2 @ X + b2
    H1, H2 = sigmoid(A1), relu(A2)
    S = W3 @ (H1 + H2) + b3
    E = np.exp(S - S.max(axis=0, keepdims=True))
    Y_hat = E / E.sum(axis=0, keepdims=True)
    G = {G}
    return {dh1}, {dh2}, {dX}
"""


def pseudo(G="W3.T @ (Y_hat - Y) / N", dh1="G", dh2="G",
           dX="W1.T @ (G * H1 * (1 - H1)) + W2.T @ (G * (A2 > 0))") -> str:
    return PSEUDO.format(G=G, dh1=dh1, dh2=dh2, dX=dX)


WRONG = {
    "grad_W without lambda W": ("q3_siamese_gradients", siamese(grad_W="d1 @ x1.T + d2 @ x2.T")),
    "grad_W with lambda W / 2": ("q3_siamese_gradients", siamese(grad_W="d1 @ x1.T + d2 @ x2.T + lam * W / 2")),
    "only the first branch": ("q3_siamese_gradients", siamese(grad_W="d1 @ x1.T + lam * W", grad_b="d1")),
    "same sign in both branches": ("q3_siamese_gradients", siamese(d2="(h1 - h2) * h2 * (1 - h2)")),
    "ReLU derivative instead of sigmoid'": ("q3_siamese_gradients",
                                            siamese(d1="(h1 - h2) * (a1 > 0)", d2="(h2 - h1) * (a2 > 0)")),
    "regularised bias": ("q3_siamese_gradients", siamese(grad_b="d1 + d2 + lam * b")),
    "transposed outer product": ("q3_siamese_gradients", siamese(grad_W="x1 @ d1.T + x2 @ d2.T + lam * W.T")),
    "update uphill": ("q3_siamese_update", """
def siamese_update(W, b, grad_W, grad_b, alpha):
    return W + alpha * grad_W, b + alpha * grad_b
"""),
    "update ignores alpha": ("q3_siamese_update", """
def siamese_update(W, b, grad_W, grad_b, alpha):
    return W - grad_W, b - grad_b
"""),
    "bias not updated": ("q3_siamese_update", """
def siamese_update(W, b, grad_W, grad_b, alpha):
    return W - alpha * grad_W, b
"""),
    "shared parameters counted twice": ("q3_parameter_count", """
def siamese_parameter_count(m, n):
    return 2 * (m * n + m)
"""),
    "biases forgotten": ("q3_parameter_count", """
def siamese_parameter_count(m, n):
    return m * n
"""),
    "count as a float": ("q3_parameter_count", """
def siamese_parameter_count(m, n):
    return float(m * n + m)
"""),
    "count hard-wired to 60": ("q3_parameter_count", """
def siamese_parameter_count(m, n):
    return 60
"""),
    "pseudo without 1/N": ("q3_pseudo_siamese_gradients", pseudo(G="W3.T @ (Y_hat - Y)")),
    "pseudo sign": ("q3_pseudo_siamese_gradients", pseudo(G="W3.T @ (Y - Y_hat) / N")),
    "dJ/dh2 through the ReLU": ("q3_pseudo_siamese_gradients", pseudo(dh2="G * (A2 > 0)")),
    "dJ/dh1 through the sigmoid": ("q3_pseudo_siamese_gradients", pseudo(dh1="G * H1 * (1 - H1)")),
    "dJ/dx without the ReLU branch": ("q3_pseudo_siamese_gradients", pseudo(dX="W1.T @ (G * H1 * (1 - H1))")),
    "dJ/dx with sigmoid' in the ReLU branch": ("q3_pseudo_siamese_gradients",
                                              pseudo(dX="W1.T @ (G * H1 * (1 - H1)) + W2.T @ (G * H2 * (1 - H2))")),
    "dJ/dx with the activations instead of derivatives": ("q3_pseudo_siamese_gradients",
                                                          pseudo(dX="W1.T @ (G * H1) + W2.T @ (G * H2)")),
    "gradient per example as rows (N, m)": ("q3_pseudo_siamese_gradients", pseudo(G="(Y_hat - Y).T @ W3 / N")),
    "faster weight W1": ("q3_faster_weight", 'FASTER_WEIGHT = "W1"'),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_wrong_formula_fails(reference, mistake):
    question, source = WRONG[mistake]
    with pytest.raises(AssertionError):
        check_hidden(question, with_wrong(reference, source))


def test_faster_weight_public_check_only_checks_the_form(reference):
    assert "passed" in check("q3_faster_weight", with_wrong(reference, 'FASTER_WEIGHT = "W1"'))
    with pytest.raises(AssertionError, match="W1.*W2"):
        check("q3_faster_weight", with_wrong(reference, "FASTER_WEIGHT = 2"))
