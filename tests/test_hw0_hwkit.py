"""Homework 0 under `hwkit grade`: an ordinary nbgrader assignment judged by its own test cells outside the
student's process, in a course folder that also holds Homework 1.

The corpus (tests/hw0_corpus.py) is graded once by the real CLI, two sandboxed workers. The instructor's solution
gets full marks, each ordinary mistake loses its own questions, and each cheat, which takes its points under plain
nbgrader (test_hw0_plain_nbgrader.py, the positive control), scores 0 on every question it cheats on. Grading hw0
and hw1 in one folder leaves each other's grades, cache and regrade reports alone.
"""
from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from hw0_corpus import ASSIGNMENT, CORPUS, POINTS, WRITTEN, build_hw0_class
from hwkit.course import Course, copy_course_files
from hwkit.demo import filled_release

CELL_TIMEOUT = 15  # as the plain-nbgrader run of the same corpus
HW1_NOTEBOOK = "Problem1_Softmax_CrossEntropy.ipynb"  # one short hw1 notebook: the other assignment's student


def hwkit(root: Path, *args: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(root), *args, "--jobs", "2",
                           "--timeout", str(CELL_TIMEOUT)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def snapshot(course: Course) -> dict[str, str]:
    """What grading this assignment wrote that another assignment's run must leave alone."""
    paths = [course.grades_csv, course.canvas_csv, *sorted((course.autograded / ".hwkit-cache" /
                                                              course.assignment).glob("*.json"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def two_assignments(tmp_path_factory) -> dict:
    """hw1 graded (one student, one notebook), then the hw0 corpus, then hw1 again, in one course folder."""
    root = tmp_path_factory.mktemp("hw0-hwkit") / "course"
    copy_course_files(REPO, root)
    hw0, hw1 = Course.at(root, ASSIGNMENT), Course.at(root, "hw1")
    build_hw0_class(root)
    folder = hw1.submitted / "carol" / "hw1"
    folder.mkdir(parents=True)
    nbformat.write(filled_release(hw1, HW1_NOTEBOOK), folder / HW1_NOTEBOOK)
    steps = {"hw1_first": hwkit(root, "grade", "--assignment", "hw1")}
    hw1_files = snapshot(hw1)
    steps["hw0"] = hwkit(root, "grade", "--assignment", ASSIGNMENT)
    hw0_files = snapshot(hw0)
    steps["hw1_after_hw0"] = snapshot(hw1)
    steps["hw1_again"] = hwkit(root, "grade", "--assignment", "hw1")
    rows = {r["student_id"]: r for r in csv.DictReader(hw0.grades_csv.open())}
    return {"root": root, "rows": rows, "steps": steps, "hw1_files": hw1_files, "hw0_files": hw0_files,
            "hw0_after_hw1": snapshot(hw0)}


@pytest.mark.parametrize("student", sorted(CORPUS))
def test_every_answer_scores_what_it_earned(two_assignments, student: str) -> None:
    """Honest work full marks, each mistake its own questions only, each cheat 0 on what it cheats on."""
    row = two_assignments["rows"][student]
    assert row["status"] == "graded", row
    assert {q: float(row[q]) for q in POINTS} == CORPUS[student].expected("hwkit"), row
    assert row[WRITTEN] == "", row  # a TA's question: waits for formgrader


def test_the_reasons_name_the_cause(two_assignments) -> None:
    root = two_assignments["root"]
    page = (root / "feedback" / "patch_allclose" / ASSIGNMENT / "index.html").read_text()
    assert "decided by the student" in page or "hidden test failed" in page or "test `" in page, page[-3000:]
    console = two_assignments["steps"]["hw0"]
    assert "reference" in console and "17/17" in console


def test_two_assignments_leave_each_other_alone(two_assignments) -> None:
    """hw0's run changed no file of hw1's (grades, Canvas file, cache); hw1 graded again regrades nothing and
    touches nothing of hw0's; neither run reports the other's students as regraded."""
    assert two_assignments["steps"]["hw1_after_hw0"] == two_assignments["hw1_files"]
    assert two_assignments["hw0_after_hw1"] == two_assignments["hw0_files"]
    again = two_assignments["steps"]["hw1_again"]
    assert "1 unchanged since the last run" in again and "regrade:" not in again, again[-2000:]
    assert "regrade:" not in two_assignments["steps"]["hw0"]
    root = two_assignments["root"]
    assert not list(root.glob("regrade-*.csv"))
