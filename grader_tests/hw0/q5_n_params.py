"""Otter test for q5_n_params (2 point(s)), written by hwkit build from its test cell in source/hw0/Warmup.ipynb.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q5_n_params"
points = 2
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = '"""q5_n_params: a Python int, the number of weights and biases of a 784-128-10 network"""\nassert isinstance(n_params, int), f"n_params must be a Python int, not {type(n_params).__name__}"'
WHOLE = '"""q5_n_params: a Python int, the number of weights and biases of a 784-128-10 network"""\nassert isinstance(n_params, int), f"n_params must be a Python int, not {type(n_params).__name__}"\n### BEGIN HIDDEN TESTS\nassert n_params == 784 * 128 + 128 + 128 * 10 + 10, "n_params is not the number of weights and biases of 784-128-10"\n### END HIDDEN TESTS'


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test q5_n_params>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test q5_n_params>", "exec"), dict(env))
