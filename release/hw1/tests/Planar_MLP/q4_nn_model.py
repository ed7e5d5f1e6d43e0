"""Otter test for q4_nn_model (2 point(s)), written by `hwkit build` from source/hw1/Planar_MLP.ipynb.

Do not edit: change the checks (hw1_checks) and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_nn_model"
points = 2
all_or_nothing = True  # like the nbgrader test cell: every case passes or the question scores 0


@test_case(name="public cases", hidden=False)
def public_cases(env):
    from hw1_checks import check

    check("q4_nn_model", env)
