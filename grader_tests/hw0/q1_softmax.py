"""Otter test for q1_softmax (3 point(s)), written by hwkit build from its test cell in source/hw0/Warmup.ipynb.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1_softmax"
points = 3
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = '"""q1_softmax: same shape, rows sum to 1, equal to exp(z) / sum(exp(z)), finite for logits of +-1000"""\nZ = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])\nP = softmax(Z)\nassert isinstance(P, np.ndarray), f"softmax must return a NumPy array, not {type(P).__name__} (case: 2x3)"\nassert P.shape == Z.shape, f"the shape must be kept: {P.shape} (case: 2x3)"\nassert np.allclose(P.sum(axis=1), 1.0), "rows must sum to 1 (case: 2x3)"\nassert np.allclose(P, np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)), "not exp(z) / sum(exp(z)) (case: 2x3)"\nP = softmax(np.array([[1000.0, 0.0, -1000.0]]))\nassert np.all(np.isfinite(P)), "inf or nan for large logits: subtract each row\'s maximum (case: 1x3, logits +-1000)"\nassert np.allclose(P, [[1.0, 0.0, 0.0]]), "wrong probabilities for large logits (case: 1x3, logits +-1000)"'
WHOLE = '"""q1_softmax: same shape, rows sum to 1, equal to exp(z) / sum(exp(z)), finite for logits of +-1000"""\nZ = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])\nP = softmax(Z)\nassert isinstance(P, np.ndarray), f"softmax must return a NumPy array, not {type(P).__name__} (case: 2x3)"\nassert P.shape == Z.shape, f"the shape must be kept: {P.shape} (case: 2x3)"\nassert np.allclose(P.sum(axis=1), 1.0), "rows must sum to 1 (case: 2x3)"\nassert np.allclose(P, np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)), "not exp(z) / sum(exp(z)) (case: 2x3)"\nP = softmax(np.array([[1000.0, 0.0, -1000.0]]))\nassert np.all(np.isfinite(P)), "inf or nan for large logits: subtract each row\'s maximum (case: 1x3, logits +-1000)"\nassert np.allclose(P, [[1.0, 0.0, 0.0]]), "wrong probabilities for large logits (case: 1x3, logits +-1000)"\n### BEGIN HIDDEN TESTS\nrng = np.random.default_rng(1)\nfor n, c, scale in [(4, 3, 1.0), (7, 10, 5.0), (3, 5, 800.0), (1, 1, 1.0)]:\n    Z = rng.normal(scale=scale, size=(n, c))\n    P = softmax(Z)\n    assert P.shape == Z.shape, f"the shape must be kept (case: {n}x{c}, scale {scale}, seed 1)"\n    E = np.exp(Z - Z.max(axis=1, keepdims=True))\n    assert np.allclose(P, E / E.sum(axis=1, keepdims=True)), \\\n        f"wrong probabilities (case: {n}x{c}, scale {scale}, seed 1)"\nZ = np.array([[-1000.0, -1001.0, -1002.0], [500.0, 500.0, 0.0]])\nP = softmax(Z)\nassert np.all(np.isfinite(P)), "inf or nan when rows have very different scales (case: rows near -1000 and +500)"\nE = np.exp(Z - Z.max(axis=1, keepdims=True))\nassert np.allclose(P, E / E.sum(axis=1, keepdims=True)), "wrong probabilities (case: rows near -1000 and +500)"\n### END HIDDEN TESTS'


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test q1_softmax>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test q1_softmax>", "exec"), dict(env))
