"""Mutation tests for the Planar_MLP grader: every common mistake loses the points of its own
question, keeps every other question's points, and is explained; correct variants keep full
marks; tampering gains nothing. Kernel-free first (fast), then through real nbgrader and Otter.

The mutation score (mutants caught / mutants) is printed per route (run with -s to see it).
"""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import hw1_checks
import hw1_hidden
from conftest import solution_namespace
from mutants_planar import (
    CAUSE_MUTANTS,
    CELL,
    MUTANTS,
    NOTEBOOK,
    QUESTIONS,
    ROUTE_CORPUS,
    ROUTE_NOTEBOOKS,
    ROUTED_MUTANTS,
    VARIANTS,
    Mutant,
    mutant_edit,
    route_student,
    variant_edit,
)
from planar_utils import load_planar_dataset

SCORES: dict[str, tuple[int, int]] = {}  # route -> (caught, total), printed at the end
CAUGHT: dict[str, bool] = {}  # mutant -> caught by the kernel-free checks
# The long checks (training runs); the others are cheap enough to run for every mutant.
EXPENSIVE = {"q4_nn_model", "q4_train_torch"}


def namespace(edit=None) -> dict:
    """The notebook's namespace as a student's kernel holds it: the answers and the global data set."""
    env = solution_namespace(NOTEBOOK, edit)
    env["X"], env["Y"] = load_planar_dataset()
    return env


def outcome(question: str, env: dict) -> str | None:
    """What the notebook's test cell does: public check, then hidden check. None if both pass,
    else the first failure message (what the student sees in the feedback)."""
    for run in (hw1_checks.check, hw1_hidden.check_hidden):
        try:
            run(question, env)
        except AssertionError as failure:
            return str(failure)
    return None


@pytest.fixture(scope="module")
def cells_run_by_check() -> dict[str, set[str]]:
    """For each question, the notebook cells whose code runs while the instructor solution is checked."""
    env = namespace()
    cells = set(CELL.values())
    seen: dict[str, set[str]] = {}
    for question in QUESTIONS:
        ran: set[str] = set()

        def profile(frame, event, arg, ran=ran):
            if event == "call":
                name = frame.f_code.co_filename.strip("<>")
                if name in cells:
                    ran.add(name)
        sys.setprofile(profile)
        try:
            assert outcome(question, env) is None
        finally:
            sys.setprofile(None)
        seen[question] = ran
    return seen


def test_each_check_runs_only_its_own_answer(cells_run_by_check) -> None:
    """Question isolation: checking nn_model or predict never runs the student's helpers, and
    train_torch / torch_predict never run the student's TorchMLP."""
    for question, cells in cells_run_by_check.items():
        assert cells == {CELL[question]}, (question, cells)


