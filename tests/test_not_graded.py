"""A notebook the judge could not run is NOT GRADED, not 0 points (issue 13, item 4): the record
of it, and every report of it."""
from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

from hwkit.course import Course
from hwkit.judge import CellRun, Verdict
from hwkit.record import _fill_scores
from hwkit.report import console_table, write_grades_csv
from hwkit.results import GradeRun, NotebookGrade


class _Gradebook:  # what _fill_scores reads of nbgrader's Gradebook: one notebook's cell grades
    def find_submission_notebook(self, *args):
        return SimpleNamespace(grades=[SimpleNamespace(name="q1", needs_manual_grade=False, score=0.0)])


def _fill(judged) -> NotebookGrade:
    grade = NotebookGrade("ann", "Planar_MLP.ipynb", {"q1": 0.0}, {"q1": 2.0})
    _fill_scores(_Gradebook(), grade, Course(Path("/nowhere"), "hw1"), judged)
    return grade


def test_a_notebook_the_judge_could_not_run_is_not_graded(tmp_path: Path) -> None:
    lost = _fill(([Verdict("q1", 0.0, 2.0, "q1, public case 1: wrong shape")], CellRun([])))
    assert lost.graded and lost.total == 0
    unjudged = _fill(([Verdict("q1", 0.0, 2.0, "not graded: running the notebook's code for the checks failed "
                                              "(the observer did not answer)")], CellRun([])))
    assert not unjudged.graded and unjudged.status.startswith("not graded: running the notebook's code")
    missing = _fill(None)
    assert not missing.graded and "was not judged" in missing.status
    write_grades_csv(GradeRun([lost, NotebookGrade("bob", "Planar_MLP.ipynb", {"q1": 0.0}, {"q1": 2.0},
                                                   status=unjudged.status)], {}), tmp_path / "grades.csv")
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert rows["ann"]["total"] == "0" and rows["ann"]["status"] == "graded"
    assert rows["bob"]["total"] == rows["bob"]["q1"] == rows["bob"]["Planar_MLP"] == ""
    assert rows["bob"]["status"] == unjudged.status
    table = console_table(GradeRun([unjudged], {}))
    assert "NOT GRADED" in table and "0/2" not in table
