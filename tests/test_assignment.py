"""The assignment model (hwkit/assignment.py): what an assignment is, read from the course folder
once; and what is kept per assignment (cache, regrade report)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import copy_course
from hwkit.assignment import assignments_of, load
from hwkit.cache import cache_folder, store_cached
from hwkit.course import Course, CourseError
from hwkit.regrade import previous_scores
from hwkit.results import NotebookGrade


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return copy_course(tmp_path / "course")


def test_homework_1_as_the_model_reads_it(course: Course) -> None:
    """The README's table: 66 automatic and 34 hand-graded points over four notebooks; the packages by convention."""
    model = load(course)
    assert model.notebook_names == sorted(p.name for p in course.source.glob("*.ipynb"))
    auto = sum(q.points for nb in model.notebooks for q in nb.auto)
    assert (auto, model.total_points - auto, model.total_points) == (66, 34, 100)
    assert model.notebook("Planar_MLP.ipynb").max_scores["q4_backward_propagation"] == 3
    assert "q3_2_written" in model.notebook("Problem3_Siamese_Nets.ipynb").manual
    assert (model.checks, model.hidden) == ("hw1_checks", "hw1_hidden")
    assert model.hidden_folder == course.grader_tests / "hw1_hidden"


def test_an_ordinary_assignment_has_no_packages_and_a_misspelled_one_is_one_sentence(course: Course) -> None:
    hw7 = course.root / "source" / "hw7"
    hw7.mkdir()
    shutil.copy(course.source / "Problem1_Softmax_CrossEntropy.ipynb", hw7)
    model = load(Course.at(course.root, "hw7"))
    assert (model.checks, model.hidden, model.notebook_names) == (None, None, ["Problem1_Softmax_CrossEntropy.ipynb"])
    assert assignments_of(course) == ["hw0", "hw1", "hw7"]
    with pytest.raises(CourseError, match=r"--assignment hw9: .*\(the course's assignments: hw0, hw1, hw7\)"):
        load(Course.at(course.root, "hw9"))


def test_a_changed_notebook_is_read_again(course: Course) -> None:
    before = load(course)
    path = course.source / "Planar_MLP.ipynb"
    path.write_text(path.read_text().replace('"points": 3', '"points": 4', 1))
    assert load(course) is not before and load(course).total_points == before.total_points + 1


def test_each_assignment_keeps_its_own_cache_and_regrade_history(course: Course) -> None:
    """Grading hw2 after hw1 neither overwrites hw1's cached grades nor compares hw2 with hw1's scores."""
    hw1, hw2 = course, Course.at(course.root, "hw2")
    for one, question in ((hw1, "q1_softmax"), (hw2, "q_other")):
        grade = NotebookGrade("alice", "Notebook.ipynb", {question: 1.0}, {question: 1.0})
        store_cached(one, "alice", f"key-{one.assignment}", [grade], {})
    assert cache_folder(hw1) != cache_folder(hw2)
    assert previous_scores(hw1) == {"alice": {("Notebook.ipynb", "q1_softmax"): 1.0}}
    assert previous_scores(hw2) == {"alice": {("Notebook.ipynb", "q_other"): 1.0}}
