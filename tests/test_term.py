"""The term workflow without grading (fast): roster import through nbgrader, the late policy on a real
nbgrader gradebook (cross-checked with `nbgrader export`), the gradebook view and grades.csv's columns, the
console's words, the Canvas import file, the feedback release's refusals and the regrade comparison.
tests/test_term_class.py and tests/test_one_gradebook.py run the same steps on classes graded for real."""
from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import copy_course
from hwkit.canvas import FIXED_COLUMNS
from hwkit.cli import main
from hwkit.course import Course, nbgrader
from hwkit.gradebook_view import read_view
from hwkit.late import LatePolicy, describe
from hwkit.publish import write_grade_files
from hwkit.regrade import changes, finish_baseline, previous_scores, start_baseline
from hwkit.report import MANUAL_COLUMN, console_table, write_grades_csv
from hwkit.results import GradeRun, Lateness, NotebookGrade

P1 = "Problem1_Softmax_CrossEntropy.ipynb"
P1_AUTO = {"q1_softmax": 1.0, "q1_cross_entropy": 1.0, "q1_grad_hidden_to_output": 2.0,
           "q1_grad_input_to_hidden": 2.0, "q1_nll_equivalence": 2.0}
P1_MANUAL = {"q1_1_written": 4.0, "q1_2_written": 3.0}
ROSTER = "id,first_name,last_name,email\nalice,Alice,Liddell,alice@uni.edu\nbob,Bob,Dylan,\ncarol,Carol,King,\n"


def p1_grade(student: str, auto: float | None = None, written: float | None = None) -> NotebookGrade:
    """Problem 1 with every automatic question at full points (or `auto` each) and the written ones as given."""
    scores = {q: (m if auto is None else auto) for q, m in P1_AUTO.items()} | dict.fromkeys(P1_MANUAL, written)
    return NotebookGrade(student, P1, scores, P1_AUTO | P1_MANUAL, manual=list(P1_MANUAL))


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return copy_course(tmp_path / "course")


@pytest.fixture
def p1_course(course: Course) -> Course:
    """The course with Problem 1 as hw1's only notebook (the gradebook below holds only it)."""
    for notebook in course.source.glob("*.ipynb"):
        if notebook.name != P1:
            notebook.unlink()
    return course


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_late_policy_percent_per_started_day_capped() -> None:
    policy = LatePolicy(percent_per_day=10, max_percent=25)
    assert [policy.percent(s) for s in (0, 1, 86400, 86401, 10 * 86400)] == [0, 10, 10, 20, 25]
    assert policy.late_submission_penalty("bob", 60, 86401) == 12
    assert LatePolicy(penalty_method="zero").percent(5) == 100
    assert describe(Lateness("2024-03-03 10:00:00", "2024-03-02 00:00:00", 34 * 3600, 20, 12)) == \
        "late by 1 day 10 h: -20% (-12 points)"
    assert describe(Lateness(None, None)) == ""


