"""A question split at the wall between the student's process and the judge.

* `observe(env, inputs, helpers)` runs in the student's process (the notebook's kernel for the
  public `check`, a sandboxed process when grading): it calls the student's functions on one
  case's inputs and returns what came back. It knows no expected value.
* `judge(inputs, observed, expected, ctx)` runs where the expected values are: it compares and
  says what is wrong (CheckFailure). Observations reach it as plain data (`_wire`), so it never
  touches an object of the student's.
* `answers(inputs, expected, data)`, for composed questions only, is the judging side of the
  stand-ins a composed function calls in place of its helpers (question isolation): it hands
  out the reference's numbers one call at a time, so no table of them enters the student's process.

The public `check` runs both halves in the notebook's kernel, with the same plain-data round trip
the grader uses, so a case gives the same verdict in both places.
"""
from __future__ import annotations

import functools
import linecache
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _wire
from ._core import CheckFailure, fail, quiet

_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))
MESSAGE_LIMIT = 1000  # characters of a failure message (what a student's process says is cut too)


@dataclass(frozen=True)
class Question:
    observe: Callable[..., dict]
    judge: Callable[..., None]
    answers: Callable[..., Any] | None = None
    given: tuple[str, ...] = ()  # entries of `expected` the student's function takes as inputs (a cache)

    def student_inputs(self, inputs: Mapping, expected: Mapping) -> dict:
        """What crosses into the student's process for one case: its inputs, never its answers."""
        plain = {k: v for k, v in inputs.items() if not callable(v)}  # functions are rebuilt there (`restore`)
        plain.update({k: expected[k] for k in self.given})
        return plain


@dataclass
class Context:
    """What a judge may know of the student's process besides the observation."""

    data: dict = field(default_factory=dict)  # the notebook's global X and Y, for hints about them
    helpers: Any = None  # the answering side of the stand-ins (composed questions)


def notebook_data(env: Mapping) -> dict:
    """The notebook's global data set, if it has one (sent with every case, for hints only)."""
    return {name: env.get(name) for name in ("X", "Y") if isinstance(env.get(name), np.ndarray)}


def observe_call(env: Mapping, name: str, *args: Any, **kwargs: Any) -> dict:
    """Call the student's `name(*args, **kwargs)` and record what happened, without judging it."""
    fn = env.get(name)
    if fn is None:
        return {"missing": name}
    if not callable(fn):
        return {"not_callable": type(fn).__name__}
    try:
        with quiet():
            return {"value": fn(*args, **kwargs)}
    except CheckFailure as failure:  # a stand-in refused a call; the judging side knows why
        return {"refused": str(failure)[:2000]}
    except (Exception, SystemExit) as exc:  # SystemExit: a submission must not end the check
        return {"raised": describe_exception(exc)}


def describe_exception(exc: BaseException) -> dict:
    """Type, message and the student's line that raised it (the last frame outside libraries)."""
    where = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if _library_file(filename):
            continue
        text = linecache.getline(filename, lineno).strip()
        cell = filename[6:-1] if filename.startswith("<cell ") else None
        where = f"line {lineno}" + (f" of cell {cell}" if cell else "") + (f": {text}" if text else "")
    return {"type": type(exc).__name__, "message": str(exc)[:500], "where": where[:300]}


def _library_file(filename: str) -> bool:
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    return path.startswith(_CHECKS_DIR) or "site-packages" in path or "/lib/python3" in path


SHAPE_WORDS = ("broadcast", "shapes", "size mismatch", "must match the size", "dimension")


