"""Problem 2 (decision regions and depth): the instructor's networks pass every check and have the
stated sizes; plausible wrong networks fail the hidden checks; the figures agree with the answer key."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import decision_regions
from conftest import solution_namespace
from hw1_checks import check
from hw1_hidden import check_hidden, problem2 as reference_problem2

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "hw1" / "Problem2_Decision_Regions.ipynb"
QUESTIONS = ["q2_fig1b", "q2_fig1c", "q2_region_label", "q2_deep_network", "q2_shallow_network"]


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
        check_hidden(question, {"np": np})


def test_figure_networks_have_figure_1a_structure(reference):
    net = reference["net_fig1b"]()
    assert (net.depth, net.units) == (2, 3)
    assert net.layers[0].W[0, 1] == 0 and net.layers[0].W[1, 0] == 0
    assert reference["net_fig1c"]().depth == 3


@pytest.mark.parametrize("n", range(0, 9))
def test_deep_network_size(reference, n):
    net = reference["net_deep"](n)
    assert net.units == 2 * n + 3
    assert net.depth == n + 2


def test_deep_network_units_grow_linearly(reference):
    counts = [reference["net_deep"](n).units for n in range(1, 11)]
    assert len({b - a for a, b in zip(counts, counts[1:])}) == 1


@pytest.mark.parametrize("n", range(1, 5))
def test_shallow_network_size(reference, n):
    net = reference["net_shallow"](n)
    assert net.depth == 2
    assert net.units == 2 ** (n + 1) + 1


@pytest.mark.parametrize("n", range(0, 4))
def test_reference_networks_agree_with_closed_form(reference, n):
    size = 2 ** n
    X = np.random.default_rng(n).uniform(0, size, size=(2, 5000))
    keep = ~reference_problem2.near_boundary(X, size)
    want = reference_problem2.closed_form(X)[keep]
    assert np.array_equal(reference["net_deep"](n).classify(X)[keep], want)
    assert np.array_equal(reference["region_label"](X)[keep], want)
    if n >= 1:
        assert np.array_equal(reference["net_shallow"](n).classify(X)[keep], want)
    if n <= 2:
        figure = (decision_regions.figure_1b, decision_regions.figure_1c, decision_regions.figure_range4)[n]
        assert np.array_equal(figure(X)[keep], want)


def test_figure_1b_classes():
    # lower-left and upper-right squares are class 0, the other two class 1
    X = np.array([[0.25, 0.75, 0.25, 0.75], [0.25, 0.75, 0.75, 0.25]])
    assert decision_regions.figure_1b(X).tolist() == [0, 0, 1, 1]


def test_layer_api_validates():
    with pytest.raises(ValueError):
        decision_regions.Layer(np.eye(2), [0.0], "step")
    with pytest.raises(ValueError):
        decision_regions.Layer(np.eye(2), [0.0, 0.0], "sigmoid")
    with pytest.raises(ValueError):
        decision_regions.Network([decision_regions.Layer(np.eye(2), [0.0, 0.0], "step")])  # 2 output units
    with pytest.raises(ValueError):
        decision_regions.Network([decision_regions.Layer(np.ones((1, 3)), [0.0], "step")])  # 3 inputs


def test_checker_does_not_trust_network_methods(reference):
    """A network whose classify() lies is still judged by its weights."""
    namespace = with_wrong(reference, """
class Liar(Network):
    def classify(self, X):
        return region_label(X)
    @property
    def units(self):
        return 3

