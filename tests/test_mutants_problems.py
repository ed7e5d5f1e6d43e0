"""Mutation tests for the Problem 1-3 graders: every common mistake loses the points of its own
question and keeps every other question's points. Kernel-free first (fast), then through real
nbgrader and Otter, which must agree question by question.

The mutation score (mutants caught / mutants) is printed per route (run with -s to see it).
"""
from __future__ import annotations

import matplotlib
import pytest

import hw1_checks
import hw1_hidden
from conftest import solution_namespace
from mutants_problems import (
    CELLS,
    HELD_OUT_STYLES,
    LEAKS,
    MUTANTS,
    NOTEBOOKS,
    OTTER_ROUTE,
    QUESTIONS,
    ROUTE_PACKS,
    ROUTE_STUDENTS,
    ROUTED_VARIANTS,
    UNCAUGHT,
    VARIANTS,
    Mutant,
    lost,
    mutant_edit,
    mutants_of,
    route_packs,
    variant_edit,
    variant_notebook,
    variants_of,
)

matplotlib.use("Agg")  # Problem 2's setup cell draws figures

SCORES: dict[str, tuple[int, int]] = {}  # route -> (caught, total)
CAUGHT: dict[str, bool] = {}  # mutant -> caught by the kernel-free checks


def outcome(question: str, env: dict) -> str | None:
    """What the notebook's test cell does: public check, then hidden check. None if both pass,
    else the first failure message (what the student sees in the feedback)."""
    for run in (hw1_checks.check, hw1_hidden.check_hidden):
        try:
            run(question, env)
        except AssertionError as failure:
            return str(failure)
    return None


def namespace(mutants: list[Mutant], notebook: str) -> dict:
    return solution_namespace(notebook, mutant_edit(mutants))


# --- without a kernel -------------------------------------------------------------------

def test_corpus_covers_every_notebook() -> None:
    for notebook in NOTEBOOKS:
        mine = [m for m in MUTANTS if m.notebook == notebook]
        assert len(mine) >= 4, notebook
        assert {m.question for m in mine} == set(QUESTIONS[notebook]), notebook


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_reference_keeps_full_marks(notebook: str) -> None:
    env = namespace([], notebook)
    assert {q: outcome(q, env) for q in QUESTIONS[notebook]} == dict.fromkeys(QUESTIONS[notebook])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_loses_its_question_only(mutant: Mutant) -> None:
    env = namespace([mutant], mutant.notebook)
    failure = outcome(mutant.question, env)
    CAUGHT[mutant.name] = failure is not None
    assert failure is not None, f"{mutant.name} is not caught"
    if mutant.hint:
        assert mutant.hint in failure, failure
    for question in QUESTIONS[mutant.notebook]:
        if question != mutant.question:
            assert outcome(question, env) is None, (question, outcome(question, env))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_packed_mutants_do_not_interact(notebook: str) -> None:
    """The packs the real routes grade: each mutant still fails its own question only, the variants
    written beside them keep their questions' points."""
    for mutants, variants in route_packs(notebook):
        env = solution_namespace(notebook, mutant_edit(mutants, tuple(variants)))
        lost = {q for q in QUESTIONS[notebook] if outcome(q, env) is not None}
        assert lost == {m.question for m in mutants}, [m.name for m in mutants]


@pytest.mark.parametrize("leak", LEAKS, ids=lambda leak: leak[0].name)
def test_a_wrong_softmax_costs_only_its_own_question(leak) -> None:
    """The gradient checks use a stand-in softmax, so a wrong softmax does not cost them too."""
    mutant, _also_lost = leak
    env = namespace([mutant], mutant.notebook)
    assert outcome(mutant.question, env) is not None
    for question in QUESTIONS[mutant.notebook]:
        if question != mutant.question:
            assert outcome(question, env) is None, question


@pytest.mark.parametrize("mutant", UNCAUGHT, ids=lambda m: m.name)
def test_fragile_softmax_variants_are_caught(mutant: Mutant) -> None:
    assert outcome(mutant.question, namespace([mutant], mutant.notebook)) is not None


def test_hard_coded_answers_pass_public_but_not_hidden() -> None:
    for name in ("p3_count_hard_wired", "p3_faster_W1"):
        mutant = next(m for m in MUTANTS if m.name == name)
        env = namespace([mutant], mutant.notebook)
        assert "passed" in hw1_checks.check(mutant.question, env), name
        with pytest.raises(AssertionError):
            hw1_hidden.check_hidden(mutant.question, env)


