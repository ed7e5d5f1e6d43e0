"""The Otter-Grader route: test files and autograder archives built from the same checks
as the nbgrader test cells, and a grading call with the time limits `otter run` lacks.

Over 300 lines because the two halves of the Otter route, building its tests and archives and grading
with them (`otter run` with the limits it lacks), share the archive's layout."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from traitlets import Dict, Unicode
from traitlets.config import Configurable

from .assignment import Assignment, load as load_assignment
from .cell_judge import AutogradedCell, read_test_cells
from .course import Course
from .course_config import course_config
from .settings import CELL_TIMEOUT, NOTEBOOK_TIMEOUT  # the limits of one `otter run`, as `hwkit grade`'s
from .student_env import grading_requirements, python_version, runtime_requirements

HEADER = '''"""Otter test for {name} ({points:g} point(s)), written by `hwkit build` from {notebook}.

Do not edit: change the checks ({checks}{hidden_note}) and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "{name}"
points = {points:g}
all_or_nothing = True  # like the nbgrader test cell: every case passes or the question scores 0


@test_case(name="public cases", hidden=False)
def public_cases(env):
    from {checks} import check

    check("{name}", env)
'''
HIDDEN = '''

@test_case(name="hidden cases", hidden=True)
def hidden_cases(env):
    from {hidden} import check_hidden

    check_hidden("{name}", env)
'''


CELL_TEST = '''"""Otter test for {name} ({points:g} point(s)), written by hwkit build from its test cell in {notebook}.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "{name}"
points = {points:g}
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = {visible!r}
WHOLE = {whole!r}


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test {name}>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test {name}>", "exec"), dict(env))
'''


def cell_test_source(cell: AutogradedCell, notebook: str) -> str:
    """One question's Otter test from its nbgrader test cell: the visible tests, then the whole cell."""
    return CELL_TEST.format(name=cell.question, points=cell.points, notebook=notebook, visible=cell.visible_source,
                            whole=cell.source)


def otter_test_source(model: Assignment, name: str, points: float, notebook: str, hidden: bool) -> str:
    """One question's Otter test: its public cases (the checks package), and its hidden cases (the hidden package)."""
    note = " and the instructor-only references" if hidden else ""
    text = HEADER.format(name=name, points=points, notebook=notebook, hidden_note=note, checks=model.checks)
    return text + HIDDEN.format(name=name, hidden=model.hidden) if hidden else text


class OtterArchives(Configurable):
    main_notebook = Dict(value_trait=Unicode(), default_value={},
                         help="assignment -> the notebook whose archive is dist/<assignment>-autograder.zip (the "
                              "others: dist/<assignment>-<notebook>-autograder.zip)").tag(config=True)


def archive_name(course: Course, notebook: str) -> str:
    """dist/<assignment>-autograder.zip grades the assignment's main notebook (nbgrader_config.py's
    `c.OtterArchives.main_notebook`), dist/<assignment>-<notebook>-autograder.zip each other one."""
    main = OtterArchives(config=course_config(course)).main_notebook.get(course.assignment)
    stem = Path(notebook).stem
    return f"{course.assignment}-{'' if main and stem == Path(main).stem else stem + '-'}autograder.zip"


def requirements() -> list[str]:
    """What a grading container installs: this package's own runtime dependencies (same pins), PyTorch's
    CPU build from its CPU index."""
    return grading_requirements(runtime_requirements())


def public_tests_dir(notebook: str) -> str:
    """Where a release notebook's Otter init cell finds its own public tests, relative to the notebook:
    one folder per notebook, so its `grader.check_all()` runs its questions only."""
    return f"tests/{Path(notebook).stem}"


