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
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

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


def as_tuple(value: Any, length: int) -> tuple | None:
    """`value` as a tuple if it is a tuple or a list of `length` items (a list is a pair too), else None."""
    if isinstance(value, (tuple, list)) and len(value) == length:
        return tuple(value)
    return None


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
        hint = ""
        shape_words = ("broadcast", "shapes", "size mismatch", "must match the size", "dimension")
        if any(word in str(exc) for word in shape_words):
            hint = " Print the shapes of the arrays on that line: the sizes do not fit together."
        fail(f"`{name}` raised {type(exc).__name__}: {exc}".rstrip(": ") + hint)


TRUSTED_BUILTINS = ("len", "isinstance", "abs", "max", "min", "getattr", "hasattr", "callable", "sorted",
                    "iter", "next", "repr", "id", "setattr", "delattr", "print", "round")
TRUSTED_TYPES = ("zip", "float", "int", "bool", "tuple", "list", "dict", "set", "str", "type", "range", "enumerate",
                 "AssertionError", "Exception", "BaseException", "SystemExit", "TypeError", "ValueError")
# Python-level functions of libraries that checks call (directly or through torch): they must
# still be the library's own code, not a replacement planted by the submission.
TRUSTED_LIBRARY_FUNCTIONS = (
    # numpy: what the checks and the instructor's reference compute with (np.allclose and friends
    # are not used, so replacing them changes nothing and is allowed)
    ("numpy", ("tanh", "exp", "log", "abs", "maximum", "sum", "mean", "zeros", "zeros_like", "ones_like", "shape",
               "size", "ndindex")),
    ("numpy.random", ("seed", "randn", "rand", "default_rng")),
    ("torch", ("as_tensor", "tensor", "tanh", "sigmoid", "no_grad", "is_tensor")),
    ("torch.nn.functional", ("binary_cross_entropy", "softsign", "linear")),
)
TRUSTED_METHODS = (("torch", "Tensor", ("backward", "register_hook", "detach", "numpy", "__array__")),
                   ("torch.nn", "Module", ("__call__", "_call_impl", "parameters", "zero_grad", "double")))


_LIBRARY_DIRS: dict[str, str] = {}


def _library_dir(module_name: str) -> str:
    import importlib
    import os

    root = module_name.split(".")[0]
    if root not in _LIBRARY_DIRS:
        _LIBRARY_DIRS[root] = os.path.dirname(os.path.abspath(importlib.import_module(root).__file__))
    return _LIBRARY_DIRS[root]


def _genuine(obj: Any, package: str) -> bool:
    """Whether `obj` is a library's own function: compiled, or Python code from the package's folder."""
    if type(obj) in (BuiltinFunction, np.ufunc) or type(obj).__name__ in (
            "builtin_function_or_method", "method_descriptor", "wrapper_descriptor", "_ArrayFunctionDispatcher",
            "getset_descriptor", "classmethod", "staticmethod", "ufunc", "cython_function_or_method",
            "fused_cython_function"):
        return True
    if type(obj).__name__ == "method":  # e.g. np.random.randn, a method of numpy's global RandomState
        return type(obj.__self__).__module__.split(".")[0] == package.split(".")[0] and _genuine(obj.__func__, package)
    if isinstance(obj, type):  # e.g. torch.no_grad
        return (getattr(obj, "__module__", "") or "").split(".")[0] == package.split(".")[0]
    code = getattr(obj, "__code__", None) or getattr(getattr(obj, "__wrapped__", None), "__code__", None)
    if code is None:
        return False
    import os

    return os.path.abspath(code.co_filename).startswith(_library_dir(package))


