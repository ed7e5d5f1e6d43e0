"""Homework 1's hidden tests under plain `nbgrader autograde`: the instructor notebooks' hidden blocks, in the kernel.

One `nbgrader autograde` run, as an instructor (or formgrader's Autograde button) would do it, on a scratch course
holding Planar_MLP alone: the instructor's solution gets full marks, and a submission carrying three wrong answers
that pass every public case (the public case's labels typed in, and two answers that recognise the notebook's own
flower data) loses exactly those three questions. Positive control, in the same kernel run: each of those test
cells printed that its public check passed before its hidden block failed, so the points were taken by the hidden
block alone (the release's test cells, which are the public check, would have given them).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from hwkit.assignment import load as load_assignment
from hwkit.course import Course, copy_course_files
from hwkit.demo import filled_release
from mutants_planar import BY_NAME, NOTEBOOK, mutant_edit

REPO = Path(__file__).resolve().parents[1]
MEMORISERS = [BY_NAME[name] for name in ("ls_hardcoded_visible", "pred_flower_memorised", "tp_flower_memorised")]
CELL_TIMEOUT = 120  # generous: other tests may load the machine


def _autograde(root: Path, assignment: str) -> dict[str, dict[str, float | None]]:
    """Plain `nbgrader generate_assignment` + `autograde` in `root`: student -> question -> points."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader shells out to alembic
    env = dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]), PYTHONWARNINGS="ignore")
    for command in (["generate_assignment", assignment, "--force"],
                    ["autograde", assignment, "--force", f"--Execute.timeout={CELL_TIMEOUT}"]):
        done = subprocess.run([os.path.join(bin_dir, "nbgrader"), *command], cwd=root, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {student: {grade.name: None if grade.needs_manual_grade else float(grade.score or 0)
                          for grade in gradebook.find_submission_notebook(Path(NOTEBOOK).stem, assignment,
                                                                          student).grades}
                for student in ("solution", "memoriser")}


@pytest.mark.slow
def test_plain_nbgrader_catches_answers_that_pass_every_public_case(tmp_path: Path) -> None:
    course = Course.at(REPO)
    root = tmp_path / "course"
    copy_course_files(REPO, root, ("nbgrader_config.py", "grader_tests"))
    shutil.copytree(course.source, root / "source" / course.assignment,
                    ignore=lambda folder, names: [n for n in names if n == "__pycache__" or
                                                  (n.endswith(".ipynb") and n != NOTEBOOK)])
    submissions = {"solution": filled_release(course, NOTEBOOK),
                   "memoriser": filled_release(course, NOTEBOOK, mutant_edit(MEMORISERS))}
    for student, nb in submissions.items():
        folder = root / "submitted" / student / course.assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
    release_text = "\n".join(c.source for c in nbformat.read(course.release / NOTEBOOK, as_version=4).cells)
    assert "check_hidden" not in release_text  # what students see: the public checks only

    started = time.monotonic()
    scores = _autograde(root, course.assignment)
    print(f"\nplain nbgrader generate_assignment + autograde, 2 Planar_MLP submissions: "
          f"{time.monotonic() - started:.0f} s")

    questions = load_assignment(course).notebook(NOTEBOOK).auto
    assert {q.id: scores["solution"][q.id] for q in questions} == {q.id: q.points for q in questions}
    lost = {q.id for q in questions if scores["memoriser"][q.id] != q.points}
    assert lost == {m.question for m in MEMORISERS}
    assert all(scores["memoriser"][q] == 0 for q in lost)

    graded = nbformat.read(root / "autograded" / "memoriser" / course.assignment / NOTEBOOK, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
    for mutant in MEMORISERS:
        outputs = cells[mutant.question].outputs
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert f"{mutant.question}: " in printed and "public case(s) passed." in printed, (mutant.name, printed)
        errors = [o for o in outputs if o.output_type == "error"]
        assert errors and errors[0].ename == "AssertionError" and "hidden case" in errors[0].evalue, mutant.name
