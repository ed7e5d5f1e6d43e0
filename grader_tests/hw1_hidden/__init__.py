"""Instructor-only side of the Homework 1 checks: references and hidden cases.

The hidden cases are written in the instructor notebooks, in each test cell's hidden block
(`check_hidden(question, globals(), cases=[...])`); `hwkit build` collects them into
hidden_cases.json, which the references read (cases.py).

Never shipped to students and never inside a student's process under `hwkit grade`: there the
judge (hwkit/judge.py) takes `judged_cases` and compares in its own process. The Otter route
keeps Otter's model (tests and student code share one process): its test files call
`check_hidden(question, env)`, which runs the same cases through a private copy of
`hw1_checks`; so does plain `nbgrader autograde`, which runs the hidden blocks in the kernel
(`check_hidden(question, globals(), cases=[...])`, the block's own cases). Neither is a defence
against a hostile submission (see README).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import planar_mlp, problem1, problem2, problem3

REFERENCES: dict[str, ModuleType] = {"planar_mlp": planar_mlp, "problem1": problem1, "problem2": problem2,
                                     "problem3": problem3}
_PRIVATE_NAME = "_hw1_checks_private"


def checks_directory() -> Path:
    """Where the trusted `hw1_checks` lives: beside this package (Otter archive) or in source/."""
    here = Path(__file__).resolve().parent
    candidates = [os.environ.get("HW1_CHECKS_DIR"), here.parent / "hw1_checks",
                  here.parents[1] / "source" / "hw1" / "hw1_checks"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "__init__.py").is_file():
            return Path(candidate)
    raise FileNotFoundError("hw1_checks not found beside hw1_hidden or in source/hw1")


def fresh_checks() -> ModuleType:
    """A private, freshly loaded copy of `hw1_checks` that student code has not touched."""
    for name in [n for n in sys.modules if n == _PRIVATE_NAME or n.startswith(_PRIVATE_NAME + ".")]:
        del sys.modules[name]
    directory = checks_directory()
    spec = importlib.util.spec_from_file_location(
        _PRIVATE_NAME, directory / "__init__.py", submodule_search_locations=[str(directory)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PRIVATE_NAME] = module
    spec.loader.exec_module(module)
    return module


def _refuse_reference_reuse(env: Mapping[str, Any]) -> None:
    """A submission that imports the instructor's reference instead of writing its own fails."""
    for name, value in list(env.items()):
        origin = getattr(value, "__module__", None) or ""
        # the references, and the stand-ins inside the checks (the package's own `check` is fine)
        if callable(value) and origin.startswith((__name__ + ".", "hw1_checks.", _PRIVATE_NAME + ".")):
            raise AssertionError(f"`{name}` comes from the grader's reference code, not from the submission.")


@dataclass(frozen=True)
class Case:
    """One case of a question: where it comes from, its settings, its inputs and the reference's answer."""

    kind: str  # "public" or "hidden"
    number: int  # 1-based among the cases of its kind
    of: int
    settings: dict
    inputs: dict
    expected: dict

    @property
    def label(self) -> str:
        """E.g. "hidden case 2 of 3 (n_x=3, n_h=5, n_y=1, m=7)": sizes and settings, never values."""
        shown = ", ".join("the flower data set" if key == "flower" else f"{key}={value}"
                          for key, value in self.settings.items() if key not in ("seed", "kind", "grid"))
        return f"{self.kind} case {self.number} of {self.of}" + (f" ({shown})" if shown else "")


def judged_cases(question: str, checks: ModuleType | None = None, hidden: list[dict] | None = None) -> list[Case]:
    """Every case of `question`, the public ones first, with the reference's expected values; the hidden
    ones are `hidden` when given, else those of hidden_cases.json."""
    checks = checks or fresh_checks()
    module = checks.checker_module(question)
    reference = REFERENCES[module.__name__.rsplit(".", 1)[-1]]
    hidden = reference.HIDDEN_CASES[question] if hidden is None else hidden
    result = []
    for kind, settings in (("public", module.PUBLIC_CASES[question]), ("hidden", hidden)):
        for number, case in enumerate(settings, start=1):
            inputs = reference.special_inputs(case) or module.make_inputs(case)
            result.append(Case(kind, number, len(settings), dict(case), inputs, reference.expected(question, inputs)))
    return result


def check_hidden(question: str, env: Mapping[str, Any], cases: list[dict] | None = None) -> str:
    """Run every case (public and hidden) of `question` against `env` in this process (Otter's route, and
    plain nbgrader's, whose hidden block passes its own `cases`); raise on the first failure."""
    checks = fresh_checks()
    checks.assert_environment_untouched()
    _refuse_reference_reuse(env)
    module = checks.checker_module(question)
    all_cases = judged_cases(question, checks, cases)
    for case in all_cases:
        try:
            with checks.quiet():  # warnings raised while checking must not reach stderr
                module.CHECKERS[question](env, case.inputs, case.expected)
        except checks.CheckFailure as failure:
            raise AssertionError(f"{question}, {case.label}: {failure}") from None
    return f"{question}: all {len(all_cases)} cases passed."


def public_expected() -> dict[str, list[dict]]:
    """Expected values of every public case from the reference (what `hwkit build` writes)."""
    checks = fresh_checks()
    result: dict[str, list[dict]] = {}
    for question, module in checks.QUESTIONS.items():
        reference = REFERENCES[module.__name__.rsplit(".", 1)[-1]]
        result[question] = [_jsonable(reference.expected(question, module.make_inputs(case)))
                            for case in module.PUBLIC_CASES[question]]
    return result


def _jsonable(value: Any) -> Any:
    """Plain JSON values; floats rounded to 10 significant digits (far inside every tolerance) so that
    the last-bit differences between BLAS builds and CPUs do not change the committed release."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return float(f"{value:.10g}")
    return value
