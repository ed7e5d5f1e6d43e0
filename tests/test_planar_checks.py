"""Planar_MLP helpers and checks, without kernels: the data, the plots, the public/hidden split."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import hw1_checks
import hw1_hidden
from conftest import REPO, solution_namespace
from hw1_checks import planar_mlp as public
from hw1_hidden import planar_mlp as reference
from planar_utils import accuracy, load_planar_dataset, plot_decision_boundary

QUESTIONS = list(public.CHECKERS)


@pytest.fixture(scope="module")
def solution() -> dict:
    return solution_namespace("Planar_MLP.ipynb")


def test_flower_data_follows_the_recipe() -> None:
    X, Y = load_planar_dataset()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.dtype == np.uint8
    assert set(np.unique(Y)) == {0, 1} and int(Y.sum()) == 200
    np.testing.assert_allclose(X[:, 0], [1.20444229, 3.57611415], rtol=1e-6)  # first point of the classic set
    X2, _ = load_planar_dataset()
    np.testing.assert_array_equal(X, X2)


def test_solution_reproduces_the_published_numbers(solution: dict) -> None:
    X, Y = load_planar_dataset()
    params, costs = reference.train(solution["initialize_parameters"](2, 4, 1), X, Y, 9001)
    assert costs[9000] == pytest.approx(0.2186, abs=5e-4)
    trained = solution["nn_model"](X, Y, 4, num_iterations=10000)
    assert accuracy(solution["predict"](trained, X), Y) >= 0.90
    one_unit = solution["nn_model"](X, Y, 1, num_iterations=5000)
    assert accuracy(solution["predict"](one_unit, X), Y) == pytest.approx(0.675, abs=0.01)


def test_decision_boundary_plot_draws_regions_and_points(solution: dict) -> None:
    import matplotlib.pyplot as plt

    X, Y = load_planar_dataset()
    params = solution["initialize_parameters"](2, 4, 1)
    ax = plot_decision_boundary(lambda P: solution["predict"](params, P.T), X, Y, title="t", resolution=0.1)
    assert ax.get_title() == "t" and ax.collections  # filled contours and the scatter
    plt.close("all")


@pytest.mark.parametrize("question", QUESTIONS)
def test_instructor_solution_passes_public_and_hidden_cases(solution: dict, question: str) -> None:
    assert "passed" in hw1_checks.check(question, solution)
    assert "passed" in hw1_hidden.check_hidden(question, solution)


@pytest.mark.parametrize("question", QUESTIONS)
def test_hidden_cases_use_other_inputs(question: str) -> None:
    def shape(c: dict) -> tuple:
        return c.get("seed"), c.get("n_x"), c.get("n_h"), c.get("n_y"), c.get("m"), c.get("flower")

    public_cases = {shape(c) for c in public.PUBLIC_CASES[question]}
    hidden = reference.HIDDEN_CASES[question]
    assert hidden and not public_cases & {shape(c) for c in hidden}
    if question != "q4_initialize_parameters":
        assert any(c.get("flower") or len({c["n_x"], c["n_h"], c["m"]}) == 3 for c in hidden), "a non-square case"


def test_public_expected_values_come_from_the_reference() -> None:
    stored = json.loads((REPO / "source/hw1/hw1_checks/public_expected.json").read_text())
    assert stored == json.loads(json.dumps(hw1_hidden.public_expected()))


def _hardcoded_layer_sizes(X, Y):
    return (5, 4, 2)  # the public case's answer


def _cost_right_on_visible_sizes_only(A2, Y, p):
    return float(np.mean(-(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))) if A2.shape[1] in (3, 6) else 0.5


@pytest.mark.parametrize("name, fake", [
    ("layer_sizes", _hardcoded_layer_sizes),
    ("compute_cost", _cost_right_on_visible_sizes_only),
])
def test_code_tuned_to_the_visible_case_fails_the_hidden_cases(solution: dict, name: str, fake) -> None:
    env = dict(solution, **{name: fake})
    question = f"q4_{name}"
    hw1_checks.check(question, env)  # the visible cases pass ...
    with pytest.raises(AssertionError):
        hw1_hidden.check_hidden(question, env)  # ... the hidden ones do not


def test_diagnosis_names_the_missing_average(solution: dict) -> None:
    def backward(parameters, cache, X, Y):
        grads = solution["backward_propagation"](parameters, cache, X, Y)
        return {k: v * X.shape[1] for k, v in grads.items()}

    with pytest.raises(AssertionError, match="times too large: did you average over the batch"):
        hw1_checks.check("q4_backward_propagation", dict(solution, backward_propagation=backward))


def test_patched_numpy_comparisons_gain_nothing(solution: dict) -> None:
    saved = np.allclose, np.isclose, np.testing.assert_allclose
    try:
        np.allclose = np.isclose = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        env = dict(solution, forward_propagation=lambda X, p: (np.zeros((1, X.shape[1])), {}))
        with pytest.raises(AssertionError):
            hw1_hidden.check_hidden("q4_forward_propagation", env)
    finally:
        np.allclose, np.isclose, np.testing.assert_allclose = saved


def test_redefined_check_helpers_change_nothing_in_the_hidden_run(solution: dict) -> None:
    original, saved = hw1_checks.check, hw1_checks.planar_mlp.CHECKERS["q4_layer_sizes"]
    try:
        hw1_checks.check = lambda *a, **k: "passed"
        hw1_checks.planar_mlp.CHECKERS["q4_layer_sizes"] = lambda *a: None
        with pytest.raises(AssertionError):
            hw1_hidden.check_hidden("q4_layer_sizes", dict(solution, layer_sizes=lambda X, Y: (0, 0, 0)))
    finally:
        hw1_checks.check = original
        hw1_checks.planar_mlp.CHECKERS["q4_layer_sizes"] = saved


def test_reference_code_cannot_be_handed_in(solution: dict) -> None:
    env = dict(solution, forward_propagation=reference.forward_propagation)
    with pytest.raises(AssertionError, match="grader's reference code"):
        hw1_hidden.check_hidden("q4_forward_propagation", env)


def test_train_torch_must_use_autograd(solution: dict) -> None:
    import torch

    def manual(model, X, Y, num_iterations=10000, learning_rate=1.2, print_cost=False):
        costs = []
        for _ in range(num_iterations):
            with torch.no_grad():
                params = {"W1": model.hidden.weight.numpy().copy(), "b1": model.hidden.bias.numpy()[:, None].copy(),
                          "W2": model.output.weight.numpy().copy(), "b2": model.output.bias.numpy()[:, None].copy()}
                A2, cache = solution["forward_propagation"](X, params)
                costs.append(solution["compute_cost"](A2, Y, params))
                grads = solution["backward_propagation"](params, cache, X, Y)
                for layer, w, b in ((model.hidden, "W1", "b1"), (model.output, "W2", "b2")):
                    layer.weight -= learning_rate * torch.as_tensor(grads["d" + w])
                    layer.bias -= learning_rate * torch.as_tensor(grads["d" + b]).reshape(-1)
        return costs

    with pytest.raises(AssertionError, match="autograd"):
        hw1_checks.check("q4_train_torch", dict(solution, train_torch=manual))
