"""`hwkit grade` on a whole class: parallel workers, sandboxed kernels, hostile submissions.

The shared class (class_corpus.py, graded once per session by two workers) holds the hostile and
broken submissions of tests/hostile.py, well-behaved ones and an LMS archive; each test checks one
thing. Otter grades the structural faults too and must agree with nbgrader question by question.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from class_corpus import OTTER_STRUCTURAL, SETTINGS, GradedClass, crashing_worker, digest
from hostile import ALL, ANY, CHEATS, CORPUS, PLANAR, WORKER_CRASH
from hwkit.course import Course
from hwkit.grade import grade
from hwkit.otter import archive_name, otter_grade

SESSION_STARTED = time.time()  # collection time: before the shared class is graded
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reported(graded_class: GradedClass):
    """`hwkit grade`'s reports of the run: (exit code, console output)."""
    from hwkit.cli import report_run

    course, run = graded_class.course, graded_class.run
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = report_run(course, run, run.seconds)
    return code, out.getvalue()


@pytest.mark.parametrize("student", list(CORPUS))
def test_hostile_submission_gets_its_points_and_a_reason(graded_class: GradedClass, student: str) -> None:
    course, run = graded_class.course, graded_class.run
    _, lost, word = CORPUS[student]
    grade = graded_class.grade_of(student)
    lost = lost(course) if callable(lost) else lost
    for question, points in grade.max_scores.items() if lost != ANY else ():
        want = 0 if lost == ALL or question in lost else points
        assert grade.scores[question] == want, (question, grade.problems)
    reasons = "\n".join(grade.problems + run.notes.get(student, []))
    assert any(w in reasons for w in (word if isinstance(word, tuple) else (word,))), reasons


def test_every_other_notebook_and_student_is_unaffected(graded_class: GradedClass) -> None:
    run = graded_class.run
    for g in run.grades:
        if g.student == "reference":  # full marks on every graded question (written answers wait for a TA)
            assert all(s == g.max_scores[q] for q, s in g.scores.items() if s is not None), (g.notebook, g.problems)
    average = graded_class.grade_of("forgot_average")
    assert average.total == average.max_total - 3  # backward_propagation only: questions are isolated
    assert graded_class.grade_of("untouched").total == 0


def test_cheats_reveal_no_secret(graded_class: GradedClass) -> None:
    """What people read (autograded notebooks, feedback, grades.csv) shows no hidden expected value and no
    reference code, whatever the cheating submissions printed."""
    import hw1_hidden

    course = graded_class.course
    costs = [case.expected["cost"] for case in hw1_hidden.judged_cases("q4_compute_cost") if case.kind == "hidden"]
    secrets = [f"{c:.6g}" for c in costs] + [repr(c) for c in costs] + [
        "def closed_form_gradients", "def autograd_gradients", "HIDDEN_CASES"]  # the reference's source
    texts = [(course.grades_csv).read_text()]
    for student in CHEATS:
        texts += [p.read_text() for p in (course.autograded / student).rglob("*.ipynb")]
        texts += [p.read_text() for p in (course.feedback / student).rglob("*.html")]
    for secret in secrets:
        assert not any(secret in text for text in texts), secret


def test_sandbox_walls_hold(graded_class: GradedClass) -> None:
    course, before = graded_class.course, graded_class.submitted_before
    snooped = nbformat.read(course.autograded / "snooper" / "hw1" / PLANAR, 4)
    text = "\n".join(o.get("text", "") for c in snooped.cells for o in c.get("outputs", []))
    assert "LEAKS: []" in text, text[:2000]
    vandal = nbformat.read(course.autograded / "vandal" / "hw1" / PLANAR, 4)
    text = "\n".join(o.get("text", "") for c in vandal.cells for o in c.get("outputs", []))
    assert "WROTE: []" in text, text[:2000]
    assert not (course.root / "hacked.txt").exists() and not (course.source / "planted.py").exists()
    assert not list(course.root.rglob("scratch_note.txt")), "the kernel's own folder is thrown away"
    assert digest(course.submitted) == before
    assert graded_class.grade_of("reference").total == graded_class.grade_of("reference").max_total


def test_submitted_is_byte_identical(graded_class: GradedClass) -> None:
    course, before = graded_class.course, graded_class.submitted_before
    assert digest(course.submitted) == before