def test_corpus_covers_every_question() -> None:
    assert len(MUTANTS) >= 40
    assert {m.question for m in MUTANTS} == set(QUESTIONS)
    assert all(sum(m.question == q for m in MUTANTS) >= 3 for q in QUESTIONS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_loses_its_question_only(mutant: Mutant, cells_run_by_check) -> None:
    env = namespace(mutant_edit([mutant]))
    failure = outcome(mutant.question, env)
    CAUGHT[mutant.name] = failure is not None
    assert failure is not None, f"{mutant.name} is not caught"
    if mutant.hint:
        assert mutant.hint in failure, failure
    for question in QUESTIONS:
        if question == mutant.question:
            continue
        if question in EXPENSIVE and mutant.cell not in cells_run_by_check[question]:
            continue  # its check never runs the mutated cell (test above): the outcome is the solution's
        assert outcome(question, env) is None, (question, outcome(question, env))


def test_hard_coded_visible_answers_pass_public_but_not_hidden() -> None:
    """Answers typed in for the public case, or recognising the notebook's own data, are caught by hidden cases."""
    for name in ("ls_hardcoded_visible", "nn_flower_memorised", "pred_flower_memorised",
                 "tp_flower_memorised"):
        mutant = next(m for m in MUTANTS if m.name == name)
        env = namespace(mutant_edit([mutant]))
        assert "passed" in hw1_checks.check(mutant.question, env), name  # the visible cases pass ...
        with pytest.raises(AssertionError):
            hw1_hidden.check_hidden(mutant.question, env)  # ... the hidden ones do not
        with pytest.raises(AssertionError):  # nor those a hidden block passes (the plain-nbgrader kernel route)
            hw1_hidden.check_hidden(mutant.question, env,
                                    cases=hw1_hidden.REFERENCES["planar_mlp"].HIDDEN_CASES[mutant.question])
        assert "passed" in hw1_hidden.check_hidden(mutant.question, env, cases=[])  # control: public cases only


def test_no_hidden_surprise_for_what_the_text_asks() -> None:
    """Answers that ignore a size or a rate the text asks to handle fail a public case, not only a hidden one,
    with the reason."""
    for name in ("init_n_y_ignored", "nn_ignores_n_h", "upd_hardcoded_rate", "tt_hardcoded_rate", "tt_float32_inputs",
                 "tp_float32", "tm_float_in_forward"):
        mutant = next(m for m in MUTANTS if m.name == name)
        with pytest.raises(AssertionError, match=re.escape(mutant.hint)):
            hw1_checks.check(mutant.question, namespace(mutant_edit([mutant])))


def test_kernel_free_mutation_score() -> None:
    for m in MUTANTS:  # results of the test above, or computed now if it did not run
        if m.name not in CAUGHT:
            CAUGHT[m.name] = outcome(m.question, namespace(mutant_edit([m]))) is not None
    caught = sum(CAUGHT[m.name] for m in MUTANTS)
    SCORES["kernel-free"] = (caught, len(MUTANTS))
    print(f"\nmutation score, kernel-free checks: {caught}/{len(MUTANTS)}")
    assert caught == len(MUTANTS)


def test_variant_corpus() -> None:
    assert len(VARIANTS) >= 27
    assert {CELL[q] for q in QUESTIONS} <= {cell for edits in VARIANTS.values() for cell, _, _ in edits}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_correct_variants_keep_full_marks(variant: str) -> None:
    """Each question is judged on its own cell (test above), so the questions of the cells a
    variant rewrites are the ones it could lose."""
    env = namespace(variant_edit(variant))
    cells = {cell for cell, _, _ in VARIANTS[variant]}
    for question in QUESTIONS:
        if CELL[question] in cells:
            assert outcome(question, env) is None, (variant, question, outcome(question, env))


# --- tampering, without a kernel -------------------------------------------------------

def test_patched_comparison_helpers_gain_nothing() -> None:
    """A submission that patches the copy of hw1_checks it imported fools only its own public check."""
    from hw1_checks import _core

    mutant = next(m for m in MUTANTS if m.name == "bwd_sign")
    env = namespace(mutant_edit([mutant]))
    saved = _core.max_error, _core.assert_close, _core.fail
    try:
        _core.max_error = lambda *a, **k: 0.0
        _core.assert_close = lambda *a, **k: None
        with pytest.raises(AssertionError, match="wrong sign"):
            hw1_hidden.check_hidden("q4_backward_propagation", env)
    finally:
        _core.max_error, _core.assert_close, _core.fail = saved


def test_system_exit_inside_a_tested_function_is_a_failure() -> None:
    def edit(cell: str, text: str) -> str:
        return text.replace("n_h = 4", "import sys; sys.exit(0)") if cell == "layer_sizes" else text

    with pytest.raises(AssertionError, match="SystemExit"):
        hw1_hidden.check_hidden("q4_layer_sizes", namespace(edit))


@pytest.mark.parametrize("target", ["tanh", "exp"])
def test_patched_numpy_math_is_refused(target: str) -> None:
    """Replacing a NumPy function the reference computes with would corrupt the expected values."""
    env = namespace()
    saved = getattr(np, target)
    try:
        setattr(np, target, lambda z: 1 / (1 + saved(-z)) if target == "tanh" else saved(z))
        with pytest.raises(AssertionError, match=f"numpy.{target} was replaced"):
            hw1_hidden.check_hidden("q4_forward_propagation", env)
    finally:
        setattr(np, target, saved)


def test_patched_torch_is_refused() -> None:
    import torch

    saved = torch.Tensor.backward
    try:
        torch.Tensor.backward = lambda self, *a, **k: None
        with pytest.raises(AssertionError, match="Tensor.backward was replaced"):
            hw1_hidden.check_hidden("q4_torch_mlp", namespace())
    finally:
        torch.Tensor.backward = saved


def test_helpers_are_restored_after_a_composed_check() -> None:
    env = namespace()
    own = {name: env[name] for name in ("forward_propagation", "backward_propagation", "update_parameters")}
    hw1_hidden.check_hidden("q4_nn_model", env)
    hw1_hidden.check_hidden("q4_predict", env)
    assert all(env[name] is fn for name, fn in own.items())
    failing = namespace(mutant_edit([next(m for m in MUTANTS if m.name == "nn_wrong_rate")]))
    own = failing["forward_propagation"]
    with pytest.raises(AssertionError):
        hw1_hidden.check_hidden("q4_nn_model", failing)
    assert failing["forward_propagation"] is own


# --- through the real routes: nbgrader and Otter (the shared class, class_corpus.py) ---------------



@pytest.fixture(scope="module")
def routes(graded_class):
    """The route corpus's Planar_MLP notebooks as graded by nbgrader (`hwkit grade`) and by Otter."""
    nbgrader = {g.student: g for g in graded_class.run.grades if g.notebook == NOTEBOOK and g.student in ROUTE_CORPUS}
    otter = {student: graded_class.otter[student, NOTEBOOK] for student in ROUTE_CORPUS}
    return nbgrader, otter


def _expected(student: str, question: str, points: float) -> float:
    return 0.0 if question in ROUTE_CORPUS[student][1] else points


@pytest.mark.parametrize("student", list(ROUTE_CORPUS))
def test_nbgrader_scores_each_question(routes, student: str) -> None:
    nbgrader, _ = routes
    graded = nbgrader[student]
    for question, points in graded.max_scores.items():
        if question in QUESTIONS:
            assert graded.scores[question] == _expected(student, question, points), (question, graded.problems)


@pytest.mark.parametrize("student", list(ROUTE_CORPUS))
def test_otter_scores_each_question_like_nbgrader(routes, student: str) -> None:
    nbgrader, otter = routes
    result = otter[student]
    assert result.problem is None, result.problem
    for question in QUESTIONS:
        assert result.scores[question] == _expected(student, question, result.possible[question]), (
            question, result.messages.get(question))
        assert result.scores[question] == nbgrader[student].scores[question], question


def test_feedback_names_the_mistake(routes) -> None:
    nbgrader, otter = routes
    for i, (mutants, _) in enumerate(ROUTE_NOTEBOOKS):
        problems = "\n".join(nbgrader[route_student(i)].problems)
        for mutant in mutants:
            if mutant.hint:
                assert mutant.hint in problems, (mutant.name, problems)


def test_real_route_mutation_scores(routes) -> None:
    nbgrader, otter = routes
    lines = []
    for route, scores in (("nbgrader", {s: g.scores for s, g in nbgrader.items()}),
                          ("otter", {s: r.scores for s, r in otter.items()})):
        caught = sum(scores[route_student(i)].get(m.question) == 0
                     for i, (ms, _) in enumerate(ROUTE_NOTEBOOKS) for m in ms)
        SCORES[route] = (caught, len(ROUTED_MUTANTS))
        lines.append(f"mutation score, {route}: {caught}/{len(ROUTED_MUTANTS)} (in {len(ROUTE_NOTEBOOKS)} notebooks)")
    print("\n" + "\n".join(lines))
    # every mutant goes through the real routes but the cause mutants that no longer fit (kernel-free above)
    assert {m.name for m in MUTANTS if m not in CAUSE_MUTANTS} <= {m.name for m in ROUTED_MUTANTS}
    assert all(caught == total for caught, total in SCORES.values()), SCORES
