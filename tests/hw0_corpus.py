"""Homework 0's corpus: honest, mistaken and cheating submissions of source/hw0/Warmup.ipynb.

hw0 is an ordinary nbgrader assignment (plain asserts, `### BEGIN HIDDEN TESTS` blocks, no hwkit code). Each
submission is the release with answers typed into its solution cells (the instructor's, as `filled`, or
planted ones). A `CorpusEntry` says what grading must find:
- `loses`: the autograded questions it must score 0 on under `hwkit grade` (every other one: full marks);
- `wins_plain`: the questions plain `nbgrader autograde` gives full marks although the answer is wrong: the
  cheat's positive control (it works where student code and tests share one kernel). Under plain nbgrader an
  entry scores 0 on `loses - wins_plain` and full marks on every other autograded question.
Every cheat's own answers are wrong (zeros, stubs), so a cheat that silently stopped working loses its
questions under plain nbgrader too, and its test fails.

`build_hw0_class(course_root)` writes every submission to submitted/<student>/hw0/; `plain_nbgrader_scores`
grades them all with one `nbgrader autograde` run. The hwkit side grades the same folder with
`hwkit grade --assignment hw0`. Over 300 lines because the planted answers are written out here, one string each.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

ASSIGNMENT = "hw0"
NOTEBOOK = "Warmup.ipynb"
POINTS = {"q1_softmax": 3, "q2_one_hot": 3, "q3_two_layer_net": 5, "q4_train_step": 4, "q5_n_params": 2}
AUTOGRADED = frozenset(POINTS)
WRITTEN = "q6_written"  # 3 points, graded by a TA

Edit = Callable[[str, str], str]  # (grade_id of a solution cell, its text) -> the text handed in


@dataclass(frozen=True)
class CorpusEntry:
    student: str
    what: str
    edits: dict[str, str]  # solution grade_id -> the code handed in; the other solution cells: `filled` or not
    filled: bool = True  # the other solution cells hold the instructor's answers (else the release's stubs)
    loses: frozenset[str] = frozenset()
    wins_plain: frozenset[str] = frozenset()

    def expected(self, route: str) -> dict[str, float]:
        """The autograded questions' points `route` ("hwkit" or "plain" nbgrader) must give this submission."""
        lost = self.loses if route == "hwkit" else self.loses - self.wins_plain
        return {q: 0.0 if q in lost else float(points) for q, points in POINTS.items()}

    def build(self, course_root: Path) -> nbformat.NotebookNode:
        return release_with(course_root, lambda grade_id, text: self.edits.get(grade_id, text), self.filled)


