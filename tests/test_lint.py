"""The repository is clean under ruff, configured in pyproject.toml (fast: one `ruff check`)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# TEMPORARY: files other engineers are editing while the linter lands; they are cleaned after their branches merge,
# then this list goes (pyproject.toml's exclusions are for generated folders only).
TEMPORARY_EXCLUSIONS = [
    "hwkit/grade.py", "hwkit/worker.py", "hwkit/cli.py", "hwkit/judge.py", "hwkit/build.py",
    "tests/test_class_grading.py", "tests/test_grading.py",
]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed: `pip install -e '.[test]'` (bash setup.sh) installs it")
def test_ruff_check_is_clean() -> None:
    excluded = [f"--extend-exclude={pattern}" for pattern in TEMPORARY_EXCLUSIONS]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", *excluded,
                             "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"ruff check found problems (fix them):\n{result.stdout}{result.stderr}"
