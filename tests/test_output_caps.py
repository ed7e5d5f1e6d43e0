"""Output caps of the grading executor (hwkit/sandbox.py, `SandboxedExecute`), with real sandboxed
kernels: every way a cell can put data into the graded notebook counts against a cap per cell and
a cap per notebook, a cell is stopped at its cap, nothing past a cap is stored (outputs, display
updates of earlier outputs, widget state and buffers, the error of the execute reply) and the
cell's output says what was cut.

Small caps keep it fast: 20 kB per cell in the flood notebook, 200 kB per notebook in the second.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from conftest import unless_available
from hwkit.course import Course
from hwkit.sandbox import SandboxedExecute
from hwkit.settings import CELL_TIMEOUT, GradingSettings
from hwkit.walls import Limits, available, prepare_grader_mount

pytestmark = [pytest.mark.slow,  # real sandboxed kernels
              unless_available(available())]

REPO = Path(__file__).resolve().parents[1]
CELL_CAP, MARGIN = 20_000, 2_000  # the margin: the error output that says what was cut
DISPLAY = "from IPython.display import clear_output, display, update_display\n"
COMM = ("from ipykernel.comm import Comm\n"
        "c = Comm(target_name='jupyter.widget', data={'state': {'_model_module': 'm', '_model_name': 'M'}, "
        "'buffer_paths': []})\n")
FLOODS = {  # each would store far more than CELL_CAP without the caps
    "print": "for i in range(5000):\n    print('p' * 100, i)",
    "display": DISPLAY + "for i in range(5000):\n    display({'text/plain': 'd' * 100}, raw=True)",
    "display updates": DISPLAY + "h = display('start', display_id=True)\n"
                                 "for i in range(5000):\n    h.update('u' * 100 + str(i))",
    "one big update": "h.update('U' * 1_000_000)",  # h: the handle of the cell above
    "update of many outputs": DISPLAY + "update_display('A' * 15_000, display_id='same')",  # 10 outputs below
    "widget state": COMM + "for i in range(5000):\n"
                           "    c.send({'method': 'update', 'state': {f'k{i}': 'w' * 100}, 'buffer_paths': []})",
    "widget buffers": COMM + "c.send({'method': 'update', 'state': {}, 'buffer_paths': [['b']]}, "
                             "buffers=[bytes(10**6)])",
    "widget open": "from ipykernel.comm import Comm\nComm(target_name='jupyter.widget', data={'state': {"
                   "'_model_module': 'm', '_model_name': 'M', 'big': 'B' * 10**6}, 'buffer_paths': []})",
    "error": "raise ValueError('e' * 10**6)",
    "silent error": "get_ipython().showtraceback = lambda *a, **k: None\nraise ValueError('s' * 10**6)",
    "execute result": "'r' * 10**6",
    "clear_output": DISPLAY + "for i in range(5000):\n    print('c' * 100)\n    clear_output(wait=True)",
}
SHARED_DISPLAY = DISPLAY + "for _ in range(10):\n    display('a', display_id='same')"


@pytest.fixture(scope="module")
def grader(tmp_path_factory) -> Path:
    course = Course.at(REPO)
    return prepare_grader_mount(course.source, tmp_path_factory.mktemp("grader"))


def execute(grader: Path, folder: Path, sources: list[str], **caps) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    folder.mkdir()
    executor = SandboxedExecute(grader_mount=str(grader), timeout=CELL_TIMEOUT,
                                grading=GradingSettings(limits=Limits(**caps)))
    executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    return nb


def size(node) -> int:
    return len(json.dumps(node, ensure_ascii=False))


def printed(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def errors(cell) -> str:
    return " ".join(f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error")


def test_every_output_path_is_capped_per_cell(grader: Path, tmp_path: Path) -> None:
    sources = ["print('before')", SHARED_DISPLAY, *FLOODS.values(), "print('after')"]
    nb = execute(grader, tmp_path / "floods", sources, output_bytes=CELL_CAP, notebook_output_bytes=10**7)
    shared, floods, after = nb.cells[1], nb.cells[2:-1], nb.cells[-1]
    assert [printed(nb.cells[0]), printed(after)] == ["before\n", "after\n"], "a flooding cell costs only itself"
    assert len(shared.outputs) == 10 and errors(shared) == "" and size(shared.outputs) < CELL_CAP, \
        "ten outputs with one display id, none overwritten by the update of a later cell"
    for name, cell in zip(FLOODS, floods):
        assert f"OutputLimitExceeded: the cell sent more than {CELL_CAP} bytes" in errors(cell), (name, errors(cell))
        assert "output was cut" in errors(cell)
        assert size(cell.outputs) < CELL_CAP + MARGIN, (name, size(cell.outputs))
    assert size(nb.metadata.get("widgets", {})) < CELL_CAP + MARGIN, "widget state and buffers are capped"
    assert size(nb) < len(nb.cells) * (CELL_CAP + MARGIN)


def test_the_notebook_is_capped_as_a_whole(grader: Path, tmp_path: Path) -> None:
    notebook_cap = 200_000
    nb = execute(grader, tmp_path / "many", ["print('n' * 30_000)"] * 10, output_bytes=50_000,
                 notebook_output_bytes=notebook_cap)
    assert [len(printed(c)) for c in nb.cells[:6]] == [30_001] * 6, "each cell is under the cell cap"
    assert f"OutputLimitExceeded: the notebook sent more than {notebook_cap} bytes" in errors(nb.cells[6])
    assert [o.output_type for o in nb.cells[6].outputs] == ["error"], "nothing past the cap is stored"
    for cell in nb.cells[7:]:
        assert errors(cell) == f"NotRun: not run: the notebook's output passed its limit of {notebook_cap} bytes " \
                               "in an earlier cell"
    assert size(nb) < notebook_cap + 10 * MARGIN
