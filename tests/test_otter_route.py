"""The Otter route per notebook: each release notebook's `grader` checks its own questions and
leaves no log beside the notebook; `hwkit otter-grade` grades a folder and says why points were
lost; each dist/ archive grades like Gradescope runs it (unpacked in a fresh /autograder, its entry
point against a submission, results.json read)."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from conftest import copy_course
from hwkit.assignment import load as load_assignment
from hwkit.cli import main
from hwkit.course import Course
from hwkit.demo import filled_release
from hwkit.execute import execute_many
from hwkit.otter import archive_name

PROBLEM1 = "Problem1_Softmax_CrossEntropy.ipynb"


def _wrong_softmax(grade_id: str, text: str) -> str:
    """A mistake the checks explain: softmax normalised over the wrong axis."""
    return text.replace("axis=0", "axis=1") if grade_id == "softmax" else text


def _student_env(course: Course) -> dict[str, str]:
    """A student's machine: nothing of grader_tests/ or source/ importable."""
    return {k: v for k, v in course.env().items() if k != "PYTHONPATH"}


def _self_check_notebook(course: Course, notebook: str) -> nbformat.NotebookNode:
    """The filled release notebook without its test cells and long demos, then Otter's self-checks."""
    nb = filled_release(course, notebook)
    source_tags = {c.get("id"): c.metadata.get("tags", []) for c in nbformat.read(course.source / notebook, 4).cells}
    first = load_assignment(course).notebook(notebook).auto[0].id

    def kept(cell) -> bool:
        meta = cell.metadata.get("nbgrader", {})
        test_cell = meta.get("grade") and not meta.get("solution") and cell.cell_type == "code"
        return not test_cell and "demo" not in source_tags.get(cell.get("id"), [])

    nb.cells = [cell for cell in nb.cells if kept(cell)]
    nb.cells.append(nbformat.v4.new_code_cell(
        "_results = grader.check_all()\n"
        "print('QUESTIONS', sorted(_results.results), 'SCORE', _results.total, 'OF', _results.possible)\n"
        f"print(grader.check({first!r}))"))
    return nb