def test_roster_import_through_nbgrader_and_its_errors(course: Course, tmp_path: Path) -> None:
    roster = tmp_path / "students.csv"
    roster.write_text("\ufeff" + ROSTER, encoding="utf-8")  # as a spreadsheet saves it
    code, out, _ = run_cli("--course", str(course.root), "roster", str(roster))
    assert code == 0 and "3 student(s) on the roster" in out
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        assert {(s.id, s.last_name, s.email) for s in gradebook.students} == {
            ("alice", "Liddell", "alice@uni.edu"), ("bob", "Dylan", None), ("carol", "King", None)}
    for text, words in (("student,name\nalice,Alice\n", "has no `id` column"),
                        ("id,first_name\n,Ann\n", "line 2 has no student id")):
        roster.write_text(text)
        code, out, err = run_cli("--course", str(course.root), "roster", str(roster))
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli("--course", str(course.root), "roster", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err


def _gradebook_with(course: Course, submissions: dict[str, tuple[str, float | None]]) -> None:
    """The course gradebook as `hwkit roster`, `hwkit grade` and a TA leave it: the roster, Problem 1
    registered, each submission with its timestamp, the automatic points of p1_grade and the written ones."""
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        gradebook.add_assignment(course.assignment)
        gradebook.add_notebook(Path(P1).stem, course.assignment)
        for question, points in (P1_AUTO | P1_MANUAL).items():
            gradebook.add_grade_cell(question, Path(P1).stem, course.assignment, max_score=points,
                                     cell_type="code" if question in P1_AUTO else "markdown")
        for line in ROSTER.splitlines()[1:]:
            student, first, last, email = line.split(",")
            gradebook.update_or_create_student(student, first_name=first, last_name=last, email=email or None)
        for student, (stamp, written) in submissions.items():
            gradebook.add_submission(course.assignment, student, timestamp=stamp)
            for question, points in P1_AUTO.items():
                gradebook.find_grade(question, Path(P1).stem, course.assignment, student).auto_score = points
            for question in P1_MANUAL:  # as autograde leaves a written answer: waiting for a TA
                grade = gradebook.find_grade(question, Path(P1).stem, course.assignment, student)
                grade.manual_score, grade.needs_manual_grade = written, written is None
        gradebook.db.commit()


def test_roster_late_penalty_grades_csv_and_canvas_on_a_real_gradebook(p1_course: Course) -> None:
    """carol is on the roster and handed in nothing; bob handed in 1 day 1 hour late (2 started days: 20% of his
    14 points, a TA's included). nbgrader's own `nbgrader export` reads the same penalty from the gradebook."""
    course = p1_course
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text().replace('c.LatePolicy.due_dates = {}', 'c.LatePolicy.due_dates = '
                                                  '{"hw1": "2024-03-02 23:59:59"}'))
    _gradebook_with(course, {"alice": ("2024-03-02 10:00:00", None), "bob": ("2024-03-04 00:59:59", 3.0)})
    run = read_view(course)
    assert run.absent == ["carol"] and run.students() == ["alice", "bob", "carol"]
    assert run.late["bob"] == Lateness("2024-03-04 00:59:59", "2024-03-02 23:59:59", 90000.0, 20.0, 2.8, {P1: 2.8})
    assert not run.late["alice"].late and run.late["alice"].points == 0
    assert any("late by 1 day 1 h" in note for note in run.notes["bob"]) and "alice" not in run.notes
    grades_csv, canvas_csv = write_grade_files(course, run, course.grades_csv)
    rows = {r["student_id"]: r for r in csv.DictReader(grades_csv.open())}
    alice, bob, carol = rows["alice"], rows["bob"], rows["carol"]
    assert (alice["automatic"], alice["automatic_max"], alice[MANUAL_COLUMN], alice["manual_max"]) == \
        ("8", "8", "", "7")
    assert alice["q1_1_written"] == "" and alice["awaiting_ta"] == "7" and alice["total"] == "8"
    assert (bob[MANUAL_COLUMN], bob["awaiting_ta"], bob["days_late"], bob["late_penalty"]) == ("6", "0", "2", "2.8")
    assert bob["total"] == "11.2" and bob["submitted_at"] == "2024-03-04 00:59:59"
    assert (alice["first_name"], alice["last_name"], alice["email"]) == ("Alice", "Liddell", "alice@uni.edu")
    assert list(rows["bob"])[:4] == ["student_id", "first_name", "last_name", "email"] and bob["email"] == ""
    assert (carol["total"], carol["automatic"], carol["status"]) == ("0", "0", "no submission")

    exported = course.root / "nbgrader-export.csv"
    done = nbgrader(course.root, "export", f"--to={exported}", env=course.env())
    assert done.returncode == 0, done.stderr
    theirs = {r["student_id"]: r for r in csv.DictReader(exported.open())}
    assert float(theirs["bob"]["late_submission_penalty"]) == 2.8 and float(theirs["bob"]["score"]) == 11.2
    assert theirs["carol"]["score"] == "0.0" and theirs["bob"]["duedate"] == "2024-03-02 23:59:59"

    lines = canvas_csv.read_text().splitlines()
    assert lines[0] == ",".join(FIXED_COLUMNS) + ",hw1" and lines[1] == "    Points Possible,,,,,15"
    canvas = list(csv.reader(lines[2:]))
    assert canvas == [["Liddell, Alice", "", "alice", "", "", "8"], ["Dylan, Bob", "", "bob", "", "", "11.2"],
                      ["King, Carol", "", "carol", "", "", "0"]]

    table = console_table(run)
    assert "8/8 automatic; 7 points await a TA" in table
    assert "11.2/15 (late -2.8)" in table and "late by 1 day 1 h: -20% (-2.8 points)" in table
    assert "0/15 no submission" in table


def test_canvas_column_names_an_existing_assignment(course: Course) -> None:
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.CanvasExport.assignment_ids = {}",
                                                 'c.CanvasExport.assignment_ids = {"hw1": "4242"}'))
    write_grade_files(course, GradeRun([p1_grade("alice")], {}), course.grades_csv)
    assert (course.canvas_csv).read_text().splitlines()[0].endswith(",hw1 (4242)")


