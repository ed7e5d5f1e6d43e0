"""The reports people read, from a GradeRun as grading leaves it (no grading here: fast): the
student's index.html (questions named, written answers "not graded yet", students not graded,
escaped, the look of the notebooks' pages, MathJax beside it) and the summary figure (whole
students, "not graded" apart from 0).
"""
from __future__ import annotations

import re
from pathlib import Path

from hwkit.course import Course
from hwkit.feedback import MATHJAX
from hwkit.report import summary_figure, write_summaries, write_summary_figure
from hwkit.results import GradeRun, NotebookGrade

PROBLEM1 = {"q1_softmax": 1.0, "q1_grad_hidden_to_output": 2.0, "q1_1_written": 4.0}
PLANAR = {"q4_backward_propagation": 3.0}
ODD = "o'brien&<b>"  # a student id an LMS may give; never markup in the page


def _run() -> GradeRun:
    grades = [NotebookGrade("alice", "Problem1.ipynb", {"q1_softmax": 1.0, "q1_grad_hidden_to_output": 0.0,
                                                        "q1_1_written": None}, PROBLEM1,
                            ["q1_grad_hidden_to_output: dJ/dW2 has the wrong shape <(3, 2)>"]),
              NotebookGrade("alice", "Planar_MLP.ipynb", {"q4_backward_propagation": 3.0}, PLANAR),
              NotebookGrade("bob", "Problem1.ipynb", {"q1_softmax": 0.0, "q1_grad_hidden_to_output": 2.0,
                                                      "q1_1_written": None}, PROBLEM1),
              NotebookGrade("bob", "Planar_MLP.ipynb", {"q4_backward_propagation": 0.0}, PLANAR),
              NotebookGrade(ODD, "Problem1.ipynb", {}, PROBLEM1, status="not graded: the grading worker crashed"),
              NotebookGrade(ODD, "Planar_MLP.ipynb", {"q4_backward_propagation": 3.0}, PLANAR)]
    return GradeRun(grades, {"alice": ["graded from downloads.zip, not from submitted/alice/"]})


def test_index_names_questions_and_says_what_waits(tmp_path: Path) -> None:
    course = Course(tmp_path.resolve(), "hw1")
    folder = course.feedback / "alice" / course.assignment
    folder.mkdir(parents=True)
    (folder / "Problem1.html").write_text("<html></html>")  # nbgrader's page of this notebook
    run = _run()
    write_summaries(run, course)
    page = (folder / "index.html").read_text()
    assert "Total: <strong>4</strong>\n        / 10 points" in page
    assert "(4 of them not graded yet" in page
    assert '<a href="Problem1.html">Problem1.ipynb</a>' in page and '<a href="Planar_MLP' not in page
    for question, points in (("q1_softmax", "1 / 1"), ("q1_grad_hidden_to_output", "0 / 2"),
                             ("q1_1_written", "not graded yet (of 4)"), ("q4_backward_propagation", "3 / 3")):
        cell = re.search(rf'<td>(<a href="Problem1.html#{question}">)?{question}(</a>)?</td>'
                         rf'\s*<td class="points">(.*?)</td>', page, re.S)
        assert cell and points in cell.group(3), (question, cell and cell.group(3))
        assert bool(cell.group(1)) == question.startswith("q1"), "a link to the question in the notebook's page"
    assert "wrong shape &lt;(3, 2)&gt;" in page, "reasons are text"
    assert "graded from downloads.zip" in page
    assert ".panel{" in page and ".questions" in page, "Bootstrap and hwkit.css: the notebooks' pages' look"
    assert (folder / MATHJAX / "MathJax.js").is_file(), "MathJax for the notebook pages, in the folder"

    odd = (course.feedback / ODD / course.assignment / "index.html").read_text()
    assert ODD not in odd and "o&#39;brien&amp;&lt;b&gt;" in odd
    assert "NOT GRADED" in odd and "NOT GRADED: THE GRADING WORKER CRASHED" in odd and "3 / 3" in odd


def test_summary_figure_counts_whole_students_and_keeps_not_graded_apart(tmp_path: Path) -> None:
    run = _run()
    totals, questions = summary_figure(run).axes
    assert all(float(t).is_integer() for t in totals.get_yticks()), totals.get_yticks()
    heights = [p.get_height() for p in totals.patches]
    assert sum(heights[:-1]) == 2 and heights[-1] == 1, "alice and bob in the histogram; the odd one apart"
    assert [t.get_text() for t in totals.texts] == ["not\ngraded"]
    assert max(totals.get_xticks()) <= 10, "no axis ticks past the maximum"
    assert "1 not graded" in totals.get_title() and "up to 4 wait for a TA" in totals.get_xlabel()

    labels = [t.get_text() for t in questions.get_yticklabels()]
    assert labels == ["q1_softmax (1)", "q1_grad_hidden_to_output (2)", "q1_1_written (4)",
                      "q4_backward_propagation (3)"]
    notes = [t.get_text() for t in questions.texts]
    assert notes == ["50 %", "50 %", "not graded yet (2 students)", "50 %"]
    written = questions.patches[2]
    assert written.get_hatch() and written.get_width() == 100, "waiting for a TA: hatched, not a 0 % bar"
    assert write_summary_figure(run, tmp_path / "grades-summary.png").stat().st_size > 10_000