def net_deep(n):
    return Liar([Layer(np.eye(2), [0.0, 0.0], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
""")
    with pytest.raises(AssertionError):
        check_hidden("q2_deep_network", namespace)


WRONG = {
    "fig1b: OR instead of XOR": ("q2_fig1b", """
def net_fig1b():
    return Network([Layer(np.eye(2), [-0.5, -0.5], "step"), Layer([[1.0, 1.0]], [-0.5], "step")])
"""),
    "fig1b: thresholds at 0.4": ("q2_fig1b", """
def net_fig1b():
    return Network([Layer(np.eye(2), [-0.4, -0.4], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1b: classes swapped": ("q2_fig1b", """
def net_fig1b():
    return Network([Layer(np.diag([1.0, -1.0]), [-0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1b: h11 depends on x2": ("q2_fig1b", """
def net_fig1b():
    return Network([Layer([[1.0, 1e-9], [0.0, 1.0]], [-0.5, -0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1b: three layers": ("q2_fig1b", """
def net_fig1b():
    return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), Layer(np.eye(2), [-0.5, -0.5], "step"),
                    Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1c: no folding": ("q2_fig1c", """
def net_fig1c():
    return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), Layer(np.eye(2), [-0.5, -0.5], "step"),
                    Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1c: fold about 1/2": ("q2_fig1c", """
def net_fig1c():
    return Network([Layer(np.eye(2), [-0.5, -0.5], "abs"), Layer(-np.eye(2), [0.5, 0.5], "step"),
                    Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "fig1c: four layers": ("q2_fig1c", """
def net_fig1c():
    return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), Layer(np.eye(2), [-1.0, -1.0], "abs"),
                    Layer(-np.eye(2), [0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "region_label: boundaries at the integers": ("q2_region_label", """
def region_label(X):
    return ((np.floor(X[0]) + np.floor(X[1])) % 2).astype(int)
"""),
    "region_label: folded once only": ("q2_region_label", """
def region_label(X):
    U = 1 - np.abs(X - 1)
    return ((U[0] > 0.5) != (U[1] > 0.5)).astype(int)
"""),
    "region_label: classes swapped": ("q2_region_label", """
def region_label(X):
    return 1 - ((np.floor(X[0] + 0.5) + np.floor(X[1] + 0.5)) % 2).astype(int)
"""),
    "deep: every fold about 1": ("q2_deep_network", """
def net_deep(n):
    layers = [Layer(np.eye(2), [-1.0, -1.0], "abs")] + [Layer(-np.eye(2), [0.0, 0.0], "abs") for _ in range(n - 1)]
    return Network(layers + [Layer(-np.eye(2), [0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
"""),
    "deep: quadratic number of units": ("q2_deep_network", """
_right = net_deep
def net_deep(n):
    layers = _right(n).layers
    padded = []
    extra_in = 0
    for k, layer in enumerate(layers):
        extra = k if k < len(layers) - 1 else 0       # k idle units in layer k
        W = np.zeros((layer.W.shape[0] + extra, layer.W.shape[1] + extra_in))
        W[:layer.W.shape[0], :layer.W.shape[1]] = layer.W
        b = np.concatenate([layer.b, np.zeros(extra)])
        padded.append(Layer(W, b, layer.activation))
        extra_in = extra
    return Network(padded)
"""),
    "deep: one hidden layer (exponential units)": ("q2_deep_network", """
def net_deep(n):
    return net_shallow(n)
"""),
    "shallow: the deep network": ("q2_shallow_network", """
def net_shallow(n):
    return net_deep(n)
"""),
    "shallow: last boundary line missing": ("q2_shallow_network", """
def net_shallow(n):
    lines = np.arange(2 ** n - 1) + 0.5
    K = lines.size
    W = np.zeros((2 * K, 2))
    W[:K, 0], W[K:, 1] = 1.0, 1.0
    signs = (-1.0) ** np.arange(K)
    return Network([Layer(W, -np.concatenate([lines, lines]), "step"),
                    Layer(np.concatenate([signs, -signs])[None, :], [0.0], "abs")])
"""),
    "shallow: threshold output unit": ("q2_shallow_network", """
def net_shallow(n):
    lines = np.arange(2 ** n) + 0.5
    K = lines.size
    W = np.zeros((2 * K, 2))
    W[:K, 0], W[K:, 1] = 1.0, 1.0
    signs = (-1.0) ** np.arange(K)
    return Network([Layer(W, -np.concatenate([lines, lines]), "step"),
                    Layer(np.concatenate([signs, -signs])[None, :], [0.0], "step")])
"""),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_wrong_network_fails(reference, mistake):
    question, source = WRONG[mistake]
    with pytest.raises(AssertionError):
        check_hidden(question, with_wrong(reference, source))


def test_quadratic_network_has_right_labels_but_fails_growth(reference):
    namespace = with_wrong(reference, WRONG["deep: quadratic number of units"][1])
    X = np.random.default_rng(0).uniform(0, 8, size=(2, 3000))
    keep = ~reference_problem2.near_boundary(X, 8)
    assert np.array_equal(namespace["net_deep"](3).classify(X)[keep], reference_problem2.closed_form(X)[keep])
    with pytest.raises(AssertionError, match="grow linearly"):
        check_hidden("q2_deep_network", namespace)