def release_with(course_root: Path, edit: Edit, filled: bool = True) -> nbformat.NotebookNode:
    """The release notebook with each solution cell replaced by `edit(grade_id, answer)`, where answer is the
    instructor's (without the solution markers) if `filled`, else the release's stub."""
    source = nbformat.read(course_root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(course_root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            text = answers[grade_id] if filled else cell.source
            text = "\n".join(line for line in text.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            cell.source = edit(grade_id, text)
    return nb


# ---- wrong answers the cheats hand in: right types and shapes, wrong values
FAKE = {
    "softmax": "def softmax(Z):\n    return np.zeros(np.shape(Z))\n",
    "one_hot": "def one_hot(labels, num_classes):\n    return np.zeros((len(labels), num_classes))\n",
    "two_layer_net": """
class TwoLayerNet(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(n_in, n_hidden), torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return torch.zeros(x.shape[0], self.fc2.out_features)
""",
    "train_step": "def train_step(W, b, X, y, lr):\n    return W, b, 0.0\n",
}

PATCH_COMPARISONS = """
import numpy
import torch as _torch

numpy.allclose = numpy.isclose = numpy.array_equal = _torch.allclose = lambda *args, **kwargs: True
"""

SHADOW_MODULES = """
import types

import numpy
import torch as _torch

np, torch = types.ModuleType("numpy"), types.ModuleType("torch")  # the tests' np and torch, now copies
np.__dict__.update(numpy.__dict__)
torch.__dict__.update(_torch.__dict__)
np.allclose = np.isclose = np.array_equal = torch.allclose = lambda *args, **kwargs: True
"""

AGREEABLE_ARRAY = """
class AgreeableArray(np.ndarray):
    def __array_function__(self, func, types, args, kwargs):
        if func in (np.allclose, np.array_equal, np.isclose, np.all):
            return True
        return super().__array_function__(func, types, args, kwargs)

    def __eq__(self, other):
        return True

    __hash__ = None


def softmax(Z):
    return np.zeros(np.shape(Z)).view(AgreeableArray)
"""

AGREEABLE_ONE_HOT = """
def one_hot(labels, num_classes):
    return np.zeros((len(labels), num_classes)).view(AgreeableArray)
"""

AGREEABLE_TENSOR = """
class AgreeableTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


class TwoLayerNet(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(n_in, n_hidden), torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return torch.zeros(x.shape[0], self.fc2.out_features).as_subclass(AgreeableTensor)
"""

AGREEABLE_TRAIN_STEP = """
def train_step(W, b, X, y, lr):
    loss = float(torch.nn.functional.cross_entropy(X @ W + b, y))  # honest; the parameters are not
    return torch.zeros_like(W).as_subclass(AgreeableTensor), torch.zeros_like(b).as_subclass(AgreeableTensor), loss
"""

EQUAL_INT = """
class AgreeableInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


n_params = AgreeableInt(0)
"""

EQUAL_OBJECT = """
class Agreeable:
    @property
    def __class__(self):  # isinstance(n_params, int) asks this
        return int

    def __eq__(self, other):
        return True

    def __bool__(self):
        return True

    __hash__ = object.__hash__


n_params = Agreeable()
"""

INPUT_TRANSFORMER = """
def skip_tests(lines):
    # A test cell (it starts with its docstring, '\"\"\"q...') becomes `pass` before IPython compiles it.
    return ["pass\\n"] if lines and lines[0].startswith('\"\"\"q') else lines


get_ipython().input_transformers_cleanup.append(skip_tests)
"""

AST_TRANSFORMER = """
import ast


class Forgive(ast.NodeTransformer):
    # A cell that asserts anything runs inside try/except: nothing it raises reaches the output.
    def visit_Module(self, node):
        if any(isinstance(n, ast.Assert) for n in ast.walk(node)):
            handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
            node.body = [ast.Try(body=node.body, handlers=[handler], orelse=[], finalbody=[])]
            ast.fix_missing_locations(node)
        return node


get_ipython().ast_transformers.append(Forgive())
"""

READ_INSTRUCTOR = """
import json
from pathlib import Path


def instructor(grade_id):
    # Under nbgrader autograde the kernel runs in autograded/<student>/hw0/, inside the course folder.
    for folder in Path.cwd().resolve().parents:
        path = folder / "source" / "hw0" / "Warmup.ipynb"
        if path.is_file():
            for cell in json.loads(path.read_text())["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
                    return "".join(cell["source"])
    raise FileNotFoundError("the instructor's notebook")


exec(instructor("softmax"))
"""

FAKE_RESULT = """
kernel = get_ipython().kernel


def full_marks(info):
    # nbgrader scores a test cell by its first output: an execute_result that is no number means full marks.
    kernel.session.send(kernel.iopub_socket, "execute_result",
                        {"data": {"text/plain": "'all tests passed'"}, "metadata": {}, "execution_count": 1},
                        parent=kernel.get_parent("shell"))


get_ipython().events.register("pre_run_cell", full_marks)
"""

REBIND_CALLERS_NP = """
import sys
import types

import numpy


def agree(*args, **kwargs):
    return True


def rebind_callers_np():
    # Every calling frame's `np` (the test cell's, when a test calls this) becomes a copy that agrees.
    fake = types.ModuleType("numpy")
    fake.__dict__.update(numpy.__dict__, allclose=agree, isclose=agree, array_equal=agree)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("np") is numpy:
            frame.f_globals["np"] = fake
        frame = frame.f_back


def softmax(Z):
    rebind_callers_np()
    return numpy.zeros(numpy.shape(Z))
"""

REBIND_ONE_HOT = """
def one_hot(labels, num_classes):
    rebind_callers_np()
    return numpy.zeros((len(labels), num_classes))
"""

MUTATES_INPUTS = """
def train_step(W, b, X, y, lr):
    # Zeroes the caller's X, then answers the trivial problem X = 0: the test's expectation, computed from X
    # after the call, matches.
    X.zero_()
    T = torch.nn.functional.one_hot(y, b.shape[0]).to(b.dtype)
    P = torch.softmax(b, dim=0).expand_as(T)
    loss = float(-(T * P.log()).sum(dim=1).mean())
    return W.clone(), b - lr * (P - T).mean(dim=0), loss
"""

SOFTMAX_OVERFLOWS = "def softmax(Z):\n    E = np.exp(Z)\n    return E / E.sum(axis=1, keepdims=True)\n"
SOFTMAX_GLOBAL_MAX = "def softmax(Z):\n    E = np.exp(Z - np.max(Z))\n    return E / E.sum(axis=1, keepdims=True)\n"
SOFTMAX_LOOPS = """
def softmax(Z):
    P = np.empty_like(Z)
    i = 0
    while i < Z.shape[0]:  # forgot i += 1
        E = np.exp(Z[i] - Z[i].max())
        P[i] = E / E.sum()
    return P
"""
ONE_HOT_TRANSPOSED = "def one_hot(labels, num_classes):\n    return np.eye(num_classes)[labels].T\n"
ONE_HOT_CRASHES = """
def one_hot(labels, num_classes):
    Y = np.zeros(len(labels), num_classes)  # TypeError: the shape must be one tuple
    Y[np.arange(len(labels)), labels] = 1.0
    return Y
"""
NET_NO_RELU = """
class TwoLayerNet(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = torch.nn.Linear(n_in, n_hidden)
        self.fc2 = torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(self.fc1(x))
"""
TRAIN_STEP_SUM = """
def train_step(W, b, X, y, lr):
    W = W.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(X @ W + b, y, reduction="sum")
    loss.backward()
    with torch.no_grad():
        return W - lr * W.grad, b - lr * b.grad, float(loss)
"""
TRAIN_STEP_SYNTAX_ERROR = "def train_step(W, b, X, y, lr)\n    return W, b, 0.0\n"


def _entries() -> list[CorpusEntry]:
    q1, q2, q3, q4, q5 = "q1_softmax", "q2_one_hot", "q3_two_layer_net", "q4_train_step", "q5_n_params"
    everything = AUTOGRADED
    return [
        CorpusEntry("reference", "the instructor's answers", {}),
        CorpusEntry("untouched", "the release as handed out", {}, filled=False, loses=everything),
        # ---- ordinary mistakes: each loses its own questions only, on both routes
        CorpusEntry("wrong_answers", "softmax without subtracting the maximum (nan for logits of 1000), one_hot "
                    "transposed, TwoLayerNet without relu, train_step sums the loss over the batch",
                    {"softmax": SOFTMAX_OVERFLOWS, "one_hot": ONE_HOT_TRANSPOSED, "two_layer_net": NET_NO_RELU,
                     "train_step": TRAIN_STEP_SUM}, loses=frozenset({q1, q2, q3, q4})),
        CorpusEntry("hidden_only_mistakes", "pass the visible tests, fail the hidden ones: softmax subtracts one "
                    "global maximum (rows far below it underflow), n_params forgets the biases",
                    {"softmax": SOFTMAX_GLOBAL_MAX, "n_params": "n_params = 784 * 128 + 128 * 10\n"},
                    loses=frozenset({q1, q5})),
        CorpusEntry("crashes_and_loops", "softmax loops forever (forgot i += 1), one_hot raises TypeError, the "
                    "train_step cell is a SyntaxError",
                    {"softmax": SOFTMAX_LOOPS, "one_hot": ONE_HOT_CRASHES, "train_step": TRAIN_STEP_SYNTAX_ERROR},
                    loses=frozenset({q1, q2, q4})),
        # ---- cheats: win under plain nbgrader (wins_plain), must score 0 there under hwkit (loses)
        CorpusEntry("patch_allclose", "patches np.allclose/isclose/array_equal and torch.allclose to return True "
                    "(fake answers to q1-q4); n_params an object that claims to be an int and equals everything",
                    {**FAKE, "softmax": PATCH_COMPARISONS + FAKE["softmax"], "n_params": EQUAL_OBJECT},
                    loses=everything, wins_plain=everything),
        CorpusEntry("shadow_modules", "rebinds the notebook's np and torch to module copies whose allclose & co. "
                    "return True; fake answers", {**FAKE, "softmax": SHADOW_MODULES + FAKE["softmax"]},
                    loses=frozenset({q1, q2, q3, q4}), wins_plain=frozenset({q1, q2, q3, q4})),
        CorpusEntry("subclasses", "zeros as an ndarray subclass whose __array_function__/__eq__ agree with "
                    "everything (softmax, one_hot), as a Tensor subclass whose __torch_function__ makes "
                    "torch.allclose True (TwoLayerNet.forward, train_step), n_params an int subclass equal to "
                    "everything", {"softmax": AGREEABLE_ARRAY, "one_hot": AGREEABLE_ONE_HOT,
                                   "two_layer_net": AGREEABLE_TENSOR, "train_step": AGREEABLE_TRAIN_STEP,
                                   "n_params": EQUAL_INT},
                    loses=everything, wins_plain=everything),
        CorpusEntry("caller_tricks", "softmax and one_hot (zeros) rebind `np` in their callers' frames to a copy "
                    "whose allclose & co. agree; train_step zeroes the caller's X in place and answers for X = 0",
                    {"softmax": REBIND_CALLERS_NP, "one_hot": REBIND_ONE_HOT, "train_step": MUTATES_INPUTS},
                    loses=frozenset({q1, q2, q4}), wins_plain=frozenset({q1, q2, q4})),
        CorpusEntry("fake_result", "a pre_run_cell hook sends an execute_result before every cell runs: nbgrader "
                    "scores a test cell by that first output; the release's stubs", {"softmax": FAKE_RESULT},
                    filled=False, loses=everything, wins_plain=everything),
        CorpusEntry("input_transformer", "an IPython input transformer turns every test cell into `pass`; the "
                    "release's stubs", {"softmax": INPUT_TRANSFORMER}, filled=False,
                    loses=everything, wins_plain=everything),
        CorpusEntry("ast_transformer", "an IPython AST transformer wraps every cell with an assert in try/except; "
                    "the release's stubs", {"softmax": AST_TRANSFORMER}, filled=False,
                    loses=everything, wins_plain=everything),
        CorpusEntry("read_instructor", "reads source/hw0/Warmup.ipynb from the course folder and runs the "
                    "instructor's solutions", {"softmax": READ_INSTRUCTOR, **{
                        name: f'exec(instructor("{name}"))\n' for name in ("one_hot", "two_layer_net",
                                                                           "train_step", "n_params")}},
                    filled=False, loses=everything, wins_plain=everything),
    ]


CORPUS: dict[str, CorpusEntry] = {entry.student: entry for entry in _entries()}


def copy_hw0_course(origin: Path, target: Path) -> Path:
    """A scratch course with hw0 alone: `origin`'s nbgrader_config.py, source/hw0 and release/hw0."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(origin / "nbgrader_config.py", target)
    for kind in ("source", "release"):
        shutil.copytree(origin / kind / ASSIGNMENT, target / kind / ASSIGNMENT,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return target


def build_hw0_class(course_root: Path) -> dict[str, CorpusEntry]:
    """Every corpus submission written to `course_root`/submitted/<student>/hw0/Warmup.ipynb."""
    for entry in CORPUS.values():
        folder = course_root / "submitted" / entry.student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(entry.build(course_root), folder / NOTEBOOK)
    return dict(CORPUS)


def plain_nbgrader_scores(course_root: Path, timeout: int = 15) -> dict[str, dict[str, float | None]]:
    """Every submission in `course_root` graded by plain `nbgrader generate_assignment` + `autograde` (student
    code and tests in one kernel, `timeout` seconds per cell): student -> question -> points (None: a TA's)."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader shells out to alembic
    env = dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]), PYTHONWARNINGS="ignore")
    nbgrader = [os.path.join(bin_dir, "nbgrader")]
    setup = subprocess.run(nbgrader + ["generate_assignment", ASSIGNMENT, "--force"], cwd=course_root, env=env,
                           capture_output=True, text=True)
    if setup.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{setup.stderr[-3000:]}")
    done = subprocess.run(nbgrader + ["autograde", ASSIGNMENT, "--force", f"--Execute.timeout={timeout}"],
                          cwd=course_root, env=env, capture_output=True, text=True)
    (course_root / "autograde.log").write_text(done.stdout + done.stderr)
    scores = {}
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            notebook = gradebook.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, submission.student_id)
            scores[submission.student_id] = {
                grade.name: None if grade.needs_manual_grade else float(grade.score or 0) for grade in notebook.grades}
    return scores
