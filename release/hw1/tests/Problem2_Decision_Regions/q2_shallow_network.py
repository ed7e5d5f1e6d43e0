"""Otter test for q2_shallow_network (3 point(s)), written by `hwkit build` from source/hw1/Problem2_Decision_Regions.ipynb.

Do not edit: change the checks (hw1_checks) and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q2_shallow_network"
points = 3
all_or_nothing = True  # like the nbgrader test cell: every case passes or the question scores 0


@test_case(name="public cases", hidden=False)
def public_cases(env):
    from hw1_checks import check

    check("q2_shallow_network", env)
