"""The policy checked before any work (hwkit/policy.py, late.parse_due, roster.check_roster_file): each slip in
nbgrader_config.py or the roster is one sentence, all of them at once, exit 2, and nothing written, before
anything is graded. The due date a run applies is its UTC reading (an offset is kept, never dropped), and the
config is its only source: removing it from the config removes it from the gradebook."""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import copy_course
from hwkit.cli import main
from hwkit.course import Course
from hwkit.late import apply_late_policy, parse_due
from hwkit.policy import check_policy, due_date_line
from hwkit.results import GradeRun


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def configure(course: Course, *lines: str) -> None:
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\n" + "\n".join(lines) + "\n")


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return copy_course(tmp_path / "course")


def written(course: Course) -> list[str]:
    """What a grading run writes in the course folder."""
    names = ("gradebook.db", "autograded", "feedback", "grades-hw1.csv", "grades-canvas-hw1.csv")
    return [name for name in names if (course.root / name).exists()]


@pytest.mark.parametrize(("text", "utc"), [
    ("2025-03-08 23:59:59", "2025-03-08 23:59:59"),  # no offset: UTC, as nbgrader reads it
    ("2025-03-08T23:59:59+08:00", "2025-03-08 15:59:59"),
    ("2025-03-08 23:59:59 +08:00", "2025-03-08 15:59:59"),  # nbgrader's own spelling: it dropped the offset
    ("2025-03-08 23:59 -0500", "2025-03-09 04:59:00"),
    ("2025-03-08 23:59:59Z", "2025-03-08 23:59:59"),
])
def test_due_dates_are_iso_and_keep_their_offset(text: str, utc: str) -> None:
    assert parse_due(text) == datetime.fromisoformat(utc)


@pytest.mark.parametrize("text", ["2025-0308 23:59:59", "08/03/2025", "2025-03-08", "2025-02-30 10:00:00", "soon"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is no date|is not an ISO date"):
        parse_due(text)


def test_every_slip_of_the_config_is_one_sentence_exit_2_nothing_written(course: Course) -> None:
    """Five slips, five lines, before anything is prepared or written (the positive control: the same course
    without them passes the check)."""
    assert check_policy(course) == []
    configure(course, 'c.LatePolicy.due_dates = {"HW1": "2025-03-08 23:59:59", "hw0": "08/03/2025"}',
              "c.LatePolicy.percent_per_day = 150", 'c.LatePolicy.max_percent = "50"',
              'c.CanvasExport.assignment_ids = {"hw1": "course 42"}')
    problems = [str(p) for p in check_policy(course)]
    assert len(problems) == 5, problems
    assert any("'HW1', which is not an assignment of the course (hw0, hw1)" in p for p in problems)
    assert any("due_dates['hw0']: '08/03/2025' is not an ISO date" in p for p in problems)
    assert any("percent_per_day = 150" in p for p in problems) and any("max_percent = '50'" in p for p in problems)
    assert any("assignment_ids['hw1'] = 'course 42'" in p for p in problems)
    (course.root / "submitted" / "alice" / "hw1").mkdir(parents=True)
    code, out, err = run_cli("--course", str(course.root), "grade")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 5 and all(line.startswith("hwkit grade: nbgrader_config.py: ") for line in lines)
    assert "Traceback" not in err and not out and written(course) == []


def test_a_config_that_does_not_load_is_one_sentence(course: Course) -> None:
    configure(course, "c.LatePolicy.due_dates = {'hw1': }")
    problems = check_policy(course)
    assert len(problems) == 1 and "cannot be loaded (SyntaxError" in str(problems[0])


def test_every_bad_roster_row_is_listed_and_nothing_imported(course: Course, tmp_path: Path) -> None:
    roster = tmp_path / "students.csv"
    roster.write_text("id,first_name,last_name,email,lms_user_id\n"
                      " alice ,Alice,Liddell, alice@uni.edu ,12001\n"  # trimmed: fine
                      "bob smith,Bob,Smith,,12002\n"
                      ",Nobody,,,\n"
                      "carol,Carol,King,,12001\n"
                      "carol,Carol,Queen,,x12\n")
    code, out, err = run_cli("--course", str(course.root), "roster", str(roster))
    lines = err.strip().splitlines()
    assert code == 2 and not out and not course.gradebook.exists(), err
    assert len(lines) == 5, lines
    for words in ("line 3: 'bob smith' is not a student id", "line 4 has no student id",
                  "line 6: lms_user_id 'x12' is not a Canvas user id", "line 5 and line 6 have the same id 'carol'",
                  "line 2 and line 5 have the same lms_user_id '12001'"):
        assert any(words in line for line in lines), (words, lines)
    roster.write_text("id,first_name,last_name,email,lms_user_id\n alice ,Alice,Liddell, alice@uni.edu ,12001\n")
    assert run_cli("--course", str(course.root), "roster", str(roster))[0] == 0
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        assert [(s.id, s.email, s.lms_user_id) for s in gradebook.students] == [("alice", "alice@uni.edu", "12001")]


def test_a_bad_roster_in_the_gradebook_stops_grading(course: Course) -> None:
    """A roster imported before these checks (a phantom id with spaces, a Canvas id shared) is found by hwkit grade."""
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        gradebook.update_or_create_student(" alice", lms_user_id="12001")
        gradebook.update_or_create_student("bob", lms_user_id="12001")
    problems = [str(p) for p in check_policy(course)]
    assert len(problems) == 2 and all(p.startswith("the roster: ") for p in problems), problems
    assert "student ' alice'" in problems[0] and "the same lms_user_id '12001'" in problems[1]


def test_the_config_is_the_only_source_of_the_due_date(course: Course) -> None:
    """The console names the due date in UTC; removing it from the config removes the gradebook's (an earlier
    run's), so no student is late against a date nobody sees any more."""
    configure(course, 'c.LatePolicy.due_dates = {"hw1": "2025-03-08 23:59:59+08:00"}')
    assert due_date_line(course) == ("due date of hw1: 2025-03-08 15:59:59 UTC (c.LatePolicy.due_dates in "
                                     "nbgrader_config.py)")
    db_url = f"sqlite:///{course.gradebook}"
    with Gradebook(db_url) as gradebook:
        gradebook.add_assignment("hw1", duedate="2025-03-01 00:00:00")
    apply_late_policy(course, GradeRun([], {}), db_url)
    with Gradebook(db_url) as gradebook:
        assert gradebook.find_assignment("hw1").duedate == datetime(2025, 3, 8, 15, 59, 59)
    configure(course, "c.LatePolicy.due_dates = {}")
    assert "none (c.LatePolicy.due_dates in nbgrader_config.py names none): no late penalty" in due_date_line(course)
    apply_late_policy(course, GradeRun([], {}), db_url)
    with Gradebook(db_url) as gradebook:
        assert gradebook.find_assignment("hw1").duedate is None


def test_other_commands_stop_in_one_sentence_on_a_bad_due_date(course: Course) -> None:
    """hwkit export reads the due date too (the late penalty): a slip there is one sentence, exit 2."""
    from hwkit.course import CourseError
    from hwkit.late import load_policy

    configure(course, 'c.LatePolicy.due_dates = {"hw1": "2025-0308 23:59:59"}')
    with pytest.raises(CourseError, match=r"due_dates\['hw1'\] in nbgrader_config.py: '2025-0308 23:59:59' is not"):
        load_policy(course).due("hw1")