def write_otter_artifacts(course: Course) -> list[str]:
    """Write grader_tests/<assignment>/*.py (public + hidden) and one autograder archive per notebook in dist/;
    for an assignment with a checks package also release/<assignment>/tests/<notebook>/*.py (public only,
    for the notebooks' own Otter init cell); an ordinary assignment's tests are its test cells."""
    full_dir = course.grader_tests / course.assignment
    for folder in (full_dir, course.release / "tests"):
        shutil.rmtree(folder, ignore_errors=True)
    full_dir.mkdir(parents=True)
    course.dist.mkdir(exist_ok=True)
    written = []
    model = load_assignment(course)
    for notebook in model.notebook_names:
        questions = [(q.id, q.points) for q in model.notebook(notebook).auto]
        where = f"source/{course.assignment}/{notebook}"
        if model.checks:
            public_dir = course.release / public_tests_dir(notebook)
            public_dir.mkdir(parents=True)
            for name, points in questions:
                (full_dir / f"{name}.py").write_text(otter_test_source(model, name, points, where, hidden=True))
                (public_dir / f"{name}.py").write_text(otter_test_source(model, name, points, where, hidden=False))
        else:
            for cell in read_test_cells(nbformat.read(course.source / notebook, as_version=4)):
                (full_dir / f"{cell.question}.py").write_text(cell_test_source(cell, where))
        archive = course.dist / archive_name(course, notebook)
        _write_archive(course, [q for q, _ in questions], archive, model.hidden_folder)
        written.append(f"Otter archive {archive.relative_to(course.root)} ({len(questions)} questions)")
    return written


def _write_archive(course: Course, questions: list[str], archive: Path, hidden: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="hwkit-otter-") as tmp:
        work = Path(tmp)
        (work / "tests").mkdir()
        for name in questions:
            shutil.copy(course.grader_tests / course.assignment / f"{name}.py", work / "tests")
        (work / "requirements.txt").write_text("\n".join(requirements()) + "\n")
        support = [p for p in course.source.iterdir() if p.suffix != ".ipynb" and p.name != "__pycache__"]
        support += [hidden] if hidden else []
        for path in support:
            copy = shutil.copytree if path.is_dir() else shutil.copy
            copy(path, work / path.name, **({"ignore": shutil.ignore_patterns("__pycache__")} if path.is_dir() else {}))
        files = sorted(p.name for p in work.iterdir() if p.name not in ("tests", "requirements.txt"))
        (work / "otter_config.json").write_text(json.dumps({"lang": "python"}))
        done = subprocess.run([str(Path(sys.executable).parent / "otter"), "generate", "-t", "tests",
                               "-r", "requirements.txt", "--no-environment",
                               "--python-version", python_version(), "-o", str(archive), *files],
                              cwd=work, env=course.env(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"otter generate failed:\n{done.stdout}\n{done.stderr}")


# The line of Otter's output that says why a test case failed: the exception the check raised.
FAILURE_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Failure|Exit|Interrupt)): (.*)$", re.MULTILINE)
OUR_FAILURES = ("CheckFailure", "AssertionError")  # their text is the check's own diagnosis


def failure_reason(output: str) -> str:
    """Why a question lost its points, from Otter's output for it: the first failing case's message."""
    match = FAILURE_LINE.search(output)
    if not match:
        return next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
    kind, text = match.groups()
    return text.strip() if kind.rsplit(".", 1)[-1] in OUR_FAILURES else f"{kind}: {text.strip()}"


@dataclass
class OtterResult:
    """Points per question from one `otter run` (with Otter's output for each question that lost points),
    or the reason it gave none."""

    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.possible.values())

    def reasons(self) -> dict[str, str]:
        """Why each question lost points, without the question's name the checks' messages start with."""
        return {question: failure_reason(output).removeprefix(f"{question}, ")
                for question, output in self.messages.items()}

    @classmethod
    def from_results_json(cls, data: dict) -> OtterResult:
        """Otter's results.json (Gradescope's format): one entry per test case, named "<question> - <case>"."""
        result = cls()
        for test in data.get("tests", []):
            if test.get("max_score") is None:  # Otter's "Public Tests" summary entry
                continue
            question = test["name"].split(" - ")[0]
            score, possible = float(test.get("score", 0) or 0), float(test.get("max_score", 0) or 0)
            result.scores[question] = result.scores.get(question, 0.0) + score
            result.possible[question] = result.possible.get(question, 0.0) + possible
            if test.get("output") and score < possible:
                result.messages[question] = test["output"]
        return result


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


