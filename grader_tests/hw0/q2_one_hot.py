"""Otter test for q2_one_hot (3 point(s)), written by hwkit build from its test cell in source/hw0/Warmup.ipynb.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q2_one_hot"
points = 3
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = '"""q2_one_hot: shape (N, num_classes), floats, a single 1 per row in the label\'s column"""\nY = one_hot(np.array([0, 2, 1, 2]), 3)\nassert isinstance(Y, np.ndarray), f"one_hot must return a NumPy array, not {type(Y).__name__} (case: 4 labels)"\nassert Y.shape == (4, 3), f"shape {Y.shape} is not (number of labels, num_classes) (case: 4 labels, 3 classes)"\nassert Y.dtype.kind == "f", f"entries must be floats, not {Y.dtype} (case: 4 labels, 3 classes)"\nassert np.array_equal(Y, np.eye(3)[[0, 2, 1, 2]]), "wrong entries (case: labels [0, 2, 1, 2], 3 classes)"\nY = one_hot(np.array([1, 1]), 5)\nassert Y.shape == (2, 5), f"shape {Y.shape}: num_classes may exceed the largest label (case: labels [1, 1], 5 classes)"\nassert np.array_equal(Y, np.eye(5)[[1, 1]]), "wrong entries (case: labels [1, 1], 5 classes)"'
WHOLE = '"""q2_one_hot: shape (N, num_classes), floats, a single 1 per row in the label\'s column"""\nY = one_hot(np.array([0, 2, 1, 2]), 3)\nassert isinstance(Y, np.ndarray), f"one_hot must return a NumPy array, not {type(Y).__name__} (case: 4 labels)"\nassert Y.shape == (4, 3), f"shape {Y.shape} is not (number of labels, num_classes) (case: 4 labels, 3 classes)"\nassert Y.dtype.kind == "f", f"entries must be floats, not {Y.dtype} (case: 4 labels, 3 classes)"\nassert np.array_equal(Y, np.eye(3)[[0, 2, 1, 2]]), "wrong entries (case: labels [0, 2, 1, 2], 3 classes)"\nY = one_hot(np.array([1, 1]), 5)\nassert Y.shape == (2, 5), f"shape {Y.shape}: num_classes may exceed the largest label (case: labels [1, 1], 5 classes)"\nassert np.array_equal(Y, np.eye(5)[[1, 1]]), "wrong entries (case: labels [1, 1], 5 classes)"\n### BEGIN HIDDEN TESTS\nrng = np.random.default_rng(2)\nfor n, c in [(10, 4), (1, 7), (50, 10), (3, 2)]:\n    labels = rng.integers(0, c, size=n)\n    Y = one_hot(labels, c)\n    assert Y.shape == (n, c), f"wrong shape (case: {n} labels, {c} classes, seed 2)"\n    assert np.array_equal(Y, np.eye(c)[labels]), f"wrong entries (case: {n} labels, {c} classes, seed 2)"\n### END HIDDEN TESTS'


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test q2_one_hot>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test q2_one_hot>", "exec"), dict(env))
