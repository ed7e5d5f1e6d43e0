"""A whole term's steps on one small class graded for real (`hwkit` commands, real nbgrader, sandbox, judge).

The course's assignment is called hw2 (a copy of hw1: nothing may assume the name). The roster has alice,
bob and carol; alice hands in Problem 1 on time in submitted/, bob hands it in 25 hours late through an LMS
archive, carol hands in nothing. The first run grades with a broken check (q1_softmax's hidden reference
doubled), the second after the fix: the regrade report says who gained. Then feedback release, a TA's
points and `hwkit export` with the late penalty recomputed on them.
"""
from __future__ import annotations

import csv
import io
import shutil
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import copy_course, unless_available
from hwkit.cli import main
from hwkit.course import Course
from hwkit.demo import filled_release
from hwkit.report import MANUAL_COLUMN
from hwkit.walls import available

pytestmark = [pytest.mark.slow, unless_available(available())]

P1 = "Problem1_Softmax_CrossEntropy.ipynb"
ASSIGNMENT = "hw2"
ROSTER = "id,first_name,last_name,email\nalice,Alice,Liddell,alice@uni.edu\nbob,Bob,Dylan,\ncarol,Carol,King,\n"
HIDDEN = Path("grader_tests") / "hw1_hidden" / "problem1.py"
CORRECT_CHECK = 'return {"Z": softmax(inputs["S"])}'
BROKEN_CHECK = 'return {"Z": 2 * softmax(inputs["S"])}'


def hwkit(course: Course, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(["--course", str(course.root), *args, "--assignment", ASSIGNMENT])
    return code, out.getvalue()


def rows(path: Path) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in csv.DictReader(path.open())}


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("term") / "course"
    hw1 = copy_course(root)
    shutil.copytree(hw1.source, root / "source" / ASSIGNMENT)
    course = Course.at(root, ASSIGNMENT)
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.LatePolicy.due_dates = {}",
                                                 f'c.LatePolicy.due_dates = {{"{ASSIGNMENT}": "2024-03-02 23:59:59"}}'))
    (root.parent / "students.csv").write_text(ROSTER)
    steps = {"roster": hwkit(course, "roster", str(root.parent / "students.csv"))}
    folder = course.submitted / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(filled_release(hw1, P1), folder / P1)
    (folder / "timestamp.txt").write_text("2024-03-02 12:00:00")
    archive = root.parent / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{ASSIGNMENT}_bob_attempt_2024-03-04-01-00-00_{P1}", nbformat.writes(filled_release(hw1, P1)))
    hidden = root / HIDDEN
    hidden.write_text(hidden.read_text().replace(CORRECT_CHECK, BROKEN_CHECK))
    grade = ("grade", "--archive", str(archive), "--jobs", "2", "--timeout", "15")
    steps["first"] = hwkit(course, *grade)
    steps["first_csv"] = rows(course.grades_csv)
    hidden.write_text(hidden.read_text().replace(BROKEN_CHECK, CORRECT_CHECK))
    steps["regrade"] = hwkit(course, *grade)
    steps["release"] = hwkit(course, "release-feedback")
    return {"course": course, **steps}


def test_roster_non_submitter_and_the_assignment_by_name(term) -> None:
    code, out = term["roster"]
    assert code == 0 and "3 student(s) on the roster" in out
    code, out = term["regrade"]
    assert code == 0, out
    table = rows(term["course"].grades_csv)
    assert sorted(table) == ["alice", "bob", "carol"]
    assert (table["carol"]["total"], table["carol"]["status"]) == ("0", "no submission")
    assert "0/100 no submission" in out and "1 on the roster handed in nothing" in out
    assert (term["course"].autograded / "alice" / ASSIGNMENT / P1).exists()


def test_automatic_and_manual_points_are_apart(term) -> None:
    alice = rows(term["course"].grades_csv)["alice"]
    automatic = (alice["automatic"], alice["automatic_max"], alice[MANUAL_COLUMN], alice["awaiting_ta"])
    assert automatic == ("8", "66", "", "7")
    assert alice["q1_1_written"] == "" and alice["q1_softmax"] == "1" and alice["total"] == "8"
    assert "8/66 automatic; 7 points await a TA" in term["regrade"][1]