def otter_grade(archive: Path, notebook: Path, env: dict[str, str], timeout: float = NOTEBOOK_TIMEOUT,
                cell_timeout: float | None = CELL_TIMEOUT) -> OtterResult:
    """Grade one notebook with `otter run` (no container) under a wall-clock limit for the whole
    run (`timeout` seconds) and, like nbgrader, a per-cell limit (`cell_timeout` seconds; None for none)."""
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
            return OtterResult(problem=f"grading stopped after {timeout:g} s, the limit for the whole notebook "
                                       "(an endless loop? raise it with --notebook-timeout)")
        results_file = Path(tmp) / "results.json"
        if not results_file.exists():
            last = (output.strip().splitlines() or ["no output"])[-1]
            return OtterResult(problem=f"otter run gave no results: {last}")
        return OtterResult.from_results_json(json.loads(results_file.read_text()))


def course_notebook(course: Course, path: Path) -> str | None:
    """Which notebook of the assignment a file is, by name: `Lab.ipynb`, or an LMS name that contains it
    (`hw2_alice_attempt_..._Lab.ipynb`); the longest name wins."""
    names = [name for name in course.notebook_names() if Path(name).stem in path.stem]
    return max(names, key=len, default=None)


def notebooks_under(path: Path) -> list[Path]:
    """A notebook, or every notebook in a folder and its subfolders (like `otter grade -p`)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def otter_grade_all(course: Course, notebooks: list[Path], jobs: int = 1, timeout: float = NOTEBOOK_TIMEOUT,
                    cell_timeout: float | None = CELL_TIMEOUT) -> dict[Path, OtterResult]:
    """Grade each notebook with the archive of the notebook it is (`jobs` at a time); a file that is
    none of the assignment's notebooks is not graded, with the reason."""
    from concurrent.futures import ThreadPoolExecutor

    expected = ", ".join(course.notebook_names())

    def one(path: Path) -> OtterResult:
        name = course_notebook(course, path)
        if name is None:
            return OtterResult(problem=f"not a notebook of {course.assignment} (its name contains none of {expected})")
        return otter_grade(course.dist / archive_name(course, name), path, course.env(), timeout, cell_timeout)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(zip(notebooks, pool.map(one, notebooks)))


def user_error(course: Course, path: Path) -> str | None:
    """What stops `hwkit otter-grade` before grading (a missing path or archive), as one sentence."""
    if not course.notebook_names():
        return f"{course.root} is no course folder (no {course.source}/*.ipynb): give the course with --course"
    if not path.exists():
        return f"{path} does not exist: give a notebook or a folder of notebooks"
    notebooks = notebooks_under(path)
    if not notebooks:
        return f"{path} holds no .ipynb file: give a notebook or a folder of notebooks"
    names = {course_notebook(course, notebook) for notebook in notebooks} - {None}
    if not names:
        return f"{path} holds none of {course.assignment}'s notebooks ({', '.join(course.notebook_names())})"
    missing = sorted(name for name in names if not (course.dist / archive_name(course, name)).is_file())
    if missing:
        return f"{course.dist / archive_name(course, missing[0])} is missing: run hwkit build first"
    return None


def console_lines(where: str, result: OtterResult) -> list[str]:
    """One notebook's result for the console: its total, then each question, with why it lost points."""
    if result.problem:
        return [f"{where}: NOT GRADED: {result.problem}"]
    reasons = result.reasons()
    lines = [f"{where}: {result.total:g} / {result.max_total:g}"]
    for question, score in result.scores.items():
        why = f"  {reasons[question]}" if question in reasons else ""
        lines.append(f"  {question:<32} {score:g} / {result.possible[question]:g}{why}")
    return lines


def init_cell_problems(course: Course) -> list[str]:
    """Each release notebook of an assignment with a checks package must have an Otter init cell that points
    at the notebook's own public tests (so its `grader.check_all()` runs its questions only) and is skipped by
    Otter's grading (`otter_ignore`). An ordinary assignment's students check with nbgrader's Validate."""
    problems = []
    if not load_assignment(course).checks:
        return problems
    for notebook in course.notebook_names():
        wanted = f'tests_dir="{public_tests_dir(notebook)}"'
        cells = [c for c in nbformat.read(course.release / notebook, as_version=4).cells if wanted in c.source]
        if not cells:
            problems.append(f"release notebook {notebook} has no Otter init cell with {wanted}")
        elif "otter_ignore" not in cells[0].metadata.get("tags", []):
            problems.append(f"release notebook {notebook}: its Otter init cell lacks the otter_ignore tag")
    return problems
