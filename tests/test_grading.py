"""Grading real notebooks through real nbgrader (`hwkit grade`) and real Otter (`otter run`).

One nbgrader run grades the whole corpus; each test then checks one student's result.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from hwkit.course import Course
from hwkit.demo import filled_release, forgot_average
from hwkit.grade import GradeRun, grade
from hwkit.otter import archive_name, otter_grade
from hwkit.report import write_grades_csv, write_summaries
from hwkit.settings import GradingSettings

PLANAR = "Planar_MLP.ipynb"
TIMEOUT = 15  # seconds per cell: short, yet enough for the hidden training cases on a loaded machine


def _replace(grade_id: str, old: str, new: str):
    def edit(cell_id: str, text: str) -> str:
        return text.replace(old, new) if cell_id == grade_id else text
    return edit


def _without_test_cell(course: Course, grade_id: str) -> nbformat.NotebookNode:
    nb = filled_release(course, PLANAR)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _with_edited_test(course: Course) -> nbformat.NotebookNode:
    nb = filled_release(course, PLANAR, _replace("layer_sizes", "n_h = 4", "n_h = 7"))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q4_layer_sizes":
            cell.source = 'print("all tests passed")'
    return nb


# student id -> (what the Planar_MLP notebook is, expected points per question that differ from full marks)
CORPUS = {
    "reference": (lambda c: filled_release(c, PLANAR), {}),
    "untouched": (lambda c: nbformat.read(c.release / PLANAR, 4), "all zero"),
    "forgot_average": (lambda c: filled_release(c, PLANAR, forgot_average), {"q4_backward_propagation": 0}),
    "raises_in_forward": (lambda c: filled_release(c, PLANAR, _replace(
        "forward_propagation", 'W1, b1, W2, b2 = parameters["W1"]', 'W1, b1, W2, b2 = parameters["W3"]')),
        {"q4_forward_propagation": 0}),  # questions are isolated: nn_model, predict keep their points
    "endless_loop": (lambda c: filled_release(c, PLANAR, _replace("layer_sizes", "def layer_sizes",
                                                                  "while True:\n    pass\ndef layer_sizes")),
                     {"q4_layer_sizes": 0}),
    "deleted_test_cell": (lambda c: _without_test_cell(c, "q4_layer_sizes"), {}),
    "edited_test_cell": (_with_edited_test, {"q4_layer_sizes": 0}),  # nn_model only reads n_x, n_y
    "wrong_init_scale": (lambda c: filled_release(c, PLANAR, _replace("initialize_parameters", "* 0.01", "* 0.1")),
                         {"q4_initialize_parameters": 0}),
    "logits_not_probabilities": (lambda c: filled_release(c, PLANAR, _replace(
        "TorchMLP", "return torch.sigmoid(self.output(torch.tanh(self.hidden(X))))",
        "return self.output(torch.tanh(self.hidden(X)))")),
        {"q4_torch_mlp": 0}),
}
BROKEN_FILES = {"invalid_json": b'{"cells": [ not json', "empty_file": b""}
RENAMED = "renamed_notebook"


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(built_course: Course, tmp_path_factory) -> tuple[Course, GradeRun, dict[str, str], dict[str, str]]:
    """The corpus in a copy of the built course, graded once by `hwkit grade`."""
    root = tmp_path_factory.mktemp("graded") / "course"
    shutil.copytree(built_course.root, root, ignore=shutil.ignore_patterns("__pycache__"))
    course = Course.at(root)
    others = [n for n in course.notebook_names() if n != PLANAR]
    for student, (make, _) in CORPUS.items():
        folder = course.submitted / student / "hw1"
        folder.mkdir(parents=True)
        nbformat.write(make(course), folder / PLANAR)
        for name in others:  # the other notebooks untouched, so only Planar_MLP differs
            shutil.copy(course.release / name, folder / name)
    for student, content in BROKEN_FILES.items():
        folder = course.submitted / student / "hw1"
        folder.mkdir(parents=True)
        (folder / PLANAR).write_bytes(content)
    folder = course.submitted / RENAMED / "hw1"
    folder.mkdir(parents=True)
    nbformat.write(filled_release(course, PLANAR), folder / "Planar_MLP (1).ipynb")
    before = _digest(course.submitted)
    run = grade(course, GradingSettings(cell_timeout=TIMEOUT))
    write_grades_csv(run, course.root / "grades.csv")
    write_summaries(run, course)
    return course, run, before, _digest(course.submitted)


def _planar(run: GradeRun, student: str):
    return next(g for g in run.grades if g.student == student and g.notebook == PLANAR)


@pytest.mark.parametrize("student", list(CORPUS))
def test_each_submission_gets_the_points_it_earns(graded, student: str) -> None:
    _, run, _, _ = graded
    grade = _planar(run, student)
    expected = CORPUS[student][1]
    for question, points in grade.max_scores.items():
        want = 0 if expected == "all zero" else expected.get(question, points)
        assert grade.scores[question] == want, (question, grade.problems)
    if student != "reference" and expected:
        assert grade.problems, "lost points come with a reason"


def test_reasons_are_clear(graded) -> None:
    _, run, _, _ = graded
    problems = "\n".join(_planar(run, "forgot_average").problems)
    assert "did you average over the batch" in problems
    assert "CellTimeoutError" in "\n".join(_planar(run, "endless_loop").problems) or \
        "layer_sizes` is not defined" in "\n".join(_planar(run, "endless_loop").problems)
    assert "not valid JSON" in "\n".join(_planar(run, "invalid_json").problems)
    assert "empty" in "\n".join(_planar(run, "empty_file").problems)


def test_broken_files_score_zero_and_renamed_notebook_is_graded(graded) -> None:
    _, run, _, _ = graded
    for student in BROKEN_FILES:
        assert _planar(run, student).total == 0
    renamed = _planar(run, RENAMED)
    assert renamed.total == renamed.max_total == 30
    assert any("renamed" in p for p in renamed.problems)


def test_submitted_files_are_untouched(graded) -> None:
    _, _, before, after = graded
    assert before == after


def test_grades_csv_and_feedback(graded) -> None:
    course, run, _, _ = graded
    rows = {r["student_id"]: r for r in csv.DictReader((course.root / "grades.csv").open())}
    assert set(rows) == set(run.students())
    assert float(rows["reference"]["Planar_MLP"]) == 30 and float(rows["untouched"]["Planar_MLP"]) == 0
    assert float(rows["forgot_average"]["q4_backward_propagation"]) == 0
    assert float(rows["reference"]["max_total"]) == sum(g.max_total for g in run.grades if g.student == "reference")
    page = (course.feedback / "forgot_average" / "hw1" / "Planar_MLP.html").read_text()
    assert "average over the batch" in page
    for secret in ("check_hidden", "hw1_hidden", "BEGIN HIDDEN TESTS", "grader_tests", str(course.root)):
        assert secret not in page, secret
    assert "not valid JSON" in (course.feedback / "invalid_json" / "hw1" / "index.html").read_text()


OTTER_STUDENTS = list(CORPUS)


def test_otter_and_nbgrader_agree_question_by_question(graded) -> None:
    course, run, _, _ = graded
    archive = course.dist / archive_name(course, PLANAR)

    def through_otter(student: str):
        notebook = course.submitted / student / "hw1" / PLANAR
        return student, otter_grade(archive, notebook, course.env(), timeout=240, cell_timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(through_otter, OTTER_STUDENTS))
    for student, result in results.items():
        assert result.problem is None, (student, result.problem)
        nbgrader_scores = _planar(run, student).scores
        assert result.scores == nbgrader_scores, student
    assert results["reference"].total == 30 and results["untouched"].total == 0


def test_otter_run_has_a_time_limit(graded, tmp_path: Path) -> None:
    course, _, _, _ = graded
    result = otter_grade(course.dist / archive_name(course, PLANAR),
                         course.submitted / "endless_loop" / "hw1" / PLANAR, course.env(), timeout=30,
                         cell_timeout=None)
    assert result.problem and "stopped after 30 s" in result.problem