def test_archive_intake(graded_class: GradedClass) -> None:
    course, run = graded_class.course, graded_class.run
    alice = graded_class.grade_of("lms_alice")
    assert alice.total == alice.max_total, alice.problems
    assert graded_class.grade_of("lms_bob").total == 0
    assert "not valid JSON" in "\n".join(graded_class.grade_of("lms_bob").problems)
    archive_notes = "\n".join(run.notes["(archive)"])
    assert "syllabus.pdf" in archive_notes and "does not match" in archive_notes
    assert "2024-03-01-09-00-00" in archive_notes and "later attempt" in archive_notes
    assert not (course.submitted / "lms_alice").exists(), "the archive is extracted to scratch, not submitted/"
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        assert gb.find_submission("hw1", "lms_alice").timestamp.isoformat().startswith("2024-03-02T10:30")


def test_gradebook_holds_every_submission_consistently(graded_class: GradedClass) -> None:
    course, run = graded_class.course, graded_class.run
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        assert WORKER_CRASH not in {s.student.id for s in gb.find_assignment("hw1").submissions}
        for student in set(run.students()) - {WORKER_CRASH}:
            submission = gb.find_submission("hw1", student)
            for notebook in submission.notebooks:
                grade = graded_class.grade_of(student, notebook.name + ".ipynb")
                auto = {g.name: g.auto_score for g in notebook.grades if g.cell.cell_type == "code"}
                assert auto == {q: s for q, s in grade.scores.items() if q in auto}, (student, notebook.name)
        assert gb.find_submission("hw1", "reference").timestamp.isoformat().startswith("2024-03-01T12:00")
    for student in ("reference", "os_exit", "renamed_notebook", "lms_alice"):
        assert (course.autograded / student / "hw1" / PLANAR).exists()


def test_reports(graded_class: GradedClass) -> None:
    course, run, bar = graded_class.course, graded_class.run, graded_class.progress
    rows = {r["student_id"]: r for r in csv.DictReader((course.grades_csv).open())}
    assert set(rows) == set(run.students()) and "sentinel" not in rows
    assert float(rows["reference"]["Planar_MLP"]) == 30
    assert float(rows["os_exit"]["q4_predict"]) == 0 and float(rows["os_exit"]["q4_layer_sizes"]) == 1
    assert float(rows["forgot_average"]["q4_backward_propagation"]) == 0
    assert float(rows["reference"]["max_total"]) == sum(g.max_total for g in run.grades if g.student == "reference")
    assert "average over the batch" in (course.feedback / "forgot_average" / "hw1" / "Planar_MLP.html").read_text()
    assert "not valid JSON" in (course.feedback / "invalid_json" / "hw1" / "index.html").read_text()
    assert (course.summary_figure).read_bytes()[:4] == b"\x89PNG"
    page = (course.feedback / "os_exit" / "hw1" / "index.html").read_text()
    assert "kernel died" in page
    html = (course.feedback / "os_exit" / "hw1" / "Planar_MLP.html").read_text()
    for secret in ("check_hidden", "hw1_hidden", "BEGIN HIDDEN TESTS", "grader_tests", "/opt/hwkit-grader",
                   str(course.root)):
        assert secret not in html and secret not in page, secret
    assert f"{len(run.students())}/{len(run.students())} students" in bar and "ETA" in bar


def test_otter_and_nbgrader_agree_on_structural_faults(graded_class: GradedClass) -> None:
    """Nothing typed in, an endless loop (Otter's per-cell limit), the complete reference: Otter's score
    of each question is nbgrader's."""
    for student in OTTER_STRUCTURAL:
        result = graded_class.otter[student, PLANAR]
        assert result.problem is None, (student, result.problem)
        assert result.scores == graded_class.grade_of(student).scores, student
    assert graded_class.otter["reference", PLANAR].total == 30 and graded_class.otter["untouched", PLANAR].total == 0


def test_otter_run_has_a_time_limit(graded_class: GradedClass) -> None:
    course = graded_class.course
    result = otter_grade(course.dist / archive_name(course, PLANAR),
                         course.submitted / "endless_loop" / "hw1" / PLANAR, course.env(), timeout=10,
                         cell_timeout=None)
    assert result.problem and "stopped after 10 s" in result.problem


def test_second_run_changes_nothing_and_keeps_manual_grades(graded_class: GradedClass) -> None:
    course, run, before, archive = graded_class.course, graded_class.run, graded_class.submitted_before, \
        graded_class.archive
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        nb = gb.find_submission_notebook("Planar_MLP", "hw1", "forgot_average")
        cell = next(g for g in nb.grades if g.name == "q4_backward_propagation")
        cell.manual_score = 2.5
        gb.db.commit()
    autograded = digest(course.autograded)
    with crashing_worker():  # not graded: never cached, so tried again (and again not graded)
        again = grade(course, SETTINGS, archive=archive, progress=False)
    assert sorted(again.cached) == sorted(set(run.students()) - {WORKER_CRASH})
    assert again.retried == [WORKER_CRASH] and set(again.not_graded()) == {WORKER_CRASH}
    assert [(g.student, g.notebook, g.scores) for g in again.grades] == \
        [(g.student, g.notebook, g.scores) for g in run.grades]
    assert digest(course.autograded) == autograded
    assert digest(course.submitted) == before
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        nb = gb.find_submission_notebook("Planar_MLP", "hw1", "forgot_average")
        assert next(g for g in nb.grades if g.name == "q4_backward_propagation").manual_score == 2.5


