"""Students' text reaches the instructor's console and grades.csv inert (hwkit.progress.inert): ESC,
OSC 52 (the clipboard), BEL and CR in an exception message, an archive file name or a student id are
shown as escapes (`\\x1b`), never acted on by the terminal; newlines are hwkit's own layout only.

Positive controls: the same text, as the run holds it, does carry the raw control characters.
The real routes: a student of the shared class whose answer raises with such a message (tests/hostile.py,
`terminal_escapes`), graded by `hwkit grade`, then reported as `hwkit grade` reports it; and the real
`hwkit grade --archive` command on a zip whose file names carry them.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from pathlib import Path

from hostile import TERMINAL_ESCAPES
from hwkit.course import Course
from hwkit.progress import Progress, inert
from hwkit.report import console_table, write_grades_csv
from hwkit.results import GradeRun, NotebookGrade
from test_cli import USER_ERROR, course, hwkit  # noqa: F401 (course: the fixture)

RAW = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # all but \n
STUDENT = "terminal_escapes"


def test_inert_escapes_what_a_terminal_acts_on() -> None:
    text = "a\x1b[2Jb\x1b]52;c;eA==\x07\r\nc\tè 中\u202eX\u200b\x9b"
    assert RAW.search(text), "positive control"
    shown = inert(text)
    assert not RAW.search(shown) and "\n" not in shown and "\u200b" not in shown
    assert shown == r"a\x1b[2Jb\x1b]52;c;eA==\x07\r\nc\tè 中\u202eX\u200b\x9b"
    assert inert("plain text, 30/30") == "plain text, 30/30"


def test_table_progress_and_csv_show_a_students_text_inert(tmp_path: Path) -> None:
    student = "mallory\x1b[1A\r"
    grade = NotebookGrade(student, "Planar_MLP.ipynb", {"q4_layer_sizes": 0.0}, {"q4_layer_sizes": 1.0},
                          problems=[f"q4_layer_sizes: ValueError: {TERMINAL_ESCAPES}"])
    failed = NotebookGrade("bob", "Planar_MLP.ipynb", {"q4_layer_sizes": None}, {"q4_layer_sizes": 1.0})
    failed.mark_not_graded(f"the judge stopped: {TERMINAL_ESCAPES}")
    run = GradeRun([grade, failed], {})
    assert RAW.search(grade.problems[0]) and RAW.search(failed.status), "positive control: the run holds raw text"
    table = console_table(run)
    assert not RAW.search(table), table
    assert r"\x1b]52;c;cHduZWQ=\x07\rterminal_escapes" in table and r"mallory\x1b[1A\r" in table
    bar = io.StringIO()
    Progress(1, bar).update(student, f" ({TERMINAL_ESCAPES})")
    assert not RAW.search(bar.getvalue()[:-1]) and bar.getvalue().endswith("\n")
    write_grades_csv(run, tmp_path / "grades.csv")
    with (tmp_path / "grades.csv").open() as handle:
        statuses = [row["status"] for row in csv.DictReader(handle)]
    assert not [s for s in statuses if RAW.search(s)] and any(r"\x1b]52" in s for s in statuses), statuses


def test_archive_file_names_reach_the_console_inert(course: Course) -> None:  # noqa: F811 (the fixture)
    """The real `hwkit grade --archive`: file names a student chose (the LMS keeps them) are reported."""
    archive = course.root / "downloads.zip"
    names = ["hw1_\x1b]52;c;cHduZWQ=\x07_attempt_2024-03-01-10-00-00_Planar_MLP.ipynb", "\x1b[2J\rPlanar_MLP.ipynb"]
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.writestr(name, "not a notebook")
    with zipfile.ZipFile(archive) as zf:
        assert [n for n in zf.namelist() if RAW.search(n)] == names, "positive control: the names are raw"
    done = hwkit("grade", "--archive", str(archive), "--unsandboxed", cwd=course.root)
    assert done.returncode == USER_ERROR and "Traceback" not in done.stderr, done.stderr
    assert r"archive: \x1b[2J\rPlanar_MLP.ipynb: name does not match" in done.stderr, done.stderr
    assert r"archive: hw1_\x1b]52;c;cHduZWQ=\x07_attempt" in done.stderr, done.stderr
    assert not RAW.search(done.stdout + done.stderr), done.stdout + done.stderr


def test_a_real_students_exception_message_reaches_the_console_inert(graded_class) -> None:
    """The shared class: `terminal_escapes` raises ValueError(TERMINAL_ESCAPES) in its layout_sizes cell."""
    from hwkit.cli import report_run

    grade = graded_class.grade_of(STUDENT)
    raw = [p for p in grade.problems if TERMINAL_ESCAPES in p]
    assert raw and RAW.search(raw[0]), f"positive control: the reason quotes the raw message: {grade.problems}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report_run(graded_class.course, graded_class.run, graded_class.run.seconds)
    console = out.getvalue()
    mine = [line for line in console.splitlines() if r"\x1b]52;c;cHduZWQ=\x07\rterminal_escapes" in line]
    assert mine, console
    assert not RAW.search(console), [line for line in console.splitlines() if RAW.search(line)]
    assert not RAW.search(graded_class.progress), "the progress lines"
