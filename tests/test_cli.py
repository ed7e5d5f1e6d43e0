"""The command line from a user's chair: `hwkit` started from inside or outside a course, with
`--course` before or after the command, and the slips users make. Every slip ends in one sentence
on stderr that says what to do, exit code 2, no traceback, and nothing written.

All but the last tests are fast: they stop before any grading starts (`hwkit lab` starts a real
JupyterLab, without kernels). The last one grades one notebook (slow)."""
from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, copy_course
from hwkit.course import Course

USER_ERROR = 2


def hwkit(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m hwkit.cli ...` started in `cwd`, importing this checkout's hwkit."""
    return subprocess.run([sys.executable, "-m", "hwkit.cli", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def assert_one_sentence(done: subprocess.CompletedProcess, *words: str) -> str:
    """A user error: exit code 2, one line on stderr that ends a sentence, no traceback."""
    message = done.stderr.strip()
    assert done.returncode == USER_ERROR, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert len(message.splitlines()) == 1 and message.endswith("."), message
    for word in words:
        assert word in message, (word, message)
    return message


@pytest.fixture()
def course(tmp_path: Path) -> Course:
    return copy_course(tmp_path / "course")


@pytest.fixture()
def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("command", [["grade"], ["build"], ["export"], ["lab"], ["demo"],
                                     ["otter-grade", "Planar_MLP.ipynb"]], ids=" ".join)
def test_outside_a_course_every_command_says_so(elsewhere: Path, command: list[str]) -> None:
    done = hwkit(*command, cwd=elsewhere)
    assert_one_sentence(done, "not inside a course folder", "--course")
    assert not any(elsewhere.iterdir()), "nothing is written outside a course"


def test_course_found_from_a_subfolder_and_from_course_before_or_after_the_command(course: Course,
                                                                                   elsewhere: Path) -> None:
    """`hwkit export` with nothing graded names this course's gradebook, however the course was given."""
    for args, cwd in ((["export"], course.source), (["export"], course.root / "grader_tests" / "hw1_hidden"),
                      (["--course", str(course.root), "export"], elsewhere),
                      (["export", "--course", str(course.root)], elsewhere)):
        assert_one_sentence(hwkit(*args, cwd=cwd), str(course.gradebook), "hwkit grade")
    done = hwkit("export", "--course", str(elsewhere), cwd=course.root)
    assert_one_sentence(done, f"--course {elsewhere}", "not a course folder")


def test_build_without_the_instructor_references(course: Course) -> None:
    shutil.rmtree(course.grader_tests / "hw1_hidden")
    assert_one_sentence(hwkit("build", cwd=course.source), "hw1_hidden is missing", "git checkout -- grader_tests")


def test_grade_without_submissions_writes_nothing(course: Course) -> None:
    """No submitted/ folder, or an empty one: exit 2 before any grading, and no (empty) grade files."""
    before = set(course.root.rglob("*"))
    assert_one_sentence(hwkit("grade", cwd=course.root), "nothing to grade", "submitted/<student_id>/hw1/")
    course.submitted.mkdir()
    assert_one_sentence(hwkit("grade", cwd=course.root), "has no student folder", "--archive")
    assert set(course.root.rglob("*")) == before | {course.submitted}


def test_grade_with_a_missing_archive_or_a_bad_option_value(course: Course, elsewhere: Path) -> None:
    assert_one_sentence(hwkit("grade", "--course", str(course.root), "--archive", "downloads.zip", cwd=elsewhere),
                        "--archive downloads.zip", "no such file")
    done = hwkit("grade", "--timeout", "0", cwd=course.root)
    assert done.returncode == USER_ERROR and "Traceback" not in done.stderr
    assert "--timeout: 0 is not a positive number" in done.stderr
    assert not (course.grades_csv).exists()


def test_grade_an_archive_without_any_notebook_writes_nothing(course: Course) -> None:
    archive = course.root / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README.txt", "not a submission")
    before = set(course.root.rglob("*"))
    done = hwkit("grade", "--archive", str(archive), "--unsandboxed", cwd=course.root)
    *notes, last = done.stderr.strip().splitlines()
    assert done.returncode == USER_ERROR and "Traceback" not in done.stderr, done.stderr
    assert notes == ["archive: README.txt: name does not match the archive filename pattern; ignored"], notes
    assert "holds no notebook of a student" in last and "--archive-regex" in last and last.endswith("."), last
    assert set(course.root.rglob("*")) == before


def test_export_with_nothing_graded_writes_nothing(course: Course) -> None:
    from nbgrader.api import Gradebook

    assert_one_sentence(hwkit("export", cwd=course.root), "nothing graded yet", "run `hwkit grade` first")
    with Gradebook(f"sqlite:///{course.gradebook}"):  # a gradebook without any submission
        pass
    assert_one_sentence(hwkit("export", cwd=course.root), "no hw1 submission", "run `hwkit grade` first")
    assert_one_sentence(hwkit("export", "--out", "no/such/folder/grades.csv", cwd=course.root),
                        "does not exist")
    assert not (course.grades_csv).exists()


def test_otter_grade_on_a_missing_notebook_or_archive(course: Course, elsewhere: Path) -> None:
    assert_one_sentence(hwkit("otter-grade", "Planar_MLP.ipynb", "--course", str(course.root), cwd=elsewhere),
                        "Planar_MLP.ipynb does not exist")
    stray = elsewhere / "notes.ipynb"
    stray.write_text("{}")
    assert_one_sentence(hwkit("otter-grade", str(stray), "--course", str(course.root), cwd=elsewhere),
                        "holds none of", "Planar_MLP.ipynb")
    notebook = course.release / "Planar_MLP.ipynb"
    assert not course.dist.exists()
    assert_one_sentence(hwkit("otter-grade", str(notebook), cwd=course.source), "hwkit build", "dist")


def test_lab_on_a_port_in_use(course: Course) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_one_sentence(hwkit("lab", "--port", str(port), cwd=course.root), f"port {port}", "--port")


def test_lab_prints_its_urls_last_without_alarming_lines(course: Course) -> None:
    """`hwkit lab` from a subfolder: quiet server log (no [C]ritical or [E]rror lines; no "Unwritable
    directory" from formgrader's exchange), the URLs as the last lines, formgrader answers on them,
    and Ctrl-C stops it cleanly."""
    process = subprocess.Popen([sys.executable, "-m", "hwkit.cli", "lab"], cwd=course.source, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not any(line.startswith("Formgrader") for line in lines):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            lines.append(line.rstrip("\n"))
        assert lines and lines[-1].startswith("Formgrader (grade written answers):"), lines
        assert lines[-2].startswith("JupyterLab (menu Nbgrader > Formgrader):"), lines
        url = lines[-1].split()[-1]
        assert url.startswith("http://127.0.0.1:") and "/formgrader?token=" in url
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    output = lines + rest.splitlines()
    alarming = [line for line in output if line.startswith(("[C", "[E")) or "Unwritable" in line or "Traceback" in line]
    assert not alarming, output
    assert len(lines) <= 6, lines  # a hint about grading first, a blank line, the course line and the two URLs
    assert process.returncode == 0, output
    assert (course.root / ".exchange").is_dir()


@pytest.mark.slow
def test_grading_says_what_it_prepares_and_how_to_raise_a_too_short_timeout(course: Course,
                                                                            elsewhere: Path) -> None:
    """One endless-loop notebook graded from another folder: a line on stdout within seconds, then
    the reason names the --timeout limit and how to raise it, in the feedback's summary and in the
    notebook's own page (not nbgrader's empty "CellTimeoutError: ")."""
    import nbformat

    from hwkit.demo import filled_release
    from hwkit.walls import available

    def endless(grade_id: str, text: str) -> str:
        return "while True:\n    pass\n" + text if grade_id == "layer_sizes" else text

    folder = course.submitted / "looper" / "hw1"
    folder.mkdir(parents=True)
    nbformat.write(filled_release(course, "Planar_MLP.ipynb", endless), folder / "Planar_MLP.ipynb")
    command = [sys.executable, "-m", "hwkit.cli", "grade", "--course", str(course.root), "--timeout", "4",
               "--jobs", "1", *(["--unsandboxed"] if available() else [])]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=elsewhere, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    first = process.stdout.readline()
    first_after = time.monotonic() - started
    rest, errors = process.communicate(timeout=900)
    assert first.startswith("hwkit grade: starting"), (first, rest, errors)
    assert first_after < 10, first_after  # the interpreter and the standard library, nothing more
    assert "hwkit grade: preparing: registering hw1 in the gradebook" in rest, rest
    assert "starting 1 grading worker" in rest, rest
    advice = "the 4 s limit (--timeout); raise it with hwkit grade --timeout 12 if the answer is just slow"
    page = (course.feedback / "looper" / "hw1" / "index.html").read_text()
    assert advice in page
    assert advice in (course.feedback / "looper" / "hw1" / "Planar_MLP.html").read_text()
    graded = (course.grades_csv).read_text()
    (course.grades_csv).unlink()
    exported = hwkit("export", "--course", str(course.root), cwd=elsewhere)  # hwkit/export.py, from elsewhere
    assert exported.returncode == 0 and "1 student(s) exported" in exported.stdout, exported.stderr
    assert _row(graded) == _row((course.grades_csv).read_text())


def _row(grades_csv: str) -> dict[str, str]:
    """The first student's row, without the sandbox column (export cannot know how it was graded)."""
    row = next(csv.DictReader(io.StringIO(grades_csv)))
    row.pop("sandbox")
    return row


def test_a_misspelled_assignment_is_one_sentence(tmp_path: Path) -> None:
    """Every command that works on an assignment names the course's assignments when --assignment is wrong."""
    course = copy_course(tmp_path / "course")
    for command in ("build", "grade", "export", "release-feedback", "lab"):
        assert_one_sentence(hwkit(command, "--assignment", "hw9", cwd=course.root), "--assignment hw9",
                            "the course's assignments: hw0, hw1")
