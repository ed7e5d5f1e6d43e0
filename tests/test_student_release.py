"""The student release without otter-grader: "Restart & Run All" runs every cell (hwkit/student_env.py).

A kernel where `import otter` fails (a sitecustomize on its PYTHONPATH sets sys.modules["otter"] = None,
as if otter-grader were not installed) runs a filled-in release notebook top to bottom; the same kernel
stops at the Otter cell of the unguarded source (the positive control: the shim does block otter).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from hwkit.course import Course
from hwkit.student_env import GUARD_END, StudentSetup, grading_requirements, guard_optional_import

NOTEBOOK = "Problem1_Softmax_CrossEntropy.ipynb"
NO_OTTER = 'import sys\nsys.modules["otter"] = None  # `import otter` raises ModuleNotFoundError, as without it\n'


def test_guard_wraps_only_unguarded_otter_imports() -> None:
    cell = '# the self-check\nimport otter\ntext = """a\nb"""\ngrader = otter.Notebook(tests_dir="tests/x")'
    guarded = guard_optional_import(cell)
    assert guarded.startswith("# the self-check\ntry:\n    import otter\n") and GUARD_END in guarded
    assert '\n    text = """a\nb"""\n' in guarded, "a multi-line string keeps its text"
    assert guard_optional_import(guarded) == guarded, "guarded once"
    for other in ("import numpy as np", "%matplotlib inline", "try:\n    import otter\nexcept ImportError:\n    pass"):
        assert guard_optional_import(other) == other


def test_guarded_cell_runs_without_otter_and_reraises_other_missing_modules() -> None:
    guarded = guard_optional_import("import otter\ngrader = otter.Notebook()")
    import sys

    saved = sys.modules.get("otter")
    sys.modules["otter"] = None
    try:
        exec(compile(guarded, "cell", "exec"), {})  # prints the note, raises nothing
    finally:
        sys.modules.pop("otter")
        if saved is not None:
            sys.modules["otter"] = saved
    with pytest.raises(ModuleNotFoundError, match="no_such_module_xyz"):  # otter there, something else missing
        exec(compile(guard_optional_import("import otter\nimport no_such_module_xyz"), "cell", "exec"), {})


def test_student_setup_adds_the_sentence_once() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lab"),
                                         nbformat.v4.new_code_cell("import otter")])
    nb, _ = StudentSetup().preprocess(nb, {})
    nb, _ = StudentSetup().preprocess(nb, {})
    assert nb.cells[0].source.count("pip install -r requirements.txt") == 1
    assert "otter-grader" in nb.cells[0].source and GUARD_END in nb.cells[1].source
    code_first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    code_first, _ = StudentSetup().preprocess(code_first, {})
    assert code_first.cells[0].cell_type == "markdown" and "otter" not in code_first.cells[0].source


def test_grading_container_gets_torchs_cpu_build() -> None:
    assert grading_requirements(["torch==2.13.0", "numpy>=1.26"]) == [
        "--extra-index-url https://download.pytorch.org/whl/cpu", "torch==2.13.0+cpu", "numpy>=1.26"]
    assert grading_requirements(["numpy>=1.26"]) == ["numpy>=1.26"]


def _run(nb: nbformat.NotebookNode, folder: Path, shim: Path, monkeypatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", str(shim))  # the kernel's: sitecustomize first, nothing of the course
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.slow
def test_release_runs_top_to_bottom_without_otter(tmp_path: Path, monkeypatch) -> None:
    from nbclient.exceptions import CellExecutionError

    from hwkit.demo import filled_release

    course = Course.at(REPO, "hw1")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_OTTER)
    folder = tmp_path / "student"
    shutil.copytree(course.release, folder, ignore=shutil.ignore_patterns("__pycache__"))

    nb = _run(filled_release(course, NOTEBOOK), folder, shim, monkeypatch)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    otter_cell = next(c for c in code if "otter_ignore" in c.metadata.get("tags", []))
    assert "Otter's self-check is off" in "".join(o.get("text", "") for o in otter_cell.outputs)

    unguarded = filled_release(course, NOTEBOOK)  # positive control: the cell as the source writes it
    source = {c.get("id"): c.source for c in nbformat.read(course.source / NOTEBOOK, as_version=4).cells}
    for cell in unguarded.cells:
        if "otter_ignore" in cell.metadata.get("tags", []):
            cell.source = source[cell.get("id")]
            assert GUARD_END not in cell.source
    with pytest.raises(CellExecutionError, match="ModuleNotFoundError"):
        _run(unguarded, folder, shim, monkeypatch)