def test_late_submission_from_the_lms_archive_loses_its_percentage(term) -> None:
    bob = rows(term["course"].grades_csv)["bob"]
    assert (bob["submitted_at"], bob["days_late"], bob["late_penalty"], bob["total"]) == ("2024-03-04 01:00:00", "2",
                                                                                          "1.6", "6.4")
    assert rows(term["course"].grades_csv)["alice"]["late_penalty"] == "0"
    assert "late by 1 day 2 h: -20% (-1.6 points)" in term["regrade"][1]


def test_regrade_after_a_fixed_check_reports_who_gained(term) -> None:
    assert term["first_csv"]["alice"]["q1_softmax"] == "0"  # the broken check
    code, out = term["regrade"]
    assert "regrade: 2 of 2 student(s) graded again changed score" in out
    assert "alice +1: q1_softmax 0 -> 1" in out and "bob +1: q1_softmax 0 -> 1" in out
    [report] = term["course"].root.glob("regrade-*.csv")
    changed = {(r["student_id"], r["question"], r["before"], r["after"], r["change"])
               for r in csv.DictReader(report.open())}
    assert changed == {("alice", "q1_softmax", "0", "1", "+1"), ("bob", "q1_softmax", "0", "1", "+1")}


def test_feedback_release_and_canvas_export(term) -> None:
    course = term["course"]
    code, out = term["release"]
    folder = course.root / "feedback-release" / ASSIGNMENT
    zips = sorted(p.name for p in folder.iterdir())
    assert code == 0 and str(folder) in out and zips == ["alice.zip", "bob.zip", "carol.zip"]
    with zipfile.ZipFile(folder / "bob.zip") as zf:
        assert {f"{ASSIGNMENT}/index.html", f"{ASSIGNMENT}/{Path(P1).stem}.html"} <= set(zf.namelist())
        index = zf.read(f"{ASSIGNMENT}/index.html").decode()
        assert "bob" in index and "late by 1 day 2 h: -20% (-1.6 points)" in index
    with zipfile.ZipFile(folder / "carol.zip") as zf:  # the roster's non-submitter learns why she has 0
        pages = [n for n in zf.namelist() if not n.startswith(f"{ASSIGNMENT}/mathjax/")]  # maths offline
        assert pages == [f"{ASSIGNMENT}/index.html"] and b"no submission" in zf.read(f"{ASSIGNMENT}/index.html")
    canvas = list(csv.reader((course.canvas_csv).open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "100"
    assert canvas[2:] == [["Liddell, Alice", "", "alice", "", "", "8"], ["Dylan, Bob", "", "bob", "", "", "6.4"],
                          ["King, Carol", "", "carol", "", "", "0"]]


def test_export_after_a_ta_graded_recomputes_the_penalty(term) -> None:
    """A TA's points (written through nbgrader's API, as formgrader saves them) count, and the late
    percentage applies to them too."""
    course = term["course"]
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        for student, points in (("alice", 4.0), ("bob", 4.0)):
            grade = gradebook.find_grade("q1_1_written", Path(P1).stem, ASSIGNMENT, student)
            grade.manual_score, grade.needs_manual_grade = points, False
        gradebook.db.commit()
    code, out = hwkit(course, "export")
    table = rows(course.grades_csv)
    assert code == 0, out
    alice = table["alice"]
    assert (alice["q1_1_written"], alice[MANUAL_COLUMN], alice["awaiting_ta"]) == ("4", "", "3")
    assert table["alice"]["total"] == "12"
    assert (table["bob"]["late_penalty"], table["bob"]["total"]) == ("2.4", "9.6")  # 20% of 8 + 4
    assert table["carol"]["status"] == "no submission"
    assert "8/66 automatic + 4 by a TA; 3 points await a TA" in out
