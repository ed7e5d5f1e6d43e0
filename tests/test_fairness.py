"""No hidden surprise: a hidden case varies only what a public case varies too (README, "How the
auto-graded tests decide"), so every kind of failure can be seen before handing in. Kernel-free
and fast: it reads the case tables only.

The rule, per question and per setting of its cases (a size, a rate, an activation, an offset):
every value the hidden cases use is one the public cases use, or the public cases show the setting
at two values or more (for Planar_MLP, the notebook's own network and data count as one value:
n_x = 2, n_h = 4, n_y = 1, m = 400, learning rate 1.2, 10000 iterations). A setting absent from a
case counts as the value "absent". Left out: seeds and grid densities (other random points of the
same kind), the flower data set (the notebook's own data, item 4 of issue 12: the student has run
their code on it), and the settings listed in EXEMPT with the reason.
"""
from __future__ import annotations

import json

import pytest

import hw1_checks
import hw1_hidden

SAMPLING = {"seed", "grid"}
NOTEBOOK_VALUES = {  # what the notebook itself runs every Planar_MLP function on
    "planar_mlp": {"n_x": 2, "n_h": 4, "n_y": 1, "m": 400, "learning_rate": 1.2, "num_iterations": 10000},
}
EXEMPT = {
    # answers to written questions: the public case checks the form, the hidden ones the value (the notebook says so)
    ("q3_parameter_count", "kind"): "the public case checks the form only, as the notebook states",
    ("q3_faster_weight", "kind"): "the public case checks the form only, as the notebook states",
}
ABSENT = "<absent>"


def _key(value):
    return json.dumps(value, sort_keys=True)


def _cases(question: str):
    module = hw1_checks.checker_module(question)
    reference = hw1_hidden.REFERENCES[module.__name__.rsplit(".", 1)[-1]]
    return module, module.PUBLIC_CASES[question], reference.HIDDEN_CASES[question]


@pytest.mark.parametrize("question", list(hw1_checks.QUESTIONS))
def test_hidden_cases_vary_only_what_public_cases_vary(question: str) -> None:
    module, public, hidden = _cases(question)
    notebook = NOTEBOOK_VALUES.get(module.__name__.rsplit(".", 1)[-1], {})
    settings = {k for case in public + hidden for k in case} - SAMPLING - {"flower"}
    for setting in sorted(settings):
        if (question, setting) in EXEMPT:
            continue
        shown = {_key(case.get(setting, ABSENT)) for case in public}
        if setting in notebook:
            shown.add(_key(notebook[setting]))
        for case in hidden:
            if case.get("flower"):
                continue  # the notebook's own data and network
            value = _key(case.get(setting, ABSENT))
            assert value in shown or len(shown) >= 2, (
                f"{question}: a hidden case sets {setting} = {value}, which no public case varies "
                f"(public: {sorted(shown)}); add a public case or keep the hidden ones inside")


def test_planar_network_has_one_output_unit_after_initialize_parameters() -> None:
    """The classic template's `assert(A2.shape == (1, X.shape[1]))` must not cost points: n_y = 1 in
    every case of the questions that run the network (layer_sizes and initialize_parameters read n_y
    from their arguments, and their text and a public case say so)."""
    for question in hw1_checks.QUESTIONS:
        if not question.startswith("q4_") or question in ("q4_layer_sizes", "q4_initialize_parameters"):
            continue
        _, public, hidden = _cases(question)
        assert all(case.get("n_y", 1) == 1 for case in public + hidden), question


def test_flower_data_in_hidden_cases() -> None:
    """Answers that recognise the notebook's own data are caught: its functions meet that data in a hidden case."""
    for question in ("q4_forward_propagation", "q4_backward_propagation", "q4_nn_model", "q4_predict",
                     "q4_train_torch", "q4_torch_predict"):
        _, _, hidden = _cases(question)
        assert any(case.get("flower") for case in hidden), question
        assert any(not case.get("flower") for case in hidden), question  # ... beside other sizes