def result_of(observed: Any, name: str) -> Any:
    """The value the student's `name` returned, or a failure that says what went wrong instead."""
    if not isinstance(observed, dict):
        fail(f"no answer was recorded for `{name}`.")
    if "missing" in observed:
        fail(f"`{name}` is not defined: run the cell that defines it (and every cell above it).")
    if "not_callable" in observed:
        fail(f"`{name}` should be a function (or class) but is a {observed['not_callable']}.")
    if "refused" in observed:
        fail(str(observed["refused"])[:MESSAGE_LIMIT])
    if "raised" in observed:
        raised = observed["raised"] if isinstance(observed["raised"], dict) else {}
        kind, message = str(raised.get("type", "an exception"))[:80], str(raised.get("message", ""))[:300]
        hint = " Print the shapes of the arrays on that line: the sizes do not fit together." \
            if any(word in message for word in SHAPE_WORDS) else ""
        where = f" (at {str(raised['where'])[:300]})" if raised.get("where") else ""
        fail(f"`{name}` raised {kind}: {message}".rstrip(": ") + where + "." + hint)
    if "value" not in observed:
        fail(f"no answer was recorded for `{name}`.")
    return observed["value"]


class LocalHelpers:
    """Stand-ins answered in this process (the public `check`), through the same plain-data round
    trip as across the wall."""

    def __init__(self, answers: Any):
        self.answers = answers

    def __call__(self, helper: str, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _wire.roundtrip(list(args)), _wire.roundtrip(kwargs)
        return _wire.roundtrip(answer(self.answers, helper, args, kwargs))


def answer(answers: Any, helper: str, args: list, kwargs: dict) -> Any:
    """The judging side of one stand-in call; the first refusal is remembered as the verdict."""
    if answers.failure:
        fail(answers.failure)
    try:
        fn = answers.functions().get(helper)
        if fn is None:
            fail(f"{answers.caller} called an unknown helper {helper!r}.")
        return fn(*args, **kwargs)
    except CheckFailure as failure:
        answers.failure = str(failure)
        raise
    except Exception as exc:  # arguments the reference's stand-in cannot read
        answers.failure = (f"{answers.caller} called {helper} with arguments it does not take "
                           f"({type(exc).__name__}: {exc}).")
        fail(answers.failure)


def observe_safely(question: Question, env: Mapping, inputs: dict, helpers: Callable) -> dict:
    """`question.observe`, with a failure of the observing code itself (the submission may have
    broken it) recorded as the observation."""
    try:
        with quiet():
            return question.observe(env, inputs, helpers)
    except (Exception, SystemExit) as exc:
        return {"broken": describe_exception(exc)}


def judge_observed(question: Question, inputs: dict, observed: Any, expected: dict, ctx: Context) -> None:
    """`question.judge`, after the checks every observation must pass."""
    if not isinstance(observed, dict):
        fail("the checked code returned no observation.")
    if "broken" in observed:
        broken = observed["broken"] if isinstance(observed["broken"], dict) else {}
        fail(f"checking the answer raised {str(broken.get('type'))[:80]}: {str(broken.get('message'))[:300]} (did the "
             "notebook change the libraries or the checks?)")
    try:
        question.judge(inputs, observed, expected, ctx)
    except CheckFailure as failure:
        fail(str(failure)[:MESSAGE_LIMIT])
    except Exception as exc:  # an observation of a form no honest process sends (or values no comparison takes)
        fail(f"the answer could not be read ({type(exc).__name__}: {str(exc)[:200]}).")


def run_local(question: Question, restore: Callable[[dict], dict], env: Mapping, inputs: dict, expected: dict) -> None:
    """Observe and judge one case in this process (the public `check`, Otter's tests)."""
    data = _wire.roundtrip(notebook_data(env))
    helpers = question.answers(inputs, expected, data) if question.answers else None
    sent = restore(_wire.roundtrip(question.student_inputs(inputs, expected)))
    observed = _wire.roundtrip(observe_safely(question, env, sent, LocalHelpers(helpers)))
    judge_observed(question, inputs, observed, expected, Context(data, helpers))


def checkers(questions: Mapping[str, Question], restore: Callable[[dict], dict] = dict) -> dict[str, Callable]:
    """`checker(env, inputs, expected)` per question: both halves in this process."""
    return {name: functools.partial(run_local, question, restore) for name, question in questions.items()}