def assert_environment_untouched() -> None:
    """Fail if the functions the comparisons rely on were replaced by the submission."""
    for name in ("asarray", "array"):
        fn = getattr(np, name)
        if type(fn) is not BuiltinFunction or getattr(fn, "__module__", None) != "numpy":
            fail(f"numpy.{name} was replaced by the submission; the tests cannot trust it.")
    for name in TRUSTED_BUILTINS:
        if type(getattr(builtins, name, None)) is not BuiltinFunction:
            fail(f"the built-in `{name}` was replaced by the submission; the tests cannot trust it.")
    for name in TRUSTED_TYPES:
        if not isinstance(getattr(builtins, name, None), type) or getattr(builtins, name).__module__ != "builtins":
            fail(f"the built-in `{name}` was replaced by the submission; the tests cannot trust it.")
    import importlib
    import sys

    for module_name, names in TRUSTED_LIBRARY_FUNCTIONS:
        if module_name.split(".")[0] != "numpy" and module_name.split(".")[0] not in sys.modules:
            continue  # torch not imported yet: nothing of it can have been replaced
        module = importlib.import_module(module_name)
        for name in names:
            if not _genuine(getattr(module, name, None), module_name):
                fail(f"{module_name}.{name} was replaced by the submission; the tests cannot trust it.")
    for module_name, cls_name, names in TRUSTED_METHODS:
        if module_name.split(".")[0] not in sys.modules:
            continue
        cls = getattr(importlib.import_module(module_name), cls_name)
        for name in names:
            if name in vars(cls) and not _genuine(vars(cls)[name], module_name):
                fail(f"{module_name}.{cls_name}.{name} was replaced by the submission; the tests cannot trust it.")


@contextlib.contextmanager
def substituted(namespaces: Iterable[Any], replacements: Mapping[str, Any]):
    """Temporarily put `replacements` into every namespace (the notebook's globals), restoring
    them afterwards whatever happens, so a composed function is judged on its own code."""
    targets: list[MutableMapping] = []
    for ns in namespaces:
        if isinstance(ns, MutableMapping) and all(ns is not t for t in targets):
            targets.append(ns)
    missing = object()
    saved = [{name: ns.get(name, missing) for name in replacements} for ns in targets]
    try:
        for ns in targets:
            ns.update(replacements)
        yield
    finally:
        for ns, old in zip(targets, saved):
            for name, value in old.items():
                if value is missing:
                    ns.pop(name, None)
                else:
                    ns[name] = value


