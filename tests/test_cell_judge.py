"""Judging an ordinary nbgrader assignment by its own test cells, outside the student's process
(cell_judge.py, standins.py, standin_server.py): a real observer process runs the student's cells and
answers the stand-ins; the instructor's test code runs here. No kernel: the fast tier."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from hwkit.cell_judge import AutogradedCell, CellJudge
from hwkit.judge import judge_unsandboxed, judged_cells

SETUP = "import numpy as np"
SOLUTION = '''
def scale(x, factor):
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) * factor
    ### END SOLUTION

class Counter:
    def __init__(self, start):
        ### BEGIN SOLUTION
        self.count = start
        ### END SOLUTION

    def step(self, by=1):
        ### BEGIN SOLUTION
        self.count += by
        return self.count
        ### END SOLUTION

answer = 42  # SOLUTION
'''
TESTS = {
    "q_scale": '''"""q_scale: scale multiplies every entry"""
assert np.allclose(scale([1, 2], 3), [3, 6]), "scale([1, 2], 3) is wrong"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(7)
x = rng.normal(size=(4, 3))
assert np.allclose(scale(x, -2.5), x * -2.5)
### END HIDDEN TESTS
''',
    "q_counter": '''"""q_counter: a Counter counts"""
c = Counter(5)
assert c.step() == 6
assert c.step(by=3) == 9 and c.count == 9
### BEGIN HIDDEN TESTS
assert Counter(-1).step(2) == 1
### END HIDDEN TESTS
''',
    "q_answer": '''"""q_answer: the value answer is a number"""
assert isinstance(answer, int)
### BEGIN HIDDEN TESTS
assert answer == 42
### END HIDDEN TESTS
''',
}


def instructor_notebook() -> nbformat.NotebookNode:
    cells = [new_code_cell(SETUP), new_code_cell(SOLUTION, metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "solution", "schema_version": 3}})]
    for question, source in TESTS.items():
        cells.append(new_code_cell(source, metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "points": 2, "grade_id": question,
            "schema_version": 3}}))
    return new_notebook(cells=cells)


WRONG = {
    "reference": ("", set()),
    "wrong_scale": ("def scale(x, factor):\n    return np.asarray(x, dtype=float) + factor", {"q_scale"}),
    "memorised_scale": ("def scale(x, factor):\n    return np.array([3.0, 6.0])", {"q_scale"}),
    "raising_counter": ("class Counter:\n    def __init__(self, start):\n        raise ValueError(f'secret {start}')",
                        {"q_counter"}),
    "endless": ("def scale(x, factor):\n    while True: pass", {"q_scale"}),
    "exits": ("def scale(x, factor):\n    import os; os._exit(3)", {"q_scale"}),
    # Cheats that win where the tests run in the student's process (plain nbgrader):
    "patched_allclose": ("def scale(x, factor):\n    return None\nnp.allclose = lambda *a, **k: True", {"q_scale"}),
    "always_equal": ("class _Yes:\n    def __eq__(self, other): return True\n    def __bool__(self): return True\n"
                     "answer = _Yes()\nint = object", {"q_answer"}),
    "array_subclass": ("class _Fake(np.ndarray):\n    def __array_function__(self, *a, **k): return True\n"
                       "    def __eq__(self, other): return np.ones(np.shape(other), bool)\n"
                       "def scale(x, factor):\n    return np.zeros(2).view(_Fake)", {"q_scale"}),
    "fake_numpy": ("class _AnyNumpy:\n    def __getattr__(self, name): return lambda *a, **k: True\n"
                   "def scale(x, factor):\n    return None\nnp = _AnyNumpy()", {"q_scale"}),
    "counter_lies": ("class _Yes:\n    def __eq__(self, other): return True\n    def __bool__(self): return True\n"
                     "class Counter:\n    count = _Yes()\n    def __init__(self, start): pass\n"
                     "    def step(self, by=1): return _Yes()", {"q_counter"}),
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> dict[str, dict[str, tuple[float, str]]]:
    source = tmp_path_factory.mktemp("source")
    instructor = instructor_notebook()
    nbformat.write(instructor, source / "Tiny.ipynb")
    judge = CellJudge(source)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)}
    results = {}
    for student, (extra, _) in WRONG.items():
        nb = instructor_notebook()
        nb.cells.insert(2, new_code_cell(extra))
        folder = tmp_path_factory.mktemp(student)
        verdicts, _ = judge_unsandboxed(judge, folder, judged_cells(nb, instructor), judge.questions(instructor),
                                        3, env)
        results[student] = {v.question: (v.points, v.message) for v in verdicts}
    return results


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_answer_scores_its_own_questions(judged, student: str) -> None:
    """The reference scores 6/6; each wrong or cheating answer loses exactly its own question."""
    losses = {q for q, (points, _) in judged[student].items() if points == 0}
    assert losses == WRONG[student][1], judged[student]


def test_reasons_name_the_cause_and_never_what_the_student_said_in_a_hidden_test(judged) -> None:
    assert "scale([1, 2], 3) is wrong" in judged["wrong_scale"]["q_scale"][1]
    assert "a hidden test raised ValueError" in judged["memorised_scale"]["q_scale"][1]
    reason = judged["raising_counter"]["q_counter"][1]
    assert "ValueError: secret 5" in reason  # a visible test: the student's own message helps
    assert "longer than the 3 s limit" in judged["endless"]["q_scale"][1]
    assert "ended the checking process" in judged["exits"]["q_scale"][1]
    assert "the test `assert isinstance(answer, int)` failed" in judged["always_equal"]["q_answer"][1]
    assert "decided by the student's code" in judged["counter_lies"]["q_counter"][1]
    assert judged["reference"]["q_scale"][1] == "q_scale: the visible and hidden tests passed."


def test_hidden_lines_and_the_names_a_test_takes_from_the_notebook() -> None:
    cell = AutogradedCell.of("q_scale", 2, TESTS["q_scale"])
    lines = TESTS["q_scale"].splitlines()
    assert {lines[n - 1] for n in cell.hidden_lines} == set(lines[3:6])
    assert cell.student_names() == ["np", "scale"]
    assert AutogradedCell.of("q_counter", 2, TESTS["q_counter"]).student_names() == ["Counter"]


class _Recorder:
    """A session that records the requests a handle makes (no sandbox)."""

    def __init__(self):
        self.requests: list[dict] = []

    def request(self, message: dict):
        self.requests.append(message)
        return 1.5

    def encode(self, value):
        from hwkit.standins import _reference
        from hwkit.wire import encode

        return encode(value, refer=_reference)


def test_a_handle_never_lets_student_code_decide() -> None:
    """Comparisons, truth values, hashing and arithmetic are refused without asking the sandbox; protocol
    attributes (numpy's __array_interface__, ...) are not asked for; calls, attributes and items are."""
    from hwkit.standins import Refused, StudentObject

    session = _Recorder()
    handle = StudentObject(session, 7, "Net")
    for attempt in (lambda: handle == 1, lambda: handle != 1, lambda: handle < 1, lambda: bool(handle),
                    lambda: hash(handle), lambda: handle + 1, lambda: float(handle)):
        with pytest.raises(Refused):
            attempt()
    with pytest.raises(AttributeError):
        handle.__array_interface__  # noqa: B018
    assert session.requests == []
    assert handle(2, k=3) == 1.5 and handle.weight == 1.5 and handle[0] == 1.5
    assert [r["op"] for r in session.requests] == ["call", "getattr", "getitem"]
    with pytest.raises(Refused, match="only plain data"):
        handle(object())
    assert repr(handle) == "<the student's Net object>"


def test_modules_are_the_judges_own() -> None:
    """The notebook's imports are the judge's modules; a module the judge does not have is refused, not proxied."""
    from hwkit.cell_judge import notebook_imports
    from hwkit.standins import Refused, judge_module

    nb = instructor_notebook()
    nb.cells.insert(0, new_code_cell("import torch\nfrom torch import nn\nimport numpy.linalg\nimport not_installed_x"))
    imported = notebook_imports(nb)
    import numpy
    import torch

    assert imported["np"] is numpy and imported["numpy"] is numpy and imported["torch"] is torch
    assert imported["nn"] is torch.nn and "not_installed_x" not in imported
    assert judge_module("numpy") is numpy
    with pytest.raises(Refused):
        judge_module("student_helpers").anything  # noqa: B018


def test_isinstance_of_a_library_class_holds_for_a_students_object() -> None:
    """`isinstance(net, torch.nn.Module)` holds for a student's module (its lineage crosses with the handle);
    a lineage claiming a data class (an array) or naming no library class gives nothing."""
    import torch

    from hwkit.standins import StudentObject

    net = StudentObject(_Recorder(), 1, "Net", ["__main__.Net", "torch.nn.modules.module.Module", "builtins.object"])
    assert isinstance(net, torch.nn.Module) and isinstance(net, StudentObject) and type(net) is StudentObject
    liar = StudentObject(_Recorder(), 2, "Fake", ["__main__.Fake", "numpy.ndarray", "builtins.object"])
    plain = StudentObject(_Recorder(), 3, "Thing", ["__main__.Thing", "builtins.object"])
    import numpy

    assert not isinstance(liar, numpy.ndarray) and not isinstance(plain, torch.nn.Module)
    net_class = StudentObject(_Recorder(), 4, "type", ["builtins.type", "builtins.object"],
                              ["__main__.Net", "torch.nn.modules.module.Module", "builtins.object"])
    assert issubclass(net_class, torch.nn.Module) and not issubclass(net_class, numpy.ndarray)
    with pytest.raises(TypeError):
        issubclass(plain, torch.nn.Module)  # not a class


TORCH_SOLUTION = '''
import torch

class Net(torch.nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.fc = torch.nn.Linear(n_in, 1)  # SOLUTION

    def forward(self, x):
        return torch.sigmoid(self.fc(x))  # SOLUTION
'''
TORCH_TEST = '''"""q_net: a PyTorch module: its class, parameters and forward"""
net = Net(3)
assert isinstance(net, torch.nn.Module) and issubclass(Net, torch.nn.Module)
assert sum(p.numel() for p in net.parameters()) == 4
x = torch.ones(2, 3)
out = net(x)
assert isinstance(out, torch.Tensor) and out.shape == (2, 1)
assert torch.allclose(out, torch.sigmoid(x @ net.fc.weight.T + net.fc.bias))
'''


def test_a_pytorch_module_is_judged_through_its_handle(tmp_path: Path) -> None:
    """isinstance/issubclass against torch.nn.Module, parameters, forward and the layer's weights, through the
    real observer; a module that is not one (a plain class with the same methods) fails the class check."""
    source = tmp_path / "source"
    source.mkdir()
    meta = {"grade": True, "solution": False, "locked": True, "points": 3, "grade_id": "q_net", "schema_version": 3}
    test_cell = new_code_cell(TORCH_TEST, metadata={"nbgrader": meta})
    instructor = new_notebook(cells=[new_code_cell(TORCH_SOLUTION), test_cell])
    nbformat.write(instructor, source / "Torch.ipynb")
    judge = CellJudge(source)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path)}
    impostor = TORCH_SOLUTION.replace("class Net(torch.nn.Module):", "class Net:").replace("super().__init__()", "pass")
    for name, solution, points in (("honest", TORCH_SOLUTION, 3.0), ("impostor", impostor, 0.0)):
        nb = new_notebook(cells=[new_code_cell(solution), new_code_cell(TORCH_TEST, metadata={"nbgrader": meta})])
        folder = tmp_path / name
        folder.mkdir()
        [verdict], _ = judge_unsandboxed(judge, folder, judged_cells(nb, instructor), judge.questions(instructor), 30,
                                         env)
        assert verdict.points == points, (name, verdict.message)
