"""Time the instructor's nn_model (10000 iterations, 4 hidden units) on the flower data.

Run: python benchmarks/nn_model_speed.py   (prints figures; no pass/fail, not a test)
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "source" / "hw1"), str(REPO / "grader_tests")]

from conftest import solution_namespace  # noqa: E402
from planar_utils import accuracy, load_planar_dataset  # noqa: E402


def main(repeats: int = 5) -> None:
    solution = solution_namespace("Planar_MLP.ipynb")
    X, Y = load_planar_dataset()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        parameters = solution["nn_model"](X, Y, 4, num_iterations=10000)
        times.append(time.perf_counter() - start)
    print(f"nn_model, 10000 iterations, n_h=4, m=400: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s over {repeats} runs")
    print(f"training accuracy {accuracy(solution['predict'](parameters, X), Y):.1%}")


if __name__ == "__main__":
    main()
