"""One gradebook behind every grade (issue 20, items 1, 2, 5, 8), on a small class graded for real: Homework 0
through the `hwkit` command line (real nbgrader, sandbox, judge), in a subprocess each time.

alice hands in on time in submitted/, bob 25 hours late through an LMS archive, carol (on the roster) through a
second archive later. TAs grade the written answer with a comment through nbgrader's Gradebook API, as
formgrader saves it. Then `export`, `release-feedback` and `grade` run in several orders: after every command,
grades-hw0.csv, grades-canvas-hw0.csv, the console and the feedback pages in each student's zip give the same
totals, the TA's points and comment are in the zip, and no total moves unless a grade changed. A second archive
without bob keeps bob's grade. A changed grading input regrades everyone: Ctrl-C (SIGINT to the process group, as
a terminal sends it) stops that run within seconds with one line and nothing left in /tmp, and the resumed run's
regrade report covers the student graded before the interrupt too.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import REPO, unless_available
from hw0_corpus import ASSIGNMENT, NOTEBOOK, WRITTEN, release_with
from hwkit.course import Course, copy_course_files
from hwkit.walls import available

pytestmark = [pytest.mark.slow, unless_available(available())]
ROSTER = "id,first_name,last_name,email\nalice,Alice,Liddell,alice@uni.edu\nbob,Bob,Dylan,\ncarol,Carol,King,\n"
TA = {"alice": (2.0, "State the formula & its & units."), "bob": (3.0, "Complete.")}
TOTALS = {"alice": "19", "bob": "16"}  # 17 + 2; (17 + 3) x 80 % (25 h late: 2 started days, 10 % each)


def env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(tmp))


def hwkit(course: Course, *args: str, code: int = 0) -> str:
    done = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), *args,
                           "--assignment", ASSIGNMENT], cwd=REPO, env=env(course.root.parent / "tmp"),
                          capture_output=True, text=True)
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout


def lms_zip(path: Path, course: Course, student: str, stamp: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        notebook = release_with(course.root, lambda grade_id, text: text)
        zf.writestr(f"{ASSIGNMENT}_{student}_attempt_{stamp}_{NOTEBOOK}", nbformat.writes(notebook))
    return path


def everything(course: Course, console: str) -> dict[str, dict[str, str]]:
    """student -> the total each file gives (and the TA's comment in the zip's pages), asserting they agree."""
    grades = {r["student_id"]: r for r in csv.DictReader(course.grades_csv.open())}
    canvas = {r[2]: r[5] for r in list(csv.reader(course.canvas_csv.open()))[2:]}
    seen = {}
    for student, row in grades.items():
        with zipfile.ZipFile(course.root / "feedback-release" / ASSIGNMENT / f"{student}.zip") as zf:
            index = zf.read(f"{ASSIGNMENT}/index.html").decode()
            page = zf.read(f"{ASSIGNMENT}/Warmup.html").decode() if f"{ASSIGNMENT}/Warmup.html" in zf.namelist() \
                else ""
        headline = re.search(r"Total: <strong>([\d.]+)</strong>", index).group(1)
        line = next(line for line in console.splitlines() if line.startswith(student + " "))
        shown = re.search(r" (\d[\d.]*)/\d+(?: so far:| \(late|$| no submission)", line).group(1)
        assert row["total"] == canvas[student] == headline == shown, (student, row["total"], canvas, headline, line)
        seen[student] = {"total": row["total"], "written": row[WRITTEN], "status": row["status"],
                         "index": index, "page": page, "email": row["email"]}
    return seen


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("one-gradebook") / "course"
    copy_course_files(REPO, root)
    (root.parent / "tmp").mkdir()
    course = Course.at(root, ASSIGNMENT)
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.LatePolicy.due_dates = {}",
                                                 f'c.LatePolicy.due_dates = {{"{ASSIGNMENT}": "2024-03-02 23:59:59"}}'))
    (root.parent / "students.csv").write_text(ROSTER)
    hwkit(course, "roster", str(root.parent / "students.csv"))
    folder = course.submitted / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(release_with(root, lambda grade_id, text: text), folder / NOTEBOOK)
    (folder / "timestamp.txt").write_text("2024-03-02 12:00:00")
    grade = ("grade", "--jobs", "2", "--timeout", "15")
    steps = {"first": hwkit(course, *grade, "--archive", str(lms_zip(root.parent / "lms1.zip", course, "bob",
                                                                        "2024-03-04-01-00-00")))}
    steps["first_seen"] = everything(course, steps["first"])
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:  # what formgrader's "Save" does
        for student, (points, comment) in TA.items():
            cell = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student)
            cell.manual_score, cell.needs_manual_grade = points, False
            gradebook.find_comment(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student).manual_comment = comment
        gradebook.db.commit()
    table = ""  # the console's table, as the last command that prints one printed it
    for name, command in (("export", ("export",)), ("release", ("release-feedback",)), ("grade", grade),
                          ("release2", ("release-feedback",)), ("export2", ("export",))):
        steps[name] = hwkit(course, *command)
        table = table if "release" in name else steps[name]
        steps[f"{name}_seen"] = everything(course, table)
    steps["second"] = hwkit(course, *grade, "--archive", str(lms_zip(root.parent / "lms2.zip", course, "carol",
                                                                       "2024-03-02-10-00-00")))
    steps["second_seen"] = everything(course, steps["second"])
    return {"course": course, **steps}


def test_every_file_gives_the_same_total_whatever_ran_last(term) -> None:
    first = term["first_seen"]
    assert (first["alice"]["total"], first["bob"]["total"], first["carol"]["status"]) == ("17", "13.6", "no submission")
    assert first["alice"]["written"] == ""  # waits for a TA
    for step in ("export", "release", "grade", "release2", "export2", "second"):
        seen = term[f"{step}_seen"]
        assert {s: seen[s]["total"] for s in TA} == TOTALS, step
        assert {s: seen[s]["written"] for s in TA} == {"alice": "2", "bob": "3"}, step


def test_the_zip_carries_the_tas_points_and_comment_and_the_late_headline(term) -> None:
    alice, bob = term["export2_seen"]["alice"], term["export2_seen"]["bob"]
    assert "State the formula &amp; its &amp; units." in alice["index"]  # escaped, as text
    assert "State the formula &amp; its &amp; units." in alice["page"]  # the notebook's page too
    assert re.search(r"q6_written.*?2 / 3", alice["page"], re.S) and "not graded yet" not in alice["page"]
    assert "Complete." in bob["index"] and "after the late penalty" in bob["index"]
    assert re.search(r"20 / 20</span> <span class=\"lost\">\(late -4\)", bob["index"]), "the notebook's share"
    assert "-20% (-4 points)" in bob["index"]
    assert re.search(r"Warmup: 16\s*/ 20 points <span class=\"lost\">\(after the late penalty of -4\)", bob["page"])
    assert alice["email"] == "alice@uni.edu"


def test_export_explains_from_the_verdicts(term) -> None:
    assert "flagged for review" not in term["export2"] and "more reasons" not in term["export2"]
    assert "bob" in term["export2"] and "late by 1 day 2 h: -20% (-4 points)" in term["export2"]


def hand_grades_unflagged(course: Course) -> None:
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        for student in TA:
            cell = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, ASSIGNMENT, student)
            assert cell.manual_score == TA[student][0] and not cell.needs_manual_grade, student


def test_a_second_download_adds_and_keeps(term) -> None:
    out, seen = term["second"], term["second_seen"]
    assert "submissions: 1 new, 0 replaced, 2 unchanged; 1 graded before and kept (bob: not in this intake)" in out
    assert seen["bob"]["total"] == "16" and seen["bob"]["status"] == "graded"
    assert seen["carol"]["total"] == "17" and seen["carol"]["status"] == "graded"
    assert "17/17 automatic; 3 points await a TA" in out


def test_ctrl_c_stops_cleanly_and_the_resumed_regrade_covers_everyone(term) -> None:
    course = term["course"]
    tmp = course.root.parent / "tmp"
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\n# a grading input changed: every student is graded again\n")
    cache = course.autograded / ".hwkit-cache" / ASSIGNMENT
    before = {p: p.stat().st_mtime_ns for p in cache.glob("*.json")}
    sandboxes = set(Path("/tmp").glob("hwk-*"))
    process = subprocess.Popen([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), "grade",
                                "--assignment", ASSIGNMENT, "--jobs", "1", "--timeout", "15"], cwd=REPO,
                               env=env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 600
    while not any(p.stat().st_mtime_ns != before.get(p) for p in cache.glob("*.json")):
        assert process.poll() is None and time.monotonic() < deadline, "no student was graded"
        time.sleep(0.2)
    time.sleep(1)  # the next student is being graded
    os.killpg(process.pid, signal.SIGINT)  # as the terminal sends Ctrl-C: to the whole foreground group
    stopped = time.monotonic()
    out, err = process.communicate(timeout=60)
    took = time.monotonic() - stopped
    print(f"stopped {took:.1f} s after Ctrl-C")
    assert took < 30 and process.returncode == 130, (took, out[-2000:], err[-2000:])
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"hwkit grade: interrupted: [12] graded, run again to go on", last), err
    assert "Traceback" not in out + err and "Error" not in err, err
    assert not list(tmp.iterdir()), "the scratch folder is removed"
    left = [p for p in set(Path("/tmp").glob("hwk-*")) - sandboxes if not _alive(p)]
    assert not left, f"sandbox folders of stopped workers: {left}"
    resumed = hwkit(course, "grade", "--jobs", "2", "--timeout", "15")  # bob and carol: from the kept copies
    assert "regrade: 3 student(s) graded again, no score changed" in resumed, resumed
    assert re.search(r"submissions: 0 new, [12] replaced, [12] unchanged; 2 graded before and kept", resumed), resumed
    seen = everything(course, resumed)
    assert {s: seen[s]["total"] for s in TA} == TOTALS
    hand_grades_unflagged(course)  # the same submissions graded again: the TAs' grades stand


def _alive(folder: Path) -> bool:
    """Whether the process that made a fork server's folder (/tmp/hwk-<pid>-...) still runs (another test's);
    other names (build verification's hwk-judge-*) are not a grading worker's."""
    pid = re.fullmatch(r"hwk-(\d+)-.*", folder.name)
    try:
        os.kill(int(pid.group(1)), 0) if pid else None
    except ProcessLookupError:
        return False
    return True


def test_feedback_pages_in_a_browser_wrap_pad_and_show_the_late_total(term, tmp_path: Path) -> None:
    """bob's zip, unpacked and opened offline in Chromium: nothing runs off the page sideways, the Markdown table
    of the notebook's page has padded cells, the headline total is after the penalty. With
    HWKIT_UPDATE_FEEDBACK_SCREENSHOT set, docs/feedback.png is taken from it (index.html beside the page)."""
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with zipfile.ZipFile(term["course"].root / "feedback-release" / ASSIGNMENT / "bob.zip") as zf:
        zf.extractall(tmp_path / "bob")
    folder = tmp_path / "bob" / ASSIGNMENT
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            page.goto((folder / "index.html").as_uri())
            assert "Total: 16 / 20 points (after the late penalty: late by 1 day 2 h" in page.inner_text("body")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            if os.environ.get("HWKIT_UPDATE_FEEDBACK_SCREENSHOT"):
                page.screenshot(path=str(tmp_path / "index.png"))
            page.goto((folder / "Warmup.html").as_uri())
            assert "Warmup: 16 / 20 points (after the late penalty of -4)" in page.inner_text("h4")
            padding = page.evaluate("""() => { const cell = document.querySelector('.rendered_html td');
                return cell ? parseFloat(getComputedStyle(cell).paddingLeft) : -1; }""")
            assert padding >= 8, padding
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            if os.environ.get("HWKIT_UPDATE_FEEDBACK_SCREENSHOT"):
                page.screenshot(path=str(tmp_path / "page.png"))
                import matplotlib.image
                import numpy as np

                images = [matplotlib.image.imread(tmp_path / name)[:, :, :3] for name in ("index.png", "page.png")]
                matplotlib.image.imsave(REPO / "docs" / "feedback.png", np.hstack(images))
        finally:
            browser.close()


def chromium_or_skip() -> str:
    """Chromium and Playwright, or skip (fail when $CI is set)."""
    import shutil

    path = next((c for c in (os.environ.get("HWKIT_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
                 if c and Path(c).exists()), None)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("needs Chromium and Playwright")
        pytest.skip("needs Chromium and Playwright")
    return path
