"""Otter test for q3_parameter_count (3 point(s)), written by `hwkit build` from source/hw1/Problem3_Siamese_Nets.ipynb.

Do not edit: change the checks (hw1_checks) and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3_parameter_count"
points = 3
all_or_nothing = True  # like the nbgrader test cell: every case passes or the question scores 0


@test_case(name="public cases", hidden=False)
def public_cases(env):
    from hw1_checks import check

    check("q3_parameter_count", env)
