"""Homework 0 under `hwkit grade`: an ordinary nbgrader assignment judged by its own test cells outside the
student's process, in a course folder that also holds Homework 1.

The corpus (tests/hw0_corpus.py) is graded once by the real CLI, two sandboxed workers. The instructor's solution
gets full marks, each ordinary mistake loses its own questions, and each cheat, which takes its points under plain
nbgrader (test_hw0_plain_nbgrader.py, the positive control), scores 0 on every question it cheats on. Grading hw0
and hw1 in one folder leaves each other's grades, cache and regrade reports alone.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from hw0_corpus import ASSIGNMENT, CORPUS, POINTS, WRITTEN, build_hw0_class
from hwkit.course import Course, copy_course_files

pytestmark = pytest.mark.slow  # grades real notebooks with hwkit grade
CELL_TIMEOUT = 15  # as the plain-nbgrader run of the same corpus
HW1_NOTEBOOK = "Problem1_Softmax_CrossEntropy.ipynb"  # one short hw1 notebook: the other assignment's student


def hwkit(root: Path, *args: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(root), *args, "--jobs", "2",
                           "--timeout", str(CELL_TIMEOUT)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"hwkit {' '.join(args)}: {time.monotonic() - started:.0f} s")
    return done.stdout


def plant_other_assignment(root: Path) -> dict[str, bytes]:
    """Files of another assignment (hw1) the hw0 run must leave alone: its grades, Canvas file, cache, autograded
    notebook and feedback, for a student who hands in hw0 too and for one who hands in only hw1."""
    planted = {}
    for student in ("reference", "carol"):
        for path in (root / "autograded" / student / "hw1" / HW1_NOTEBOOK,
                     root / "feedback" / student / "hw1" / "index.html",
                     root / "autograded" / ".hwkit-cache" / "hw1" / f"{student}.json",
                     root / "submitted" / student / "hw1" / HW1_NOTEBOOK):
            path.parent.mkdir(parents=True, exist_ok=True)
            planted[str(path)] = f"{student}'s hw1: {path.name}".encode()
    hw1 = Course.at(root, "hw1")
    planted[str(hw1.grades_csv)] = b"student_id,total\ncarol,90\n"
    planted[str(hw1.canvas_csv)] = b"Student,ID\n"
    for path, data in planted.items():
        Path(path).write_bytes(data)
    return planted


@pytest.fixture(scope="module")
def two_assignments(tmp_path_factory) -> dict:
    """The hw0 corpus graded in a course folder that also holds hw1 and hw1's grading files; then again."""
    root = tmp_path_factory.mktemp("hw0-hwkit") / "course"
    copy_course_files(REPO, root)
    build_hw0_class(root)
    planted = plant_other_assignment(root)
    first = hwkit(root, "grade", "--assignment", ASSIGNMENT)
    hw0 = Course.at(root, ASSIGNMENT)
    rows = {r["student_id"]: r for r in csv.DictReader(hw0.grades_csv.open())}
    cache = {p: p.read_bytes() for p in (hw0.autograded / ".hwkit-cache" / ASSIGNMENT).glob("*.json")}
    again = hwkit(root, "grade", "--assignment", ASSIGNMENT)
    return {"root": root, "rows": rows, "first": first, "again": again, "planted": planted, "cache": cache}


@pytest.mark.parametrize("student", sorted(CORPUS))
def test_every_answer_scores_what_it_earned(two_assignments, student: str) -> None:
    """Honest work full marks, each mistake its own questions only, each cheat 0 on what it cheats on."""
    row = two_assignments["rows"][student]
    assert row["status"] == "graded", row
    assert {q: float(row[q]) for q in POINTS} == CORPUS[student].expected("hwkit"), row
    assert row[WRITTEN] == ("" if CORPUS[student].filled else "0"), row  # an answer waits for a TA; the stub: 0


def test_the_reasons_name_the_cause(two_assignments) -> None:
    """The instructor's assert messages, and a handle named as the student's object, never a verdict of its own."""
    root = two_assignments["root"]
    page = (root / "feedback" / "patch_allclose" / ASSIGNMENT / "index.html").read_text()
    assert "q1_softmax: rows must sum to 1 (case: 2x3)" in page
    assert "n_params must be a Python int, not StudentObject" in page
    assert "reference" in two_assignments["first"] and "17/17" in two_assignments["first"]


def test_two_assignments_leave_each_other_alone(two_assignments) -> None:
    """hw0's runs changed no file of hw1's; hw1's student is not one of hw0's; graded again, hw0 regrades nobody."""
    for path, data in two_assignments["planted"].items():
        assert Path(path).read_bytes() == data, path
    assert "carol" not in two_assignments["rows"] and set(two_assignments["rows"]) == set(CORPUS)
    again = two_assignments["again"]
    assert f"{len(CORPUS)} unchanged since the last run" in again and "regrade:" not in again, again[-2000:]
    assert not list(two_assignments["root"].glob("regrade-*.csv"))
    for path, data in two_assignments["cache"].items():
        assert path.read_bytes() == data, path


def test_hidden_tests_never_enter_the_students_process(two_assignments) -> None:
    """The sandboxed run executes the test cells without their hidden blocks (the judge runs those, outside):
    the autograded notebook and the feedback carry none of it; the instructor's notebook does (positive control)."""
    root = two_assignments["root"]
    source = (root / "source" / ASSIGNMENT / "Warmup.ipynb").read_text()
    hidden_line = "for n_in, n_hidden, n_out, n, seed in"
    assert "BEGIN HIDDEN TESTS" in source and hidden_line in source
    for path in (root / "autograded" / "reference" / ASSIGNMENT / "Warmup.ipynb",
                 root / "feedback" / "reference" / ASSIGNMENT / "Warmup.html"):
        text = path.read_text()
        assert "HIDDEN TESTS" not in text and hidden_line not in text, path


OTTER_STUDENTS = ("reference", "wrong_answers", "hidden_only_mistakes")  # honest work: every route agrees


def test_otter_gives_the_same_scores_on_honest_work(two_assignments) -> None:
    """Otter's archive, written by hwkit build from the test cells (visible tests, then the whole cell), scores
    honest and mistaken work as hwkit and plain nbgrader do (hidden-only mistakes included)."""
    from concurrent.futures import ThreadPoolExecutor

    from hwkit.otter import archive_name, otter_grade, write_otter_artifacts

    course = Course.at(two_assignments["root"], ASSIGNMENT)
    write_otter_artifacts(course)
    archive = course.dist / archive_name(course, "Warmup.ipynb")

    def run(student: str):
        return otter_grade(archive, course.submitted / student / ASSIGNMENT / "Warmup.ipynb", course.env(),
                           timeout=300, cell_timeout=CELL_TIMEOUT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(OTTER_STUDENTS, pool.map(run, OTTER_STUDENTS)))
    for student, result in results.items():
        assert result.problem is None, (student, result.problem)
        assert result.scores == CORPUS[student].expected("plain") == CORPUS[student].expected("hwkit"), student