def same(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """Fast tolerant equality of two arrays (ndarray operators only, which no submission can patch)."""
    if not isinstance(actual, np.ndarray) or not isinstance(expected, np.ndarray):
        return False
    if actual.shape != expected.shape:
        return False
    a = np.ndarray.view(actual, np.ndarray).astype(np.float64)
    e = np.ndarray.view(expected, np.ndarray).astype(np.float64)
    return bool(((a - e).__abs__() <= atol + rtol * e.__abs__()).all())


def as_array(value: Any, what: str) -> np.ndarray:
    """`value` as a plain float64 ndarray; fails unless it is a NumPy array of numbers."""
    if not isinstance(value, np.ndarray):
        fail(f"{what} should be a NumPy array but is a {type(value).__name__}.")
    try:
        return np.asarray(np.ndarray.view(value, np.ndarray), dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} should hold numbers but has dtype {value.dtype}.")


def expect_shape(value: np.ndarray, shape: Sequence[int], what: str, hint: str | None = None) -> None:
    """Fail unless `value` has `shape`; `hint` replaces the generic advice for a 1-D result."""
    shape = tuple(shape)
    if value.shape == shape:
        return
    advice = ""
    if value.shape == shape[::-1] and len(shape) == 2:
        advice = " It is transposed: check the order of the factors in your matrix product."
    elif value.size == 1 and len(shape) == 0:
        advice = " Return a plain number: use float(...)."
    elif len(value.shape) == 1 and len(shape) == 2 and value.shape[0] in shape:
        advice = " " + (hint or "Keep the column/row dimension: use keepdims=True when you sum.")
    elif hint and len(shape) == 2 and len(value.shape) == 2:
        advice = " " + hint
    fail(f"{what} has shape {value.shape}, expected {shape}.{advice}")


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
    mistakes: Sequence[Sequence[Any]] | None = None,
    shape_hint: str | None = None,
) -> None:
    """Check that `actual` is an array of `expected`'s shape equal to it within tolerance.

    `mistakes` lists known wrong answers as (explanation, value) pairs, computed by the
    instructor's reference; the first that `actual` equals explains the failure.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, what)
    if actual.shape != expected.shape:  # a known mistake of another shape names its cause better than the shapes
        hint = known_mistake(actual, [m for m in mistakes or () if np.shape(m[1]) == actual.shape])
        if hint:
            fail(f"{what} has shape {actual.shape}, expected {expected.shape}. {hint}")
    expect_shape(actual, expected.shape, what, shape_hint)
    if max_error(actual, expected, rtol, atol) <= 1.0:
        return
    hint = known_mistake(actual, mistakes)
    hint = hint or (diagnose(actual, expected) if diagnose else None)
    hint = hint or diagnose_common(actual, expected)
    fail(f"{what} has the right shape but wrong values.{' ' + hint if hint else ''}")


def known_mistake(actual: Any, mistakes: Sequence[Sequence[Any]] | None, rtol: float = 1e-6,
                  atol: float = 1e-9) -> str | None:
    """The explanation of the first known wrong answer that `actual` matches, if any."""
    for explanation, value in mistakes or ():
        value = np.asarray(value, dtype=np.float64)
        candidate = np.asarray([actual], dtype=np.float64) if isinstance(actual, float) else actual
        if isinstance(candidate, np.ndarray) and candidate.size == value.size and \
                close(candidate.reshape(value.shape), value, rtol, atol):
            return explanation
    return None


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


def assert_labels(actual: Any, expected: np.ndarray, what: str, ignore: np.ndarray | None = None,
                  shape_hint: str | None = None, hint: str = "") -> None:
    """Check 0/1 labels: an array of the right shape holding only 0 and 1, equal to `expected`.

    `ignore` marks points too close to the decision boundary to judge.
    """
    expected = np.asarray(expected, dtype=np.float64)
    labels = as_array(actual, what)
    expect_shape(labels, expected.shape, what, shape_hint)
    got = np.ndarray.tolist(labels.ravel())  # plain Python from here on: nothing a submission can patch
    want = np.ndarray.tolist(expected.ravel())
    if ignore is None:
        keep = [True] * len(want)
    else:
        keep = [not v for v in np.ndarray.tolist(np.asarray(ignore, bool).ravel())]
    values = sorted(set(got))
    if not set(values) <= {0.0, 1.0}:
        fail(f"{what} should hold only 0 and 1 labels, not probabilities; found {values[:5]}.")
    judged = [(g, w) for g, w, k in zip(got, want, keep) if k]
    wrong = len([1 for g, w in judged if g != w])
    if wrong == 0:
        return
    if wrong == len(judged):
        fail(f"{what}: every label is flipped; a probability above 0.5 means class 1.")
    fail(f"{what}: {wrong} of {len(judged)} labels are wrong.{' ' + hint if hint else ''}")


def assert_float(value: Any, expected: float, what: str, rtol: float = 1e-6, atol: float = 1e-9,
                 mistakes: Sequence[Sequence[Any]] | None = None) -> None:
    """Check a scalar result that must be a Python float (np.float64 counts, and so does any NumPy float scalar)."""
    if isinstance(value, np.floating):
        value = float(value)
    if not isinstance(value, float):
        if isinstance(value, np.ndarray):
            fail(f"{what} should be a Python float, not an array of shape {value.shape}: use float(np.squeeze(cost)).")
        fail(f"{what} should be a Python float, not a {type(value).__name__}.")
    actual, target = np.asarray([value], dtype=float), np.asarray([expected], dtype=float)
    if max_error(actual, target, rtol, atol) > 1.0:
        hint = known_mistake(actual, mistakes) or diagnose_common(actual, target)
        # the student's value only: a hidden case's expected value is never shown
        fail(f"{what} is {float(value):.6g}, which is not the expected value.{' ' + hint if hint else ''}")
