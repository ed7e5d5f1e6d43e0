"""The wall-clock limit per notebook (issue 13, item 3): cells that each stay under the cell limit
cannot add up without bound. With a real sandboxed kernel and short limits: 2 s per cell, 5 s
per notebook, cells sleeping 1.5 s each."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from conftest import unless_available
from hwkit.course import Course
from hwkit.judge import judged_cells
from hwkit.sandbox import SandboxedExecute
from hwkit.settings import GradingSettings
from hwkit.walls import available, prepare_grader_mount

pytestmark = [pytest.mark.slow,  # real sandboxed kernels
              unless_available(available())]

REPO = Path(__file__).resolve().parents[1]


def test_sleeping_cells_stop_at_the_notebook_limit(tmp_path: Path) -> None:
    grader = prepare_grader_mount(Course.at(REPO).source, tmp_path / "grader")
    sources = ["import time\nprint('start')", *["time.sleep(1.5)\nprint('slept')"] * 8, "print('end')"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    (tmp_path / "work").mkdir()
    executor = SandboxedExecute(grader_mount=str(grader), timeout=2, grading=GradingSettings(notebook_timeout=5))
    server = executor._worker_server()  # started before the clock: the limit is the notebook's, not start-up's
    if not server.alive():
        server.start()
    started = time.monotonic()
    executor.preprocess(nb, {"metadata": {"path": str(tmp_path / "work")}, "unique_key": "sleepy"})
    assert time.monotonic() - started < 5 + 10, "the notebook ends near its limit (plus kernel start-up)"
    report = SandboxedExecute.runs.pop("sleepy")
    ran = [i for i, c in enumerate(nb.cells) if any(o.get("text") == "slept\n" for o in c.outputs)]
    assert 2 <= len(ran) <= 4, ran  # 5 s / 1.5 s: the fourth sleep is cut
    cut = nb.cells[ran[-1] + 1]
    assert [o.ename for o in cut.outputs if o.output_type == "error"][-1] in ("NotebookTimeout", "NotRun")
    assert report.stopped_at == ran[-1] + 1, report
    for cell in nb.cells[report.stopped_at + 1:]:
        assert [o.ename for o in cell.outputs if o.output_type == "error"] == ["NotRun"]
        assert "5 s" in cell.outputs[-1].evalue
    assert any("NotebookTimeout" in n and "5 s" in n for n in report.notes), report.notes
    # the judge runs the notebook's code again only up to where the run stopped
    assert len(judged_cells(nb, nb, report)) == report.stopped_at
