"""`hwkit grade` on a whole class: parallel workers, sandboxed kernels, hostile submissions.

One run (module fixture, two workers) grades a corpus of hostile and broken submissions
(tests/hostile.py) plus well-behaved ones and an LMS archive; each test then checks one thing.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from hostile import ALL, ANY, CHEATS, CORPUS, PLANAR, WORKER_CRASH
from hwkit.course import Course
from hwkit.demo import filled_release, forgot_average
from hwkit.grade import GradeRun, grade
from hwkit.report import write_grades_csv, write_summaries, write_summary_figure
from hwkit.settings import GradingSettings
from hwkit.walls import available
from hwkit.worker import CRASH_FOR_ENV

MODULE_STARTED = time.time()
TIMEOUT = 15  # seconds per cell: enough for the hidden training cases on a loaded 2-core machine
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

ARCHIVE = "downloads.zip"
ARCHIVE_MEMBERS = {  # LMS file names -> who they belong to (nbgrader zip_collect naming)
    "hw1_lms_alice_attempt_2024-03-01-09-00-00_Planar_MLP.ipynb": "broken",   # superseded by the later attempt
    "hw1_lms_alice_attempt_2024-03-02-10-30-00_Planar_MLP.ipynb": "good",
    "hw1_lms_bob_attempt_2024-03-02-11-00-00_Planar_MLP.ipynb": "broken",
    "syllabus.pdf": "junk",
}


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def add_student(course: Course, student: str, make) -> None:
    folder = course.submitted / student / "hw1"
    folder.mkdir(parents=True)
    make(course, folder)


def make_class(course: Course) -> None:
    """The hostile corpus, a reference student with every notebook, and two ordinary students."""
    for student, (make, _, _) in CORPUS.items():
        add_student(course, student, make)
    folder = course.submitted / "reference" / "hw1"
    folder.mkdir(parents=True)
    for name in course.notebook_names():
        nbformat.write(filled_release(course, name), folder / name)
    (folder / "timestamp.txt").write_text("2024-03-01 12:00:00")
    add_student(course, "forgot_average",
                lambda c, f: nbformat.write(filled_release(c, PLANAR, forgot_average), f / PLANAR))
    add_student(course, "untouched", lambda c, f: shutil.copy(c.release / PLANAR, f / PLANAR))
    add_student(course, WORKER_CRASH, lambda c, f: nbformat.write(filled_release(c, PLANAR), f / PLANAR))


@contextlib.contextmanager
def crashing_worker():
    """Every grading worker that starts on WORKER_CRASH dies (only for this process's grade() calls)."""
    os.environ[CRASH_FOR_ENV] = WORKER_CRASH
    try:
        yield
    finally:
        del os.environ[CRASH_FOR_ENV]


def make_archive(course: Course, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, kind in ARCHIVE_MEMBERS.items():
            if kind == "good":
                zf.writestr(f"hw1 downloads/{name}", nbformat.writes(filled_release(course, PLANAR)))
            elif kind == "broken":
                zf.writestr(name, '{"cells": [ not json')
            else:
                zf.writestr(name, b"%PDF-1.4")
    return path


@pytest.fixture(scope="module")
def graded(built_course: Course, tmp_path_factory):
    root = tmp_path_factory.mktemp("class") / "course"
    shutil.copytree(built_course.root, root, ignore=shutil.ignore_patterns("__pycache__"))
    course = Course.at(root)
    make_class(course)
    archive = make_archive(course, root.parent / ARCHIVE)
    (course.root / "grades.csv").write_text("student_id,total\nsentinel,1\n")  # must only change via reports
    before = digest(course.submitted)
    bar = io.StringIO()
    with crashing_worker():
        run = grade(course, GradingSettings(cell_timeout=TIMEOUT, jobs=2), archive=archive, progress=bar)
    write_grades_csv(run, course.root / "grades.csv")
    write_summaries(run, course)
    write_summary_figure(run, course.root / "grades-summary.png")
    return course, run, before, bar.getvalue(), archive


@pytest.fixture(scope="module")
def reported(graded):
    """`hwkit grade`'s reports of the run: (exit code, console output)."""
    from hwkit.cli import report_run

    course, run, _, _, _ = graded
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = report_run(course, run, run.seconds)
    return code, out.getvalue()


def _grade(run: GradeRun, student: str, notebook: str = PLANAR):
    return next(g for g in run.grades if g.student == student and g.notebook == notebook)


@pytest.mark.parametrize("student", list(CORPUS))
def test_hostile_submission_gets_its_points_and_a_reason(graded, student: str) -> None:
    course, run, _, _, _ = graded
    _, lost, word = CORPUS[student]
    grade = _grade(run, student)
    lost = lost(course) if callable(lost) else lost
    for question, points in grade.max_scores.items() if lost != ANY else ():
        want = 0 if lost == ALL or question in lost else points
        assert grade.scores[question] == want, (question, grade.problems)
    reasons = "\n".join(grade.problems + run.notes.get(student, []))
    assert word in reasons, reasons


def test_every_other_notebook_and_student_is_unaffected(graded) -> None:
    _, run, _, _, _ = graded
    for g in run.grades:
        if g.student == "reference":  # full marks on every graded question (written answers wait for a TA)
            assert all(s == g.max_scores[q] for q, s in g.scores.items() if s is not None), (g.notebook, g.problems)
    average = _grade(run, "forgot_average")
    assert average.total == average.max_total - 3  # backward_propagation only: questions are isolated
    assert _grade(run, "untouched").total == 0


def test_cheats_reveal_no_secret(graded) -> None:
    """What people read (autograded notebooks, feedback, grades.csv) shows no hidden expected value and no
    reference code, whatever the cheating submissions printed."""
    import hw1_hidden

    course, _, _, _, _ = graded
    costs = [case.expected["cost"] for case in hw1_hidden.judged_cases("q4_compute_cost") if case.kind == "hidden"]
    secrets = [f"{c:.6g}" for c in costs] + [repr(c) for c in costs] + [
        "def closed_form_gradients", "def autograd_gradients", "HIDDEN_CASES"]  # the reference's source
    texts = [(course.root / "grades.csv").read_text()]
    for student in CHEATS:
        texts += [p.read_text() for p in (course.autograded / student).rglob("*.ipynb")]
        texts += [p.read_text() for p in (course.feedback / student).rglob("*.html")]
    for secret in secrets:
        assert not any(secret in text for text in texts), secret


def test_sandbox_walls_hold(graded) -> None:
    course, run, before, _, _ = graded
    snooped = nbformat.read(course.autograded / "snooper" / "hw1" / PLANAR, 4)
    text = "\n".join(o.get("text", "") for c in snooped.cells for o in c.get("outputs", []))
    assert "LEAKS: []" in text, text[:2000]
    vandal = nbformat.read(course.autograded / "vandal" / "hw1" / PLANAR, 4)
    text = "\n".join(o.get("text", "") for c in vandal.cells for o in c.get("outputs", []))
    assert "WROTE: []" in text, text[:2000]
    assert not (course.root / "hacked.txt").exists() and not (course.source / "planted.py").exists()
    assert not list(course.root.rglob("scratch_note.txt")), "the kernel's own folder is thrown away"
    assert digest(course.submitted) == before
    assert _grade(run, "reference").total == _grade(run, "reference").max_total


def test_submitted_is_byte_identical(graded) -> None:
    course, _, before, _, _ = graded
    assert digest(course.submitted) == before


def test_archive_intake(graded) -> None:
    course, run, _, _, _ = graded
    alice = _grade(run, "lms_alice")
    assert alice.total == alice.max_total, alice.problems
    assert _grade(run, "lms_bob").total == 0
    assert "not valid JSON" in "\n".join(_grade(run, "lms_bob").problems)
    archive_notes = "\n".join(run.notes["(archive)"])
    assert "syllabus.pdf" in archive_notes and "does not match" in archive_notes
    assert "2024-03-01-09-00-00" in archive_notes and "later attempt" in archive_notes
    assert not (course.submitted / "lms_alice").exists(), "the archive is extracted to scratch, not submitted/"
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        assert gb.find_submission("hw1", "lms_alice").timestamp.isoformat().startswith("2024-03-02T10:30")


def test_gradebook_holds_every_submission_consistently(graded) -> None:
    course, run, _, _, _ = graded
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        assert WORKER_CRASH not in {s.student.id for s in gb.find_assignment("hw1").submissions}
        for student in set(run.students()) - {WORKER_CRASH}:
            submission = gb.find_submission("hw1", student)
            for notebook in submission.notebooks:
                grade = _grade(run, student, notebook.name + ".ipynb")
                auto = {g.name: g.auto_score for g in notebook.grades if g.cell.cell_type == "code"}
                assert auto == {q: s for q, s in grade.scores.items() if q in auto}, (student, notebook.name)
        assert gb.find_submission("hw1", "reference").timestamp.isoformat().startswith("2024-03-01T12:00")
    for student in ("reference", "os_exit", "renamed_notebook", "lms_alice"):
        assert (course.autograded / student / "hw1" / PLANAR).exists()


def test_reports(graded) -> None:
    course, run, _, bar, _ = graded
    rows = {r["student_id"]: r for r in csv.DictReader((course.root / "grades.csv").open())}
    assert set(rows) == set(run.students()) and "sentinel" not in rows
    assert float(rows["reference"]["Planar_MLP"]) == 30
    assert float(rows["os_exit"]["q4_predict"]) == 0 and float(rows["os_exit"]["q4_layer_sizes"]) == 1
    assert (course.root / "grades-summary.png").read_bytes()[:4] == b"\x89PNG"
    page = (course.feedback / "os_exit" / "hw1" / "index.html").read_text()
    assert "kernel died" in page
    html = (course.feedback / "os_exit" / "hw1" / "Planar_MLP.html").read_text()
    for secret in ("check_hidden", "hw1_hidden", "BEGIN HIDDEN TESTS", "grader_tests", "/opt/hwkit-grader",
                   str(course.root)):
        assert secret not in html and secret not in page, secret
    assert f"{len(run.students())}/{len(run.students())} students" in bar and "ETA" in bar


def test_second_run_changes_nothing_and_keeps_manual_grades(graded) -> None:
    course, run, before, _, archive = graded
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        nb = gb.find_submission_notebook("Planar_MLP", "hw1", "forgot_average")
        cell = next(g for g in nb.grades if g.name == "q4_backward_propagation")
        cell.manual_score = 2.5
        gb.db.commit()
    autograded = digest(course.autograded)
    with crashing_worker():  # not graded: never cached, so tried again (and again not graded)
        again = grade(course, GradingSettings(cell_timeout=TIMEOUT, jobs=2), archive=archive, progress=False)
    assert sorted(again.cached) == sorted(set(run.students()) - {WORKER_CRASH})
    assert again.retried == [WORKER_CRASH] and set(again.not_graded()) == {WORKER_CRASH}
    assert [(g.student, g.notebook, g.scores) for g in again.grades] == \
        [(g.student, g.notebook, g.scores) for g in run.grades]
    assert digest(course.autograded) == autograded
    assert digest(course.submitted) == before
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        nb = gb.find_submission_notebook("Planar_MLP", "hw1", "forgot_average")
        assert next(g for g in nb.grades if g.name == "q4_backward_propagation").manual_score == 2.5


def test_a_killed_run_resumes_to_the_same_grades(graded, tmp_path: Path) -> None:
    """Kill `hwkit grade` after its first finished student; the next run grades only the rest."""
    course, run, _, _, _ = graded
    root = tmp_path / "course"
    shutil.copytree(course.root, root, ignore=shutil.ignore_patterns("autograded", "feedback", "gradebook.db",
                                                                     "submitted", "grades*", "__pycache__"))
    small = Course.at(root)
    students = ["reference", "forgot_average", "os_exit", "invalid_json", "untouched"]
    for student in students:
        shutil.copytree(course.submitted / student, small.submitted / student)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    command = [sys.executable, "-m", "hwkit.cli", "--course", str(root), "grade", "--jobs", "2",
               "--timeout", str(TIMEOUT)]
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cache = small.autograded / ".hwkit-cache"
    deadline = time.monotonic() + 240
    while not (cache.is_dir() and any(cache.glob("*.json"))) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in cache.glob("*.json")}
    assert finished and finished != set(students), finished
    resumed = grade(small, GradingSettings(cell_timeout=TIMEOUT, jobs=2), progress=False)
    assert set(resumed.cached) == finished
    for g in resumed.grades:
        assert g.scores == _grade(run, g.student, g.notebook).scores, g.student
    with Gradebook(f"sqlite:///{small.gradebook}") as gb:
        assert {s.student.id for s in gb.find_assignment("hw1").submissions} == set(students)


def test_nothing_over_the_output_caps_reaches_disk(graded) -> None:
    """At most the 5 MB output cap per notebook (plus its code, JSON layout and the feedback page's
    CSS), also for the floods through display updates, widgets and many cells (issue 13)."""
    course, _, _, _, _ = graded
    files = [*course.autograded.glob("*/hw1/*.ipynb"), *course.feedback.glob("*/hw1/*.html")]
    assert any("notebook_output_flood" in str(f) for f in files)
    too_big = {str(f): f.stat().st_size for f in files if f.stat().st_size > 6_000_000}
    assert not too_big, too_big


def test_a_crashed_worker_never_records_a_grade(graded, reported) -> None:
    """The worker grading WORKER_CRASH dies (as if OOM-killed), twice: retried once on a fresh worker,
    then not graded (empty scores, a status, no 0), nothing cached or in the gradebook, exit code 1;
    whoever shared the broken pool is graded normally (issue 13, item 4)."""
    course, run, _, bar, _ = graded
    code, console = reported
    assert WORKER_CRASH in run.retried
    assert set(run.not_graded()) == {WORKER_CRASH}, run.not_graded()
    crashed = _grade(run, WORKER_CRASH)
    assert not crashed.graded and "retried on a fresh worker" in crashed.status
    assert all(s is None for s in crashed.scores.values())
    for student in run.retried:  # collateral of the broken pool: graded on the retry
        if student != WORKER_CRASH:
            assert all(g.graded for g in run.grades if g.student == student), student
    rows = {r["student_id"]: r for r in csv.DictReader((course.root / "grades.csv").open())}
    row = rows[WORKER_CRASH]
    assert row["status"].startswith("not graded: ") and "retried" in row["status"]
    assert row["total"] == "" and row["Planar_MLP"] == "" and all(row[q] == "" for q in crashed.max_scores)
    assert rows["reference"]["status"] == "graded" and rows["reference"]["sandbox"] == "bubblewrap"
    assert not (course.autograded / ".hwkit-cache" / f"{WORKER_CRASH}.json").exists()
    assert not (course.autograded / WORKER_CRASH).exists()
    assert code == 1
    line = next(x for x in console.splitlines() if x.startswith(WORKER_CRASH))
    assert "NOT GRADED" in line and " 0/" not in line, line
    assert "1 student(s) NOT GRADED" in console and WORKER_CRASH in console.splitlines()[-1]
    assert "(NOT GRADED)" in bar


def test_no_cgroup_is_left_behind(graded) -> None:
    """Every notebook's cgroup is removed after it (issue 13): the finished workers left none."""
    from hwkit.cgroups import orphans

    left = [str(folder) for folder in orphans() if folder.stat().st_ctime >= MODULE_STARTED]
    assert not left, left