def test_variant_corpus() -> None:
    for notebook in NOTEBOOKS:
        cells = {cell for name in VARIANTS if variant_notebook(name) == notebook for cell, _, _ in VARIANTS[name]}
        assert cells == set(CELLS[notebook].values()), notebook  # every solution cell written another way


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_correct_variants_keep_full_marks(variant: str) -> None:
    notebook = variant_notebook(variant)
    env = solution_namespace(notebook, variant_edit(variant))
    assert {q: outcome(q, env) for q in QUESTIONS[notebook]} == dict.fromkeys(QUESTIONS[notebook]), variant


def test_kernel_free_mutation_score() -> None:
    for m in MUTANTS:
        if m.name not in CAUGHT:
            CAUGHT[m.name] = outcome(m.question, namespace([m], m.notebook)) is not None
    caught = sum(CAUGHT[m.name] for m in MUTANTS)
    SCORES["kernel-free"] = (caught, len(MUTANTS))
    print(f"\nmutation score, kernel-free checks: {caught}/{len(MUTANTS)}")
    assert caught == len(MUTANTS)


# --- through the real routes: nbgrader and Otter (the shared class, class_corpus.py) ---------------


@pytest.fixture(scope="module")
def routes(graded_class):
    """The route students' Problem notebooks as graded by nbgrader (`hwkit grade`) and by Otter."""
    nbgrader = {(g.student, g.notebook): g for g in graded_class.run.grades
                if g.student in ROUTE_STUDENTS and g.notebook in NOTEBOOKS}
    otter = {key: graded_class.otter[key] for key in OTTER_ROUTE}
    return nbgrader, otter


@pytest.mark.parametrize("student", ROUTE_STUDENTS)
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_nbgrader_scores_each_question(routes, notebook: str, student: str) -> None:
    nbgrader, _ = routes
    graded = nbgrader[student, notebook]
    assert set(QUESTIONS[notebook]) <= set(graded.max_scores), graded.max_scores
    for question, points in graded.max_scores.items():
        if question in QUESTIONS[notebook]:
            want = 0.0 if question in lost(student, notebook) else points
            assert graded.scores[question] == want, (question, graded.problems)
        else:  # a written answer: awaiting manual grading
            assert graded.scores.get(question) is None, (question, graded.scores.get(question))


@pytest.mark.parametrize(("student", "notebook"), OTTER_ROUTE)
def test_otter_scores_each_question_like_nbgrader(routes, notebook: str, student: str) -> None:
    nbgrader, otter = routes
    result = otter[student, notebook]
    assert result.problem is None, result.problem
    assert set(result.scores) == set(QUESTIONS[notebook]), result.scores
    for question in QUESTIONS[notebook]:
        want = 0.0 if question in lost(student, notebook) else result.possible[question]
        assert result.scores[question] == want, (question, result.messages.get(question))
        assert result.scores[question] == nbgrader[student, notebook].scores[question], question
        assert result.possible[question] == nbgrader[student, notebook].max_scores[question], question


def test_feedback_names_the_mistake(routes) -> None:
    nbgrader, _ = routes
    for student in ROUTE_STUDENTS:
        for notebook in NOTEBOOKS:
            problems = "\n".join(nbgrader[student, notebook].problems)
            for mutant in mutants_of(student, notebook):
                if mutant.hint:
                    assert mutant.hint in problems, (mutant.name, problems)


def test_real_route_mutation_scores(routes) -> None:
    nbgrader, otter = routes
    planted = [(s, nb, m) for s in ROUTE_STUDENTS for nb in NOTEBOOKS for m in mutants_of(s, nb)]
    lines = []
    for route, scores in (("nbgrader", {k: g.scores for k, g in nbgrader.items()}),
                          ("otter", {k: r.scores for k, r in otter.items()})):
        caught = sum(scores.get((s, nb), {}).get(m.question) == 0 for s, nb, m in planted)
        SCORES[route] = (caught, len(planted))
        per_notebook = ", ".join(
            f"{nb.split('_')[0]} {sum(scores.get((s, n), {}).get(m.question) == 0 for s, n, m in planted if n == nb)}"
            f"/{sum(n == nb for _, n, _ in planted)}" for nb in NOTEBOOKS)
        lines.append(f"mutation score, {route}: {caught}/{len(planted)} ({per_notebook}; "
                     f"{sum(map(len, ROUTE_PACKS.values()))} mutated notebooks)")
    print("\n" + "\n".join(lines))
    assert len(planted) == len(MUTANTS)
    written = [name for s in ROUTE_STUDENTS for nb in NOTEBOOKS for name in variants_of(s, nb)]
    assert sorted(written) == sorted(ROUTED_VARIANTS)  # these correct variants went through both routes (full marks)
    assert set(VARIANTS) - set(HELD_OUT_STYLES) <= set(written)  # all but the newest, which fit where cells are free
    assert all(caught == total for caught, total in SCORES.values()), SCORES
