"""Canvas's "Download Submissions" zip as Canvas writes it (hwkit/canvas_download.py, hwkit/lms_archive.py).

A realistic download of Homework 0: alice on time; bob LATE, with two uploads of the notebook in his latest
submission (`Warmup.ipynb`, then `Warmup-1.ipynb`: the later upload counts); carol's third upload
(`Warmup-2.ipynb`); a student Canvas knows and the roster does not (named, not graded). Students are matched
to the roster by `lms_user_id`. The fast tests read the zip with the same `collect_archive` that `hwkit grade
--archive` uses; the slow one grades it end to end with the real CLI (sandboxed workers, real nbgrader).

Positive controls: bob's earlier upload and the name part ("dylanbob") are in the zip, so a reader that took
the first file or keyed students by name would give bob the wrong notebook or an id not on the roster.
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, copy_course, marked_notebook, write_zip
from hwkit.canvas_download import TimesError, read_canvas_name, read_submission_times
from hwkit.cli import main
from hwkit.course import Course
from hwkit.lms_archive import collect_archive

ASSIGNMENT, NOTEBOOK = "hw0", "Warmup.ipynb"
ROSTER = ("id,first_name,last_name,email,lms_user_id\n"
          "alice,Alice,Liddell,alice@uni.edu,12001\nbob,Bob,Dylan,,12002\ncarol,Carol,King,,12003\n")
DUE = "2025-03-08 23:59:59+08:00"  # 15:59:59 UTC
CANVAS_ZIP = {  # member -> what the notebook is
    f"liddellalice_12001_5550001_{NOTEBOOK}": "alice",
    f"dylanbob_LATE_12002_5550010_{NOTEBOOK}": "bob's first upload",
    "dylanbob_LATE_12002_5550042_Warmup-1.ipynb": "bob",
    "kingcarol_12003_5550020_Warmup-2.ipynb": "carol",
    f"doejohn_12999_5550030_{NOTEBOOK}": "john",
}


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def with_policy(root: Path, due: str = DUE) -> None:
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.LatePolicy.due_dates = {}",
                                                 f"c.LatePolicy.due_dates = {{{ASSIGNMENT!r}: {due!r}}}"))


@pytest.fixture
def course(tmp_path: Path) -> Course:
    """A scratch course with the due date and the roster (lms_user_id) imported by `hwkit roster`."""
    course = copy_course(tmp_path / "course")
    with_policy(course.root)
    (tmp_path / "students.csv").write_text(ROSTER)
    assert run_cli("--course", str(course.root), "roster", str(tmp_path / "students.csv"))[0] == 0
    return Course.at(course.root, ASSIGNMENT)


def _collect(course: Course, tmp_path: Path, members: dict[str, str], times=None):
    archive = write_zip(tmp_path / "submissions.zip",
                        {name: marked_notebook(marker) for name, marker in members.items()})
    intake = collect_archive(course, archive, tmp_path / "scratch", None, times)
    return {s.student: s for s in intake.submissions}, intake.notes


def _marker(submission) -> str:
    return nbformat.read(submission.notebooks[NOTEBOOK], as_version=4).cells[0].source


def test_canvas_names_as_canvas_writes_them() -> None:
    expected = {NOTEBOOK}
    late = read_canvas_name("dylanbob_LATE_12002_5550042_Warmup-1.ipynb", expected)
    assert (late.name, late.late, late.user, late.attachment, late.file) == ("dylanbob", True, "12002", 5550042,
                                                                             NOTEBOOK)
    on_time = read_canvas_name("o_neil_mary_12004_77_Warmup.ipynb", expected)  # an underscore in the name part
    assert (on_time.name, on_time.late, on_time.user, on_time.file) == ("o_neil_mary", False, "12004", NOTEBOOK)
    # a `-1` that names no notebook of the assignment stays (renamed-notebook detection decides later)
    assert read_canvas_name("anon_12005_78_notes-1.ipynb", expected).file == "notes-1.ipynb"
    assert read_canvas_name(f"hw0_alice_attempt_2024-03-01-10-00-00_{NOTEBOOK}", expected) is None
    assert read_canvas_name("kingcarol_12003_text.html", expected) is None  # a text entry: no attachment id


def test_a_canvas_download_is_read_by_the_roster(course: Course, tmp_path: Path) -> None:
    students, notes = _collect(course, tmp_path, CANVAS_ZIP)
    assert set(students) == {"alice", "bob", "carol"}  # roster ids, not Canvas's names or user ids
    assert _marker(students["alice"]) == "# alice" and _marker(students["carol"]) == "# carol"
    assert _marker(students["bob"]) == "# bob", "the later upload (higher attachment id) counts"
    assert any(n.startswith(f"dylanbob_LATE_12002_5550010_{NOTEBOOK}: a later attempt") for n in notes), notes
    stranger = [n for n in notes if "Canvas user 12999 (doejohn) is not on the roster" in n]
    assert len(stranger) == 1 and "hwkit roster" in stranger[0], notes
    # LATE without an exact time: one second after the due date (in UTC), one started day; the feedback says so
    assert students["alice"].timestamp is None and students["carol"].timestamp is None
    assert students["bob"].timestamp == "2025-03-08 16:00:00"
    assert any("Canvas marked the submission LATE" in n for n in students["bob"].notes["*"])


def test_exact_times_from_canvas_submissions_api(course: Course, tmp_path: Path) -> None:
    """The JSON list Canvas's Submissions API returns (as it is: extra fields, unsubmitted students) gives the
    exact time; it wins over the LATE rule, and carol's exact time makes her late although Canvas did not say so
    (Canvas's due date may differ from the course's)."""
    api = [{"id": 1, "user_id": 12001, "submitted_at": "2025-03-08T15:00:00Z", "late": False, "workflow_state": "x"},
           {"id": 2, "user_id": 12002, "submitted_at": "2025-03-10T09:30:00+08:00", "late": True},
           {"id": 3, "user_id": 12003, "submitted_at": "2025-03-09T01:00:00Z", "late": False},
           {"id": 4, "user_id": 12006, "submitted_at": None}]
    path = tmp_path / "submissions.json"
    path.write_text(json.dumps(api))
    times = read_submission_times(path)
    students, _ = _collect(course, tmp_path, CANVAS_ZIP, times)
    assert {s: students[s].timestamp for s in students} == {
        "alice": "2025-03-08 15:00:00", "bob": "2025-03-10 01:30:00", "carol": "2025-03-09 01:00:00"}
    assert not students["bob"].notes.get("*")
    (tmp_path / "times.csv").write_text("user_id,submitted_at\n12001,2025-03-08T15:00:00Z\nabc,2025-03-08\n")
    with pytest.raises(TimesError, match="entries 2 need"):
        read_submission_times(tmp_path / "times.csv")


def test_the_nbgrader_naming_still_works_and_a_name_both_read_is_refused(course: Course, tmp_path: Path) -> None:
    both = f"bob_1_2_attempt_2024-03-01-10-00-00_{NOTEBOOK}"  # nbgrader: student bob_1_2; Canvas: user 1
    students, notes = _collect(course, tmp_path, {f"hw0_alice_attempt_2024-03-01-10-00-00_{NOTEBOOK}": "alice",
                                                  both: "ambiguous"})
    assert set(students) == {"alice"} and students["alice"].timestamp == "2024-03-01 10:00:00"
    assert any(n.startswith(both) and "pass --archive-regex" in n for n in notes), notes


def test_without_a_roster_canvas_users_are_named_not_graded(tmp_path: Path) -> None:
    course = Course.at(copy_course(tmp_path / "bare").root, ASSIGNMENT)
    students, notes = _collect(course, tmp_path, CANVAS_ZIP)
    assert students == {} and len([n for n in notes if "is not on the roster" in n]) == 5, notes


@pytest.mark.slow
def test_a_canvas_download_graded_end_to_end(course: Course, tmp_path: Path) -> None:
    """`hwkit grade --archive` on the Canvas zip with real notebooks: the roster's ids, bob's later upload graded
    and 10% off for his LATE mark (one started day), the stranger named on the console and absent from the
    grade files, the due date the run applies and the number of late students on the console."""
    sys.path.insert(0, str(REPO / "tests"))
    from hw0_corpus import POINTS, release_with

    right = nbformat.writes(release_with(course.root, lambda grade_id, text: text))
    wrong = nbformat.writes(release_with(course.root, lambda grade_id, text: text, filled=False))
    members = {name: (wrong if "first upload" in marker else right) for name, marker in CANVAS_ZIP.items()}
    archive = write_zip(tmp_path / "submissions.zip", members)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), "grade", "--assignment",
                           ASSIGNMENT, "--archive", str(archive), "--jobs", "2", "--timeout", "15"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "due date of hw0: 2025-03-08 15:59:59 UTC" in out and "1 student(s) late" in out, out[-3000:]
    assert "Canvas user 12999 (doejohn) is not on the roster" in out
    rows = {r["student_id"]: r for r in csv.DictReader(course.grades_csv.open())}
    assert set(rows) == {"alice", "bob", "carol"}
    full = float(sum(POINTS.values()))
    for student in rows:
        assert float(rows[student]["automatic"]) == full, rows[student]  # bob's later upload, not the stub
    assert float(rows["bob"]["late_penalty"]) == pytest.approx(full * 0.10)
    assert float(rows["alice"]["late_penalty"]) == 0 == float(rows["carol"]["late_penalty"])
    canvas = list(csv.reader(course.canvas_csv.open()))
    assert {row[1] for row in canvas[2:]} == {"12001", "12002", "12003"}  # Canvas's ids back for the import


def test_a_bad_submission_times_file_is_one_sentence_before_any_work(course: Course, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "submissions.zip", {name: marked_notebook(m) for name, m in CANVAS_ZIP.items()})
    times = tmp_path / "times.csv"
    times.write_text("user_id,submitted_at\n12001,yesterday\n")
    for extra, words in ((["--archive", str(archive)], "entries 1 need a numeric user_id"),
                         ([], "pass it with --archive")):
        (course.root / "submitted" / "alice" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
        code, out, err = run_cli("--course", str(course.root), "grade", "--assignment", ASSIGNMENT,
                                 "--submission-times", str(times), *extra)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and not (course.root / "autograded").exists() and not course.grades_csv.exists()


def test_a_student_not_on_the_roster_is_named_in_a_warning(course: Course, tmp_path: Path) -> None:
    """Folders and nbgrader-named files of students the roster does not know are graded and named (roster
    students are not: the positive control)."""
    from hwkit.grade import _submissions

    for student in ("alice", "dave"):
        (course.submitted / student / ASSIGNMENT).mkdir(parents=True)
        (course.submitted / student / ASSIGNMENT / NOTEBOOK).write_text(marked_notebook(student))
    archive = write_zip(tmp_path / "blackboard.zip",
                        {f"hw0_erin_attempt_2025-03-01-10-00-00_{NOTEBOOK}": marked_notebook("e")})
    notes: dict[str, list[str]] = {}
    found = _submissions(course, archive, None, tmp_path / "scratch", notes)
    assert [s.student for s in found] == ["alice", "dave", "erin"]
    assert notes["(roster)"] == ["not on the roster, graded anyway: dave, erin (add them with hwkit roster, or check "
                                 "the ids: a student id must be the roster's `id`)"]
