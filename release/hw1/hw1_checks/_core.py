"""Building blocks of every check: calling student code quietly, shape/type checks,
tolerant comparisons and plain-language failure messages.

Comparisons use only `numpy.asarray`, `ndarray.tolist` and float arithmetic, so a
submission that replaces `np.allclose`, `np.isclose` or `np.testing` gains nothing;
`assert_environment_untouched` catches the rarer patching of what is left.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

BuiltinFunction = type(len)


class CheckFailure(AssertionError):
    """A check failed; the message tells the student what is wrong and, when we can tell, why."""


def fail(message: str) -> None:
    raise CheckFailure(message)


@contextlib.contextmanager
def quiet():
    """Run student code without letting its warnings or prints reach stderr.

    nbgrader scores a test cell that writes anything to stderr as failed, so a harmless
    RuntimeWarning inside a student's sigmoid must not cost points.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(
        io.StringIO()
    ), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def student_function(env: Mapping[str, Any], name: str) -> Callable:
    """The student's function `name` from the notebook's namespace, or a clear failure."""
    fn = env.get(name)
    if fn is None:
        fail(f"`{name}` is not defined: run the cell that defines it (and every cell above it).")
    if not callable(fn):
        fail(f"`{name}` should be a function (or class) but is a {type(fn).__name__}.")
    return fn


def call(env: Mapping[str, Any], name: str, *args, **kwargs) -> Any:
    """Call the student's `name(*args, **kwargs)`; any exception becomes a failure that names it."""
    fn = student_function(env, name)
    try:
        with quiet():
            return fn(*args, **kwargs)
    except CheckFailure:
        raise
    except (Exception, SystemExit) as exc:  # SystemExit: a submission must not end the test
        fail(f"`{name}` raised {type(exc).__name__}: {exc}".rstrip(": "))


def assert_environment_untouched() -> None:
    """Fail if the functions the comparisons rely on were replaced by the submission."""
    for name in ("asarray", "array"):
        fn = getattr(np, name)
        if type(fn) is not BuiltinFunction or getattr(fn, "__module__", None) != "numpy":
            fail(f"numpy.{name} was replaced by the submission; the tests cannot trust it.")
    for name in ("len", "isinstance", "abs", "max", "getattr"):
        if type(getattr(builtins, name)) is not BuiltinFunction:
            fail(f"the built-in `{name}` was replaced by the submission; the tests cannot trust it.")


def as_array(value: Any, what: str) -> np.ndarray:
    """`value` as a plain float64 ndarray; fails unless it is a NumPy array of numbers."""
    if not isinstance(value, np.ndarray):
        fail(f"{what} should be a NumPy array but is a {type(value).__name__}.")
    try:
        return np.asarray(np.ndarray.view(value, np.ndarray), dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} should hold numbers but has dtype {value.dtype}.")


def expect_shape(value: np.ndarray, shape: Sequence[int], what: str) -> None:
    shape = tuple(shape)
    if value.shape == shape:
        return
    hint = ""
    if value.shape == shape[::-1] and len(shape) == 2:
        hint = " It is transposed: check the order of the factors in your matrix product."
    elif value.size == 1 and len(shape) == 0:
        hint = " Return a plain number: use float(...)."
    elif len(value.shape) == 1 and len(shape) == 2 and value.shape[0] in shape:
        hint = " Keep the column/row dimension: use keepdims=True when you sum."
    fail(f"{what} has shape {value.shape}, expected {shape}.{hint}")


def max_error(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> float:
    """Largest |a - e| / (atol + rtol |e|) over all entries, computed with float arithmetic.

    A value above 1 means the arrays differ beyond tolerance; NaN or inf counts as infinite.
    """
    worst = 0.0
    for a, e in zip(np.ndarray.tolist(actual.ravel()), np.ndarray.tolist(expected.ravel())):
        if a != a or a - a != 0.0:  # NaN or inf
            return float("inf")
        diff = a - e if a >= e else e - a
        scale = atol + rtol * (e if e >= 0 else -e)
        worst = diff / scale if diff / scale > worst else worst
    return worst


def assert_close(
    actual: Any,
    expected: np.ndarray,
    what: str,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    diagnose: Callable[[np.ndarray, np.ndarray], str | None] | None = None,
) -> None:
    """Check that `actual` is an array of `expected`'s shape equal to it within tolerance."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, what)
    expect_shape(actual, expected.shape, what)
    if max_error(actual, expected, rtol, atol) <= 1.0:
        return
    hint = diagnose(actual, expected) if diagnose else None
    hint = hint or diagnose_common(actual, expected)
    fail(f"{what} has the right shape but wrong values.{' ' + hint if hint else ''}")


def close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Whether two arrays of one shape agree within tolerance (for diagnoses)."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return actual.shape == expected.shape and max_error(actual, expected, rtol, atol) <= 1.0


def diagnose_common(actual: np.ndarray, expected: np.ndarray) -> str | None:
    """Name the mistakes that show as a simple relation between wrong and right values."""
    if close(actual, -expected):
        return "It has the wrong sign."
    if np.all(np.abs(expected) < 1e-12):
        return None
    ratio = _constant_ratio(actual, expected)
    if ratio is not None:
        return f"It is {ratio:.4g} times the expected value: check a missing or extra constant factor."
    if actual.ndim == 2 and actual.shape[0] == actual.shape[1] and close(actual, expected.T):
        return "It is the transpose of the expected matrix."
    return None


def _constant_ratio(actual: np.ndarray, expected: np.ndarray) -> float | None:
    mask = np.abs(expected) > 1e-12
    ratios = actual[mask] / expected[mask]
    if ratios.size and np.all(np.abs(ratios - ratios[0]) <= 1e-6 * max(1.0, abs(ratios[0]))):
        return float(ratios[0])
    return None


def assert_labels(actual: Any, expected: np.ndarray, what: str, ignore: np.ndarray | None = None) -> None:
    """Check 0/1 labels: an array of the right shape holding only 0 and 1, equal to `expected`.

    `ignore` marks points too close to the decision boundary to judge.
    """
    expected = np.asarray(expected)
    labels = as_array(actual, what)
    expect_shape(labels, expected.shape, what)
    values = set(np.ndarray.tolist(np.unique(labels)))
    if not values <= {0.0, 1.0}:
        fail(f"{what} should hold only 0 and 1 labels, not probabilities; found {sorted(values)[:5]}.")
    keep = np.ones(expected.shape, dtype=bool) if ignore is None else ~ignore
    wrong = int(np.sum((labels != expected) & keep))
    if wrong == 0:
        return
    if int(np.sum((labels == expected) & keep)) == 0:
        fail(f"{what}: every label is flipped; a probability above 0.5 means class 1.")
    fail(f"{what}: {wrong} of {int(keep.sum())} labels are wrong.")


def assert_float(value: Any, expected: float, what: str, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Check a scalar result that must be a Python float (np.float64 counts)."""
    if not isinstance(value, float):
        if isinstance(value, np.ndarray):
            fail(f"{what} should be a Python float, not an array of shape {value.shape}: use float(np.squeeze(cost)).")
        fail(f"{what} should be a Python float, not a {type(value).__name__}.")
    actual, target = np.asarray([value], dtype=float), np.asarray([expected], dtype=float)
    if max_error(actual, target, rtol, atol) > 1.0:
        hint = diagnose_common(actual, target)
        fail(f"{what} is {value:.6g}, expected {expected:.6g}.{' ' + hint if hint else ''}")
