"""Checks for Homework 1, shared by the notebooks' test cells, the Otter tests and the self-check.

Students run ``check("q4_backward_propagation", globals())`` (the visible test cells do
exactly this): every public case is run and the first failure says what is wrong.
Hidden cases, run only when grading, use the same checkers with other inputs.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from . import planar_mlp, problem1, problem2, problem3
from ._core import CheckFailure, assert_environment_untouched, quiet

__all__ = ["CheckFailure", "QUESTIONS", "assert_environment_untouched", "check", "checker_module", "public_expected",
           "quiet"]

MODULES: tuple[ModuleType, ...] = (planar_mlp, problem1, problem2, problem3)
QUESTIONS: dict[str, ModuleType] = {q: module for module in MODULES for q in module.CHECKERS}
PUBLIC_EXPECTED_FILE = Path(__file__).with_name("public_expected.json")


def checker_module(question: str) -> ModuleType:
    """The module holding `question`'s cases and checker."""
    if question not in QUESTIONS:
        raise KeyError(f"unknown question {question!r}; known: {', '.join(QUESTIONS)}")
    return QUESTIONS[question]


def public_expected() -> dict[str, list[dict]]:
    """Expected values of every public case, written by `hwkit build` from the reference."""
    return json.loads(PUBLIC_EXPECTED_FILE.read_text())


def check(question: str, env: Mapping[str, Any]) -> str:
    """Run `question`'s public cases against the functions in `env` (pass ``globals()``).

    Raises CheckFailure with an explanation on the first failing case.
    """
    module = checker_module(question)
    cases = module.PUBLIC_CASES[question]
    for number, (case, expected) in enumerate(zip(cases, public_expected()[question]), start=1):
        try:
            with quiet():  # warnings raised while checking must not reach stderr
                module.CHECKERS[question](env, module.make_inputs(case), expected)
        except CheckFailure as failure:
            raise CheckFailure(f"{question}, public case {number}: {failure}") from None
    return f"{question}: {len(cases)} public case(s) passed."
