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

Also (issue 24): what students return for a dict or a tuple (an OrderedDict, a namedtuple) crosses
the wall as one, and the messages of the mistakes that once got vague ones name their cause. The
correct-variant corpora themselves are in mutants_planar.py and mutants_problems.py.
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


def test_plain_type_subclasses_cross_as_their_base_type() -> None:
    """An OrderedDict, a namedtuple, a list or str subclass is what the text asks for: it crosses the wall as
    its base type, read through the base type's own methods (an override in the subclass changes nothing)."""
    import collections
    import enum

    from hw1_checks import _wire

    class Lying(dict):  # its own items() would hide W1
        def items(self):
            return [("W2", 0)]

    class Short(list):
        def __iter__(self):
            return iter([])

    class Size(enum.IntEnum):
        HIDDEN = 4

    pair = collections.namedtuple("Pair", "W_new b_new")(1.5, [2])
    assert list(Lying(W1=1).items()) == [("W2", 0)]  # positive control: the override does lie
    assert list(Short([1, 2])) == []
    for value, plain in ((collections.OrderedDict(a=1), {"a": 1}), (pair, (1.5, [2])), (Lying(W1=1), {"W1": 1}),
                         (Short([1, 2]), [1, 2]), (Size.HIDDEN, 4), (collections.defaultdict(list, b=[1]), {"b": [1]})):
        crossed = _wire.roundtrip(value)
        assert crossed == plain and type(crossed) is type(plain), (value, crossed)
    before = _wire.roundtrip(object())  # anything else still arrives as an empty stand-in
    assert isinstance(before, _wire.Opaque)


def test_cause_messages_name_the_cause_not_the_values() -> None:
    """The messages of the issue-24 mistakes name the cause and the case's sizes, never an expected value."""
    import re

    from mutants_planar import CAUSE_MUTANTS, mutant_edit
    from test_mutants import namespace

    for mutant in CAUSE_MUTANTS:
        for run in (hw1_checks.check, hw1_hidden.check_hidden):
            env = namespace(mutant_edit([mutant]))
            try:
                run(mutant.question, env)
            except AssertionError as failure:
                message = str(failure)
                break
        else:
            raise AssertionError(f"{mutant.name} is not caught")
        assert mutant.hint in message, (mutant.name, message)
        assert not re.search(r"\d\.\d{3}", message), (mutant.name, message)  # no computed number