def test_each_notebooks_check_all_runs_its_own_questions_and_writes_no_log(built_course: Course,
                                                                            tmp_path: Path) -> None:
    folder = tmp_path / "student"
    shutil.copytree(built_course.release, folder)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    names = built_course.notebook_names()
    paths = []
    for name in names:
        nbformat.write(_self_check_notebook(built_course, name), folder / name)
        paths.append(folder / name)
    executed = execute_many(paths, _student_env(built_course), jobs=2, timeout=120)
    for name, nb in zip(names, executed):
        text = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []) if o.output_type == "stream")
        errors = [f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, (name, errors)
        own = sorted(q.id for q in load_assignment(built_course).notebook(name).auto)
        match = re.search(r"QUESTIONS (\[.*?\]) SCORE (\S+) OF (\S+)", text)
        assert match, (name, text)
        assert ast.literal_eval(match.group(1)) == own, name  # only this notebook's questions, every one of them
        assert float(match.group(2)) == float(match.group(3)) > 0, (name, text)  # the solutions pass them all
        assert f"{own[0]} passed" in text or "All test cases passed" in text, (name, text)
    after = sorted(p.relative_to(folder) for p in folder.rglob("*") if "__pycache__" not in p.parts)
    assert after == before, "the self-checks left files in the student's folder (.OTTER_LOG?)"


def test_otter_grade_grades_a_folder_and_says_why(built_course: Course, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "class"
    (folder / "bob").mkdir(parents=True)
    nbformat.write(filled_release(built_course, PROBLEM1, _wrong_softmax), folder / f"alice_{PROBLEM1}")
    shutil.copy(built_course.release / PROBLEM1, folder / "bob" / PROBLEM1)
    (folder / "bob" / "scratch.ipynb").write_text("{}")
    code = main(["--course", str(built_course.root), "otter-grade", str(folder), "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 1, out  # scratch.ipynb was not graded
    alice = out[out.index(f"alice_{PROBLEM1}: 7 / 8"):]
    assert re.search(r"q1_softmax +0 / 1 +public case 1: .*normalise over axis 0", alice), out
    assert re.search(r"q1_cross_entropy +1 / 1\n", alice), out
    assert f"bob/{PROBLEM1}: 0 / 8" in out and "`cross_entropy` raised NotImplementedError" in out
    assert "bob/scratch.ipynb: NOT GRADED: not a notebook of hw1" in out
    assert "2 notebook(s) graded, 1 not graded" in out


@pytest.mark.parametrize("path, message", [
    ("missing.ipynb", "missing.ipynb does not exist: give a notebook or a folder of notebooks."),
    ("empty", "holds no .ipynb file"),
    ("Planar_MLP.ipynb", "hw1-autograder.zip is missing: run hwkit build first."),
])
def test_otter_grade_user_errors_say_what_to_do(tmp_path: Path, capsys, path: str, message: str) -> None:
    course = copy_course(tmp_path / "course")  # not built: no dist/
    (tmp_path / "empty").mkdir()
    shutil.copy(course.release / "Planar_MLP.ipynb", tmp_path / "Planar_MLP.ipynb")
    code = main(["--course", str(course.root), "otter-grade", str(tmp_path / path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def _gradescope_run(archive: Path, submission: Path, root: Path) -> dict:
    """What Gradescope does with an autograder archive: unpack it in /autograder/source, put the
    submission in /autograder/submission, run the archive's entry point, read results/results.json.
    Here /autograder is a fresh folder and the archive's environment is this venv (no PYTHONPATH)."""
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
    shutil.copy(submission, root / "submission" / submission.name)
    (root / "submission_metadata.json").write_text("{}")
    entry = (root / "source" / "run_autograder").read_text()
    assert "python /autograder/source/run_otter.py" in entry, entry  # Gradescope's entry point runs this
    script = (root / "source" / "run_otter.py").read_text().replace('"/autograder"', repr(str(root)))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(root), "MPLBACKEND": "Agg",
           "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", script], cwd=root / "source", env=env, capture_output=True,
                          text=True, timeout=600)
    results = root / "results" / "results.json"
    assert results.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(results.read_text())


def test_archive_grades_in_a_gradescope_layout(built_course: Course, tmp_path: Path) -> None:
    archive = built_course.dist / archive_name(built_course, PROBLEM1)
    correct = tmp_path / "correct" / PROBLEM1
    correct.parent.mkdir()
    nbformat.write(filled_release(built_course, PROBLEM1), correct)
    submissions = {"correct": correct, "untouched": built_course.release / PROBLEM1}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(submissions, pool.map(
            lambda kind: _gradescope_run(archive, submissions[kind], tmp_path / kind / "autograder"), submissions)))
    points = {q.id: q.points for q in load_assignment(built_course).notebook(PROBLEM1).auto}
    for kind, data in results.items():
        cases = [t for t in data["tests"] if t.get("max_score") is not None]
        graded = {t["name"].split(" - ")[0] for t in cases}
        assert graded == set(points), (kind, data)
        assert sum(t["max_score"] for t in cases) == sum(points.values()) == 8
    assert sum(t.get("score", 0) for t in results["correct"]["tests"]) == 8, results["correct"]
    assert results["correct"].get("score", 8) == 8
    assert sum(t.get("score", 0) or 0 for t in results["untouched"]["tests"]) == 0, results["untouched"]
    assert results["untouched"].get("score", 0) == 0
    failed = [t["output"] for t in results["untouched"]["tests"] if t.get("max_score") and t.get("output")]
    assert any("raised NotImplementedError" in output for output in failed)
    assert not (tmp_path / "correct" / "autograder" / "submission" / ".OTTER_LOG").exists()
