"""The class report (`hwkit report`, issue #23) on a small real class of Homework 0 graded by `hwkit grade`, plus
synthetic code for the similarity ranking.

The class: the instructor's answers; five students who hand in only a wrong `n_params` (the biases forgotten: the
planted mistake the report must count exactly 5 times); two who hand in only a cell that raises ZeroDivisionError
on the same line; one whose cell raises an exception with markup in its message; two independently written correct
solutions; and a copy of one of them with renamed variables, reformatted lines and its functions reordered. The
report is built from the gradebook and the judge's cached diagnoses of that real run, then rendered in Chromium.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from hw0_corpus import ASSIGNMENT, NOTEBOOK, POINTS, WRITTEN, release_with
from hwkit.course import Course, copy_course_files
from hwkit.results import CodeError, Diagnosis, NotebookGrade

FORGOT_BIASES = "n_params = 784 * 128 + 128 * 10\n"
DIVIDES_BY_ZERO = "def softmax(Z):\n    raise NotImplementedError()\n\n\nscale = 1\nscale = scale / 0\n"
MARKUP = "<img src=x onerror=alert(1)>"
RAISES_MARKUP = f"def one_hot(labels, num_classes):\n    raise NotImplementedError()\n\n\nraise ValueError({MARKUP!r})"

HONEST_A = {
    "softmax": '''
def _stable(Z):
    shifted = Z - np.max(Z, axis=1, keepdims=True)
    return np.exp(shifted)


def softmax(Z):
    """Row-wise softmax."""
    exps = _stable(Z)
    totals = np.sum(exps, axis=1, keepdims=True)
    return exps / totals
''',
    "one_hot": '''
def one_hot(labels, num_classes):
    labels = np.asarray(labels)
    encoded = np.zeros((labels.shape[0], num_classes), dtype=float)
    for row, label in enumerate(labels):
        encoded[row, label] = 1.0
    return encoded
''',
    "two_layer_net": '''
class TwoLayerNet(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = torch.nn.Linear(n_in, n_hidden, bias=True)
        self.fc2 = torch.nn.Linear(n_hidden, n_out, bias=True)

    def forward(self, x):
        hidden = torch.relu(self.fc1(x))
        return self.fc2(hidden)
''',
    "train_step": '''
def train_step(W, b, X, y, lr):
    weights = W.clone().detach().requires_grad_(True)
    bias = b.clone().detach().requires_grad_(True)
    logits = X @ weights + bias
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    new_weights = (weights - lr * weights.grad).detach()
    new_bias = (bias - lr * bias.grad).detach()
    return new_weights, new_bias, loss.item()
''',
    "n_params": "n_params = (784 * 128 + 128) + (128 * 10 + 10)\n",
}

# honest_a's work, renamed, reformatted, its helper after the function that uses it, comments added.
COPY_OF_A = {
    "softmax": '''
def softmax(logits):
    # the softmax, row by row
    e = exp_shift(logits)
    s = np.sum(e, axis = 1, keepdims = True)
    return e / s

def exp_shift(logits):
    moved = logits - np.max(logits, axis = 1, keepdims = True)
    return np.exp(moved)
''',
    "one_hot": '''
def one_hot(labels, num_classes):
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], num_classes),
                   dtype=float)
    for i, lab in enumerate(labels):
        out[i, lab] = 1.0
    return out
''',
    "two_layer_net": HONEST_A["two_layer_net"].replace("hidden = ", "h = ").replace("(hidden)", "(h)"),
    "train_step": '''
def train_step(W, b, X, y, lr):
    w = W.clone().detach().requires_grad_(True)
    bb = b.clone().detach().requires_grad_(True)
    z = X @ w + bb
    L = torch.nn.functional.cross_entropy(z, y)
    L.backward()
    w_new = (w - lr * w.grad).detach()
    b_new = (bb - lr * bb.grad).detach()
    return w_new, b_new, L.item()
''',
    "n_params": "n_params = 784*128 + 128 + 128*10 + 10\n",
}

HONEST_B = {
    "softmax": '''
def softmax(Z):
    P = np.exp(Z - Z.max(axis=-1)[:, None])
    P /= P.sum(axis=-1)[:, None]
    return P
''',
    "one_hot": '''
def one_hot(labels, num_classes):
    return np.eye(num_classes)[np.array(labels, dtype=int)].astype(np.float64)
''',
    "two_layer_net": '''
class TwoLayerNet(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(n_in, n_hidden), torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(self.fc1(x).clamp(min=0))
''',
    "train_step": '''
def train_step(W, b, X, y, lr):
    params = [p.detach().clone().requires_grad_() for p in (W, b)]
    cost = torch.nn.functional.cross_entropy(X @ params[0] + params[1], y, reduction="mean")
    grad_W, grad_b = torch.autograd.grad(cost, params)
    return W - lr * grad_W, b - lr * grad_b, float(cost)
''',
    "n_params": "sizes = [784, 128, 10]\nn_params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))\n",
}

FORGETFUL = [f"forgot_biases_{i}" for i in range(1, 6)]
DIVIDERS = ["divides_1", "divides_2"]


def _submissions() -> dict[str, tuple[dict[str, str], bool]]:
    """student -> (solution cells handed in, the other cells filled with the instructor's answers?)."""
    class_ = {"reference": ({}, True), "honest_a": (HONEST_A, False), "honest_b": (HONEST_B, False),
              "copy_of_a": (COPY_OF_A, False), "markup": ({"one_hot": RAISES_MARKUP}, False)}
    class_.update({student: ({"n_params": FORGOT_BIASES}, False) for student in FORGETFUL})
    class_.update({student: ({"softmax": DIVIDES_BY_ZERO}, False) for student in DIVIDERS})
    return class_


def _hwkit(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(root), *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def graded_hw0(tmp_path_factory) -> Course:
    """The class above graded by `hwkit grade --assignment hw0` (which writes the class report), then a TA's points
    for a written answer and `hwkit report` again."""
    from hwkit.walls import available

    if available() is not None and not os.environ.get("CI"):
        pytest.skip(str(available()))
    root = tmp_path_factory.mktemp("class-report") / "course"
    copy_course_files(REPO, root)
    for student, (edits, filled) in _submissions().items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nb = release_with(root, lambda grade_id, text, edits=edits: edits.get(grade_id, text), filled)
        nbformat.write(nb, folder / NOTEBOOK)
    done = _hwkit(root, "grade", "--assignment", ASSIGNMENT, "--jobs", "2", "--timeout", "15")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "class report" in done.stdout
    _ta_grades(root, {"honest_a": 2.0})  # the reference's answer waits for a TA; the stubs scored 0 automatically
    done = _hwkit(root, "report", "--assignment", ASSIGNMENT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Course.at(root, ASSIGNMENT)


def _ta_grades(root: Path, points: dict[str, float]) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student, score in points.items():
            grade = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student)
            grade.manual_score, grade.needs_manual_grade = score, False  # as formgrader saves it
        gradebook.db.commit()


def _rows(course: Course, name: str) -> list[dict[str, str]]:
    with (course.root / "reports" / ASSIGNMENT / name).open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # grades a real class
def test_the_planted_mistake_is_counted_exactly(graded_hw0: Course) -> None:
    rows = [r for r in _rows(graded_hw0, "mistakes.csv") if r["question"] == "q5_n_params"]
    forgot = [r for r in rows if "biases" in r["cause"]]
    assert len(forgot) == 1, rows
    assert int(forgot[0]["students"]) == 5 and sorted(forgot[0]["student_ids"].split()) == FORGETFUL, forgot


@pytest.mark.slow  # grades a real class
def test_exceptions_grouped_by_type_and_line(graded_hw0: Course) -> None:
    rows = _rows(graded_hw0, "exceptions.csv")
    zero = [r for r in rows if r["type"] == "ZeroDivisionError"]
    assert len(zero) == 1 and zero[0]["line"] == "6" and "softmax" in zero[0]["where"], rows
    assert sorted(zero[0]["student_ids"].split()) == DIVIDERS
    assert any(r["type"] == "ValueError" and r["student_ids"] == "markup" for r in rows), rows


@pytest.mark.slow  # grades a real class
def test_questions_from_the_gradebook(graded_hw0: Course) -> None:
    rows = {r["question"]: r for r in _rows(graded_hw0, "questions.csv")}
    assert set(rows) == {*POINTS, WRITTEN}
    # full marks on q5: reference, honest_a, honest_b, copy_of_a of 12 students
    assert float(rows["q5_n_params"]["full_marks_share"]) == pytest.approx(4 / 12, abs=1e-3)
    assert float(rows["q5_n_params"]["mean"]) == pytest.approx(4 * 2 / 12, abs=1e-3)
    assert all(rows[q]["median_seconds"] and rows[q]["slowest_student"] for q in POINTS), rows
    assert rows[WRITTEN]["not_graded"] == "1" and rows[WRITTEN]["graded"] == "11"
    assert rows["q1_softmax"]["discrimination"], "q1 separates the students who solved the homework"


@pytest.mark.slow  # grades a real class
def test_copied_pair_ranks_first(graded_hw0: Course) -> None:
    rows = _rows(graded_hw0, "pairs.csv")
    assert rows and {rows[0]["student_a"], rows[0]["student_b"]} == {"copy_of_a", "honest_a"}, rows
    assert min(float(rows[0]["share_a"]), float(rows[0]["share_b"])) > 0.8, rows[0]
    honest = {frozenset((r["student_a"], r["student_b"])): r for r in rows}
    assert frozenset(("honest_a", "honest_b")) not in honest, "independent solutions are not listed"
    listed = {student for r in rows for student in (r["student_a"], r["student_b"])}
    assert not any(s.startswith(("forgot_biases", "divides")) for s in listed), "a one-line answer is too little code"


def test_independent_solutions_do_not_come_near_a_copy() -> None:
    """The same comparison with every pair that shares anything uncommon listed (threshold ~0)."""
    from hwkit.similarity import SimilaritySettings, compare

    codes = {name: "\n\n".join(cells.values()) for name, cells in
             (("honest_a", HONEST_A), ("honest_b", HONEST_B), ("copy_of_a", COPY_OF_A))}
    result = compare(codes, "", SimilaritySettings(threshold=1e-9))
    shares = {frozenset((p.first, p.second)): p.share for p in result.pairs}
    copied = shares[frozenset(("honest_a", "copy_of_a"))]
    assert copied > 0.8
    for pair in (("honest_a", "honest_b"), ("honest_b", "copy_of_a")):
        assert shares.get(frozenset(pair), 0.0) < 0.25, shares


@pytest.mark.slow  # grades a real class
def test_page_renders_offline_in_chromium_without_errors(graded_hw0: Course, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    page_path = graded_hw0.root / "reports" / ASSIGNMENT / "index.html"
    html = page_path.read_text()
    assert MARKUP not in html and "&lt;img src=x onerror=alert(1)&gt;" in html, "students' text is escaped"
    assert "http://" not in html and "https://" not in html, "self-contained: nothing to fetch"
    problems, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        assert page.locator("img[src^='data:image/png']").count() == 2
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        assert page.locator("#pair-1 ~ .pair mark.match").count() > 0, "the side-by-side view marks the matches"
        assert "5" in page.locator("#mistakes-table tr", has_text="weights and biases").inner_text()
        written = page.locator("#written-table tr", has_text=WRITTEN).inner_text()
        assert "0: 10, 2: 1" in written and "1: reference" in written, written
        page.screenshot(path=str(tmp_path / "class-report.png"), full_page=True)
        browser.close()
    assert not problems, problems
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _chromium() -> str:
    path = next((c for c in (os.environ.get("HWKIT_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
                 if c and Path(c).exists()), None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("needs Chromium (apt-get install chromium)")
        pytest.skip("needs Chromium (apt-get install chromium)")
    return path


def test_old_cache_records_load_and_new_ones_round_trip() -> None:
    from dataclasses import asdict

    old = {"student": "s", "notebook": "n.ipynb", "scores": {"q": 0.0}, "max_scores": {"q": 1.0},
           "problems": ["q, case 1: wrong"], "status": "graded", "manual": []}
    assert NotebookGrade.from_dict(old).diagnoses == []
    new = NotebookGrade("s", "n.ipynb", {"q": 0.0}, {"q": 1.0}, diagnoses=[Diagnosis("q", "case 1", "wrong")],
                        errors=[CodeError("cell", "KeyError", 3, "KeyError: 'x'")])
    assert NotebookGrade.from_dict(asdict(new)) == new


@pytest.mark.parametrize("args, says", [
    ((), "nothing graded yet"),
    (("--assignment", "hw9"), "hw0, hw1"),
    (("--similarity-threshold", "2"), "between 0 (excluded) and 1"),
])
def test_report_mistakes_are_one_sentence(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    """Before any grading, a misspelled assignment, a threshold out of range: one sentence, exit 2, nothing written."""
    root = tmp_path / "course"
    copy_course_files(REPO, root)
    done = _hwkit(root, "report", *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr.strip().splitlines()[-1], done.stderr  # the sentence (argparse's usage before it)
    assert not (root / "reports").exists()


@pytest.mark.slow  # the shared graded class
def test_hw1_mutants_are_grouped_by_their_cause(graded_class) -> None:
    """Homework 1's mutation corpus as the real judge graded it: every question a student lost has a structured
    diagnosis, and each planted mistake's diagnosis (its hint) lands in a group of its question with its student."""
    from hwkit.class_stats import ClassScores, compute_stats
    from mutants_planar import NOTEBOOK as PLANAR, ROUTE_NOTEBOOKS, route_student

    grades = {s: [g for g in gs if g.notebook == PLANAR] for s, gs in graded_class.run.by_student().items()}
    grades = {s: gs for s, gs in grades.items() if gs and all(g.graded for g in gs)}
    for student in (route_student(i) for i in range(len(ROUTE_NOTEBOOKS))):
        (grade,) = grades[student]
        lost = {q for q, points in grade.scores.items() if q not in grade.manual and points < grade.max_scores[q]}
        assert {d.question for d in grade.diagnoses} == lost, (student, grade.diagnoses, lost)
    first = next(iter(grades.values()))[0]
    scores = ClassScores(first.max_scores, {q: q not in first.manual for q in first.max_scores},
                         {s: gs[0].scores for s, gs in grades.items()})
    mistakes = compute_stats(scores, grades, {}).mistakes
    checked = 0
    for i, (mutants, _) in enumerate(ROUTE_NOTEBOOKS):
        for mutant in mutants:
            if mutant.hint:
                groups = [g for g in mistakes if g.key[0] == mutant.question and mutant.hint in g.key[1]]
                assert any(route_student(i) in g.students for g in groups), (mutant.name, groups)
                checked += 1
    assert checked >= 10
