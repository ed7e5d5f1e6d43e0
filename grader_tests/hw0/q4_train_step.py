"""Otter test for q4_train_step (4 point(s)), written by hwkit build from its test cell in source/hw0/Warmup.ipynb.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_train_step"
points = 4
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = '"""q4_train_step: the loss before the step (a float) and W - lr dL/dW, b - lr dL/db for the mean cross-entropy"""\ng = torch.Generator().manual_seed(0)\nX, W, b = torch.randn(6, 3, generator=g), torch.randn(3, 4, generator=g), torch.randn(4, generator=g)\ny = torch.tensor([0, 1, 2, 3, 1, 0])\nW0, b0 = W.clone(), b.clone()\nW_new, b_new, loss = train_step(W, b, X, y, 0.1)\nassert isinstance(loss, float), f"the loss must be a Python float, not {type(loss).__name__} (case: N=6, D=3, C=4)"\nP = torch.softmax(X @ W0 + b0, dim=1)\nT = torch.nn.functional.one_hot(y, 4).to(P.dtype)\nassert np.isclose(loss, float(-(T * P.log()).sum(dim=1).mean())), \\\n    "loss is not the mean cross-entropy before the step (case: N=6, D=3, C=4, lr 0.1)"\nG = (P - T) / 6\nassert torch.allclose(W_new, W0 - 0.1 * X.T @ G, atol=1e-5), "W_new is not W - lr * dL/dW (case: N=6, D=3, C=4, lr 0.1)"\nassert torch.allclose(b_new, b0 - 0.1 * G.sum(dim=0), atol=1e-5), "b_new is not b - lr * dL/db (case: N=6, D=3, C=4)"'
WHOLE = '"""q4_train_step: the loss before the step (a float) and W - lr dL/dW, b - lr dL/db for the mean cross-entropy"""\ng = torch.Generator().manual_seed(0)\nX, W, b = torch.randn(6, 3, generator=g), torch.randn(3, 4, generator=g), torch.randn(4, generator=g)\ny = torch.tensor([0, 1, 2, 3, 1, 0])\nW0, b0 = W.clone(), b.clone()\nW_new, b_new, loss = train_step(W, b, X, y, 0.1)\nassert isinstance(loss, float), f"the loss must be a Python float, not {type(loss).__name__} (case: N=6, D=3, C=4)"\nP = torch.softmax(X @ W0 + b0, dim=1)\nT = torch.nn.functional.one_hot(y, 4).to(P.dtype)\nassert np.isclose(loss, float(-(T * P.log()).sum(dim=1).mean())), \\\n    "loss is not the mean cross-entropy before the step (case: N=6, D=3, C=4, lr 0.1)"\nG = (P - T) / 6\nassert torch.allclose(W_new, W0 - 0.1 * X.T @ G, atol=1e-5), "W_new is not W - lr * dL/dW (case: N=6, D=3, C=4, lr 0.1)"\nassert torch.allclose(b_new, b0 - 0.1 * G.sum(dim=0), atol=1e-5), "b_new is not b - lr * dL/db (case: N=6, D=3, C=4)"\n### BEGIN HIDDEN TESTS\nfor n, d, c, lr, seed in [(10, 5, 3, 0.5, 1), (1, 2, 2, 1.0, 2), (32, 8, 10, 0.01, 3)]:\n    g = torch.Generator().manual_seed(seed)\n    X, W, b = torch.randn(n, d, generator=g), torch.randn(d, c, generator=g), torch.randn(c, generator=g)\n    y = torch.randint(0, c, (n,), generator=g)\n    W0, b0 = W.clone(), b.clone()\n    W_new, b_new, loss = train_step(W, b, X, y, lr)\n    P = torch.softmax(X @ W0 + b0, dim=1)\n    T = torch.nn.functional.one_hot(y, c).to(P.dtype)\n    assert isinstance(loss, float) and np.isclose(loss, float(-(T * P.log()).sum(dim=1).mean())), \\\n        f"wrong loss (case: N={n}, D={d}, C={c}, lr {lr}, seed {seed})"\n    G = (P - T) / n\n    case = f"case: N={n}, D={d}, C={c}, lr {lr}, seed {seed}"\n    assert torch.allclose(W_new, W0 - lr * X.T @ G, atol=1e-5), f"wrong W_new ({case})"\n    assert torch.allclose(b_new, b0 - lr * G.sum(dim=0), atol=1e-5), f"wrong b_new ({case})"\n### END HIDDEN TESTS'


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test q4_train_step>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test q4_train_step>", "exec"), dict(env))