def test_a_killed_run_resumes_to_the_same_grades(graded_class: GradedClass, tmp_path: Path) -> None:
    """Kill `hwkit grade` after its first finished student; the next run grades only the rest."""
    course = graded_class.course
    root = tmp_path / "course"
    shutil.copytree(course.root, root, ignore=shutil.ignore_patterns("autograded", "feedback", "gradebook.db",
                                                                     "submitted", "grades*", "__pycache__"))
    small = Course.at(root)
    students = ["forgot_average", "os_exit", "sys_exit", "invalid_json", "untouched"]
    for student in students:
        shutil.copytree(course.submitted / student, small.submitted / student)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    command = [sys.executable, "-m", "hwkit.cli", "--course", str(root), "grade", "--jobs", "2",
               "--timeout", str(SETTINGS.cell_timeout)]
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cache = small.autograded / ".hwkit-cache" / "hw1"
    deadline = time.monotonic() + 240
    while not (cache.is_dir() and any(cache.glob("*.json"))) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in cache.glob("*.json")}
    assert finished and finished != set(students), finished
    resumed = grade(small, SETTINGS, progress=False)
    assert set(resumed.cached) == finished
    for g in resumed.grades:
        assert g.scores == graded_class.grade_of(g.student, g.notebook).scores, g.student
    with Gradebook(f"sqlite:///{small.gradebook}") as gb:
        assert {s.student.id for s in gb.find_assignment("hw1").submissions} == set(students)


def test_nothing_over_the_output_caps_reaches_disk(graded_class: GradedClass) -> None:
    """At most the 5 MB output cap per notebook (plus its code, JSON layout and the feedback page's
    CSS), also for the floods through display updates, widgets and many cells (issue 13)."""
    course = graded_class.course
    files = [*course.autograded.glob("*/hw1/*.ipynb"), *course.feedback.glob("*/hw1/*.html")]
    assert any("notebook_output_flood" in str(f) for f in files)
    too_big = {str(f): f.stat().st_size for f in files if f.stat().st_size > 6_000_000}
    assert not too_big, too_big


def test_a_crashed_worker_never_records_a_grade(graded_class: GradedClass, reported) -> None:
    """The worker grading WORKER_CRASH dies (as if OOM-killed), twice: retried once on a fresh worker,
    then not graded (empty scores, a status, no 0), nothing cached or in the gradebook, exit code 1;
    whoever shared the broken pool is graded normally (issue 13, item 4)."""
    course, run, bar = graded_class.course, graded_class.run, graded_class.progress
    code, console = reported
    assert WORKER_CRASH in run.retried
    assert set(run.not_graded()) == {WORKER_CRASH}, run.not_graded()
    crashed = graded_class.grade_of(WORKER_CRASH)
    assert not crashed.graded and "retried on a fresh worker" in crashed.status
    assert all(s is None for s in crashed.scores.values())
    for student in run.retried:  # collateral of the broken pool: graded on the retry
        if student != WORKER_CRASH:
            assert all(g.graded for g in run.grades if g.student == student), student
    rows = {r["student_id"]: r for r in csv.DictReader((course.grades_csv).open())}
    row = rows[WORKER_CRASH]
    assert row["status"].startswith("not graded: ") and "retried" in row["status"]
    assert row["total"] == "" and row["Planar_MLP"] == "" and all(row[q] == "" for q in crashed.max_scores)
    assert rows["reference"]["status"] == "graded" and rows["reference"]["sandbox"] == "bubblewrap"
    assert not (course.autograded / ".hwkit-cache" / "hw1" / f"{WORKER_CRASH}.json").exists()
    assert not (course.autograded / WORKER_CRASH).exists()
    assert code == 1
    line = next(x for x in console.splitlines() if x.startswith(WORKER_CRASH))
    assert "NOT GRADED" in line and " 0/" not in line, line
    assert "1 student(s) NOT GRADED" in console and WORKER_CRASH in console.splitlines()[-1]
    assert "(NOT GRADED)" in bar


def test_no_cgroup_is_left_behind(graded_class: GradedClass) -> None:
    """Every notebook's cgroup is removed after it (issue 13): the finished workers left none."""
    from hwkit.cgroups import orphans

    left = [str(folder) for folder in orphans() if folder.stat().st_ctime >= SESSION_STARTED]
    assert not left, left