def test_grades_csv_keeps_written_answers_blank_until_graded(tmp_path: Path) -> None:
    half = p1_grade("ann", written=None)
    half.scores["q1_1_written"] = 4.0  # one written answer graded by a TA, one not yet
    crashed = p1_grade("cid")
    crashed.mark_not_graded("grading did not finish")
    write_grades_csv(GradeRun([half, crashed], {}), tmp_path / "grades.csv")
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert (rows["ann"]["q1_1_written"], rows["ann"]["q1_2_written"]) == ("4", "")
    assert (rows["ann"][MANUAL_COLUMN], rows["ann"]["awaiting_ta"], rows["ann"]["total"]) == ("", "3", "12")
    assert all(rows["cid"][c] == "" for c in ("automatic", MANUAL_COLUMN, "awaiting_ta", "total", "q1_softmax"))
    table = console_table(GradeRun([half], {}))
    assert "8/8 automatic + 4 by a TA; 3 points await a TA" in table and "12/12 (+3 TA)" in table


def test_release_feedback_and_export_refuse_in_one_sentence(course: Course) -> None:
    """Before anything was graded, and with a misspelled --assignment: one sentence, exit 2, nothing written."""
    for command in ("release-feedback", "export"):
        code, out, err = run_cli("--course", str(course.root), command)
        assert code == 2 and "nothing graded yet" in err and len(err.strip().splitlines()) == 1, err
        code, _, err = run_cli("--course", str(course.root), command, "--assignment", "hw2")
        assert code == 2 and "--assignment hw2" in err and "the course's assignments: hw0, hw1" in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (course.root / "feedback-release").exists() and not course.grades_csv.exists()


def test_regrade_compares_with_the_last_complete_run(course: Course) -> None:
    """The baseline is the records as the first run after a complete one found them; a run that was interrupted
    leaves it, so the next run still compares everyone graded since (alice, graded before the interrupt)."""
    cache = course.autograded / ".hwkit-cache" / course.assignment
    cache.mkdir(parents=True)

    def record(student: str, key: str, softmax: float) -> None:
        grade = p1_grade(student, written=None)
        grade.scores["q1_softmax"] = softmax
        (cache / f"{student}.json").write_text(json.dumps({"key": key, "grades": [grade.__dict__]}))

    for student, softmax in (("alice", 0.0), ("bob", 1.0), ("cid", 0.0)):
        record(student, "old", softmax)
    assert previous_scores(course)["bob"][(P1, "q1_softmax")] == 1.0
    baseline = start_baseline(course)
    record("alice", "new", 1.0)  # graded, then the run was interrupted
    assert start_baseline(course) == baseline  # the resumed run compares with the same baseline
    record("bob", "new", 0.0)
    now = GradeRun([p1_grade("alice"), p1_grade("bob", auto=0.0), p1_grade("cid", auto=0.0)], {})
    found, compared = changes(baseline, now, {"alice": "new", "bob": "new", "cid": "old"})
    assert compared == ["alice", "bob"]  # cid's record did not change: not graded again
    assert [(c.student, c.question, c.before, c.after, c.delta) for c in found if c.student == "alice"] == [
        ("alice", "q1_softmax", 0.0, 1.0, 1.0)]
    assert sum(c.delta for c in found if c.student == "bob") == -8
    assert not any(c.question in P1_MANUAL for c in found)  # a TA's points are not the checks'
    finish_baseline(course)
    assert start_baseline(course)["alice"][0] == "new"  # after a complete run: a new baseline


def test_a_long_reason_wraps_in_the_browser(tmp_path: Path) -> None:
    """A reason quoting a long unbroken value (an array, a path) wraps: the page never scrolls sideways."""
    from test_one_gradebook import chromium_or_skip

    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from hwkit.report import write_summaries

    course = Course(tmp_path.resolve(), "hw1")
    grade = p1_grade("ann", auto=0.0, written=2.0)
    grade.problems.append("q1_softmax: expected " + "0.12345678," * 80)
    grade.comments["q1_1_written"] = "see " + "x" * 300
    write_summaries(GradeRun([grade], {}), course)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.goto((course.feedback / "ann" / "hw1" / "index.html").as_uri())
            assert "0.12345678" in page.inner_text("body") and "TA: see xxx" in page.inner_text("body")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        finally:
            browser.close()
