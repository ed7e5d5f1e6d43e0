"""The Otter-Grader route: test files and autograder archives built from the same checks
as the nbgrader test cells, and a grading call with the timeout `otter run` lacks."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat

from .course import Course
from .notebooks import grade_cells

HEADER = '''"""Otter test for {name} ({points:g} point(s)), written by `hwkit build` from {notebook}.

Do not edit: change the checks (hw1_checks{hidden_note}) and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "{name}"
points = {points:g}
all_or_nothing = True  # like the nbgrader test cell: every case passes or the question scores 0


@test_case(name="public cases", hidden=False)
def public_cases(env):
    from hw1_checks import check

    check("{name}", env)
'''
HIDDEN = '''

@test_case(name="hidden cases", hidden=True)
def hidden_cases(env):
    from hw1_hidden import check_hidden

    check_hidden("{name}", env)
'''


def otter_test_source(name: str, points: float, notebook: str, hidden: bool) -> str:
    note = " and the instructor-only references" if hidden else ""
    text = HEADER.format(name=name, points=points, notebook=notebook, hidden_note=note)
    return text + HIDDEN.format(name=name) if hidden else text


def auto_questions(course: Course, notebook: str) -> list[tuple[str, float]]:
    nb = nbformat.read(course.source / notebook, as_version=4)
    return [(cell.grade_id, cell.points) for cell in grade_cells(nb) if cell.auto]


def archive_name(course: Course, notebook: str) -> str:
    """dist/hw1-autograder.zip grades Planar_MLP; each other notebook has hw1-<stem>-autograder.zip."""
    stem = Path(notebook).stem
    return f"{course.assignment}-autograder.zip" if stem == "Planar_MLP" else f"{course.assignment}-{stem}-autograder.zip"


def requirements() -> list[str]:
    """What a grading container installs: this package's own runtime dependencies (same pins)."""
    return [r for r in metadata.requires("hwkit") or [] if "extra ==" not in r]


def write_otter_artifacts(course: Course) -> list[str]:
    """Write grader_tests/<assignment>/*.py (public + hidden), release/<assignment>/tests/*.py
    (public only) and one autograder archive per notebook in dist/."""
    full_dir = course.grader_tests / course.assignment
    public_dir = course.release / "tests"
    for folder in (full_dir, public_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    course.dist.mkdir(exist_ok=True)
    written = []
    for notebook in course.notebook_names():
        questions = auto_questions(course, notebook)
        for name, points in questions:
            where = f"source/{course.assignment}/{notebook}"
            (full_dir / f"{name}.py").write_text(otter_test_source(name, points, where, hidden=True))
            (public_dir / f"{name}.py").write_text(otter_test_source(name, points, where, hidden=False))
        archive = course.dist / archive_name(course, notebook)
        _write_archive(course, [q for q, _ in questions], archive)
        written.append(f"Otter archive {archive.relative_to(course.root)} ({len(questions)} questions)")
    return written


def _write_archive(course: Course, questions: list[str], archive: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="hwkit-otter-") as tmp:
        work = Path(tmp)
        (work / "tests").mkdir()
        for name in questions:
            shutil.copy(course.grader_tests / course.assignment / f"{name}.py", work / "tests")
        (work / "requirements.txt").write_text("\n".join(requirements()) + "\n")
        support = [p for p in course.source.iterdir() if p.suffix != ".ipynb" and p.name != "__pycache__"]
        support.append(course.grader_tests / "hw1_hidden")
        for path in support:
            copy = shutil.copytree if path.is_dir() else shutil.copy
            copy(path, work / path.name, **({"ignore": shutil.ignore_patterns("__pycache__")} if path.is_dir() else {}))
        files = sorted(p.name for p in work.iterdir() if p.name not in ("tests", "requirements.txt"))
        (work / "otter_config.json").write_text(json.dumps({"lang": "python"}))
        done = subprocess.run([str(Path(sys.executable).parent / "otter"), "generate", "-t", "tests",
                               "-r", "requirements.txt", "--no-environment", "-o", str(archive), *files],
                              cwd=work, env=course.env(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"otter generate failed:\n{done.stdout}\n{done.stderr}")


@dataclass
class OtterResult:
    """Points per question from one `otter run`, or the reason it gave none."""

    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def total(self) -> float:
        return sum(self.scores.values())


# `otter run` has no per-cell time limit; this first cell gives every later cell one, inside the
# kernel, so an endless loop costs what it costs under nbgrader's per-cell timeout.
CELL_TIMER = """\
import signal as _hwkit_signal
def _hwkit_cell_timeout(signum, frame):
    raise TimeoutError("the cell ran longer than {seconds} s (an endless loop?)")
_hwkit_signal.signal(_hwkit_signal.SIGALRM, _hwkit_cell_timeout)
def _hwkit_arm(info):  # Otter's own final cell (it runs the tests) is not a student cell
    if "otter.execute" not in (info.raw_cell or ""):
        _hwkit_signal.setitimer(_hwkit_signal.ITIMER_REAL, {seconds})
get_ipython().events.register("pre_run_cell", _hwkit_arm)
get_ipython().events.register("post_run_cell", lambda result: _hwkit_signal.setitimer(_hwkit_signal.ITIMER_REAL, 0))
"""


def _with_cell_timer(notebook: Path, target: Path, seconds: float) -> None:
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # not a notebook: let otter report it as it would
        shutil.copy(notebook, target)
        return
    timer = nbformat.v4.new_code_cell(CELL_TIMER.format(seconds=seconds))
    timer.metadata["tags"] = ["hwkit_cell_timer"]
    nb.cells.insert(0, timer)
    nbformat.write(nb, target)


def otter_grade(archive: Path, notebook: Path, env: dict[str, str], timeout: float = 300,
                cell_timeout: float | None = 20) -> OtterResult:
    """Grade one notebook with `otter run` (no container) under a wall-clock limit for the whole
    run and, like nbgrader, a per-cell limit (`cell_timeout` seconds; None for none)."""
    with tempfile.TemporaryDirectory(prefix="hwkit-otter-run-") as tmp:
        submission = Path(tmp) / notebook.name
        if cell_timeout:  # otter only ever sees a copy, never the original file
            _with_cell_timer(notebook, submission, cell_timeout)
        else:
            shutil.copy(notebook, submission)
        cmd = [str(Path(sys.executable).parent / "otter"), "run", "-a", str(archive.resolve()), "-o", tmp,
               "--no-logo", str(submission)]
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return OtterResult(problem=f"grading stopped after {timeout:g} s (an endless loop?)")
        results_file = Path(tmp) / "results.json"
        if not results_file.exists():
            return OtterResult(problem=f"otter run gave no results: {output.strip().splitlines()[-1:] or ''}")
        data = json.loads(results_file.read_text())
    result = OtterResult()
    for test in data.get("tests", []):
        if test.get("max_score") is None:  # Otter's "Public Tests" summary entry
            continue
        question = test["name"].split(" - ")[0]
        result.scores[question] = result.scores.get(question, 0.0) + float(test.get("score", 0) or 0)
        result.possible[question] = result.possible.get(question, 0.0) + float(test.get("max_score", 0) or 0)
        if test.get("output") and float(test.get("score", 0) or 0) < float(test.get("max_score", 0) or 0):
            result.messages[question] = test["output"]
    return result
