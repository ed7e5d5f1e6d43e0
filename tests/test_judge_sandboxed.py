"""The judge's deadline and re-run in the real sandbox (issue 24, items 1 and 4): small notebooks that
behave only when the judge re-runs them (trivial to tell: the trusted checks are loaded), run by the
trusted executor, then judged by a real observer forked in the worker's sandbox, with short limits."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import unless_available
from hwkit import judge
from hwkit.course import Course
from hwkit.judge import Reference, judge_in_sandbox, judged_cells
from hwkit.sandbox import SandboxedExecute
from hwkit.settings import GradingSettings
from hwkit.walls import available, prepare_grader_mount

pytestmark = [pytest.mark.slow,  # real sandboxed kernels
              unless_available(available())]

REPO = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 3
DETECT = "import os, signal, subprocess, sys, time\nRERUN = '_hwkit_trusted_checks' in sys.modules\n" \
         "print('judge' if RERUN else 'kernel')"
ANSWER = "def layer_sizes(X, Y):\n    return (X.shape[0], 4, Y.shape[0])"
MARKER = "hwkit-judge-test-leftover"
QUESTIONS = [("q4_layer_sizes", 1.0), ("q4_initialize_parameters", 2.0)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    grader = prepare_grader_mount(Course.at(REPO).source, tmp_path_factory.mktemp("grader"))
    executor = SandboxedExecute(grader_mount=str(grader), timeout=CELL_TIMEOUT,
                                grading=GradingSettings(notebook_timeout=6))
    server = executor._worker_server()
    if not server.alive():
        server.start()
    yield executor, server, Reference(REPO / "source" / "hw1", REPO / "grader_tests")
    server.close()


def run_and_judge(setup, tmp_path: Path, sources: list[str], notebook_timeout: float, seen: set | None = None):
    """The notebook run by the trusted executor, then judged; (verdicts, cell notes, judge's seconds, what
    the kernel printed). `seen` gains the leftover processes seen while the judge ran."""
    executor, server, reference = setup
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    executor.preprocess(nb, {"metadata": {"path": str(folder)}, "unique_key": "judged"})
    report = SandboxedExecute.runs.pop("judged")
    started, done = time.monotonic(), threading.Event()
    watcher = threading.Thread(target=watch, args=(seen if seen is not None else set(), done))
    watcher.start()
    try:
        verdicts, ran = judge_in_sandbox(server, reference, folder, judged_cells(nb, nb, report), QUESTIONS,
                                         CELL_TIMEOUT, notebook_timeout=notebook_timeout, run_seconds=report.seconds)
    finally:
        done.set()
        watcher.join()
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    return verdicts, ran.errors, time.monotonic() - started, printed


def watch(seen: set, done: threading.Event) -> None:
    while not done.wait(0.2):
        seen.update(leftovers())


def leftovers() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def test_a_notebook_slow_only_in_the_rerun_is_cut_at_the_notebook_limit(setup, tmp_path: Path) -> None:
    """6 cells sleep 2.5 s each (under the 3 s cell limit) only in the judge's re-run, and a cell
    leaves a process behind. Positive control: with a huge notebook limit the re-run takes the 15 s
    and the answer keeps its point. With 6 s, the judge is done within 6 + 3 s (+ start-up), the
    questions score 0 saying why, and nothing of the notebook is left running."""
    sleepy = ["if RERUN:\n    time.sleep(2.5)"] * 6
    leave = (f"if RERUN:\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {MARKER}'],"
             " start_new_session=True)")
    sources = [DETECT, ANSWER, leave, *sleepy]
    verdicts, notes, seconds, printed = run_and_judge(setup, tmp_path, sources, notebook_timeout=10_000)
    assert printed == "kernel\n"
    assert seconds >= 6 * 2.5 and verdicts[0].points == 1, (seconds, verdicts)
    seen: set[str] = set()
    verdicts, notes, seconds, _ = run_and_judge(setup, tmp_path, sources, notebook_timeout=6, seen=seen)
    assert seen, "the re-run left a process running while the judge waited"
    assert seconds < 6 + CELL_TIMEOUT + 5, seconds
    assert [v.points for v in verdicts] == [0, 0], verdicts
    for verdict in verdicts:
        assert "notebook's limit of 6 s (--notebook-timeout) plus 3 s" in verdict.message, verdict
        assert not verdict.message.startswith("not graded")
    assert leftovers() == []


def test_cells_that_exit_or_hang_only_in_the_rerun_are_left_out_and_the_rest_graded(setup, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """A cell that ends the checks' process (`os._exit(0)` only in the re-run) and one that ignores the
    time limit there: NOT GRADED before; now each is left out with its reason and the answers score
    what they earn (a blank notebook: 0, graded)."""
    monkeypatch.setattr(judge, "REPORT_GRACE", 1.0)
    exits = "if RERUN:\n    os._exit(0)"
    hangs = "if RERUN:\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(100)"
    verdicts, notes, seconds, printed = run_and_judge(setup, tmp_path, [DETECT, exits, hangs, ANSWER], 60)
    assert printed == "kernel\n"
    assert [v.points for v in verdicts] == [1, 0], verdicts
    assert "`initialize_parameters` is not defined" in verdicts[1].message
    assert len(notes) == 2, notes
    assert notes[0].startswith("cell #2: ") and "the process running the checks ended in this cell" in notes[0], notes
    assert notes[1].startswith("cell #3: ") and "did not stop when interrupted" in notes[1], notes
    assert seconds < CELL_TIMEOUT + 1 + 15
    blank, notes, _, _ = run_and_judge(setup, tmp_path, [DETECT, exits], 60)
    assert [v.points for v in blank] == [0, 0] and not any(v.message.startswith("not graded") for v in blank), blank
    assert "ended in this cell" in notes[0]
