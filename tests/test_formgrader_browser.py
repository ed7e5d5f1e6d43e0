"""Manual grading of a written answer in nbgrader's formgrader, in a real (headless) Chromium.

`hwkit lab` starts JupyterLab + formgrader on a graded scratch course; the test clicks through
Formgrader -> Manual Grading -> hw1 -> Problem 1 -> alice like a TA, checks the mark scheme of
the written answer is shown, types points and a comment, and then finds those points in nbgrader's
gradebook and in the total `hwkit export` writes to grades.csv.

Needs Chromium (`apt-get install chromium`, or $HWKIT_CHROMIUM) and Playwright for Python
(`pip install playwright`; never `playwright install`). Without them the test is skipped, or
fails when $CI is set. HWKIT_UPDATE_SCREENSHOT=1 also writes docs/formgrader.png.
"""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from hwkit.course import Course
from hwkit.demo import filled_release
from hwkit.grade import grade
from hwkit.lab import export_from_gradebook, lab_extension_state, start_lab
from hwkit.report import write_grades_csv

REPO = Path(__file__).resolve().parents[1]
COURSE_FILES = ("nbgrader_config.py", "source", "release", "grader_tests")
NOTEBOOK = "Problem1_Softmax_CrossEntropy.ipynb"
WRITTEN = "q1_1_written"
STUDENT, OTHER = "alice", "bob"
ANSWER = "Cross-entropy J = -1/N sum_i log z_i; dJ/dW2 = (Z - T) Y^T / N; dJ/dW1 = [(W2^T (Z - T)) * f'(A)] X^T / N."
POINTS = 3
COMMENT = "Good; the derivation of z - t via the softmax Jacobian is missing (-1)."
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOT = REPO / "docs" / "formgrader.png"


# Flaky on a loaded machine: formgrader sometimes sends no grade PUT within 30 s (suspected race with
# its page scripts). Opt in with HWKIT_BROWSER_TESTS=1 until that is fixed (issue 7 stays open).
pytestmark = pytest.mark.skipif(not os.environ.get("HWKIT_BROWSER_TESTS"),
                                reason="opt-in (HWKIT_BROWSER_TESTS=1): flaky under load, issue 7 open")


def _chromium() -> str:
    candidates = [os.environ.get("HWKIT_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    path = next((c for c in candidates if c and Path(c).exists()), None)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        message = "needs Chromium (apt-get install chromium) and Playwright (pip install playwright)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _with_answer(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's answer in the unlocked markdown cell below the written-answer task."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells[ids.index(WRITTEN) + 1].source = ANSWER
    return nb


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Course:
    """A copy of the course (committed source/ and release/) where alice (the reference solution with
    a written answer) and bob (the untouched release) handed in Problem 1, graded by `hwkit grade`."""
    root = tmp_path_factory.mktemp("formgrader") / "course"
    root.mkdir()
    for name in COURSE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, root / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(path, root / name)
    course = Course.at(root)
    for student, nb in ((STUDENT, _with_answer(filled_release(course, NOTEBOOK))),
                        (OTHER, nbformat.read(course.release / NOTEBOOK, as_version=4))):
        folder = course.submitted / student / course.assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
    grade(course, timeout=20)
    return course


def _screenshot(page, panel, answer, path: Path) -> None:
    """The written answer's panel (points, mark scheme, comment) and the student's answer below it,
    under formgrader's breadcrumb bar."""
    panel.scroll_into_view_if_needed()
    scroll = page.evaluate("window.scrollY")
    top = panel.bounding_box()["y"] + scroll
    box = answer.bounding_box()
    bottom = box["y"] + scroll + box["height"]
    header = page.locator(".navbar").first.bounding_box()["height"] if page.locator(".navbar").count() else 0
    page.set_viewport_size({"width": 1280, "height": int(bottom - top + header + 32)})
    page.evaluate(f"window.scrollTo(0, {top - header - 12})")
    page.screenshot(path=str(path))


def _csv_rows(course: Course, path: Path) -> dict[str, dict[str, str]]:
    write_grades_csv(export_from_gradebook(course), path)
    with path.open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_ta_grades_a_written_answer_in_formgrader(graded_course: Course, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    course = graded_course
    before = _csv_rows(course, tmp_path / "before.csv")
    assert before[STUDENT][WRITTEN] == "", "the written answer waits for a TA after autograding"
    auto_total = float(before[STUDENT]["total"])

    log = tmp_path / "lab.log"
    jupyter_dirs = {name: str(tmp_path / name.lower()) for name in
                    ("JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR")}
    shot = tmp_path / "formgrader.png"
    server = start_lab(course, log=log, env=jupyter_dirs)
    try:
        assert lab_extension_state(server) == (True, False), "nbgrader's JupyterLab extension is installed and enabled"
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 1000})
            try:
                # Loopback only: the MathJax CDN and anything else outside stay unreachable.
                context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname
                              in ("127.0.0.1", "localhost") else route.abort())
                context.set_default_timeout(30_000)
                page = context.new_page()

                page.goto(server.url("lab"))  # JupyterLab shows nbgrader's menu
                expect(page.get_by_role("menuitem", name="Nbgrader")).to_be_visible(timeout=60_000)

                page.goto(server.formgrader_url)  # the URL `hwkit lab` prints
                expect(page.locator("table")).to_contain_text(course.assignment)
                for link in ("Manual Grading", course.assignment, Path(NOTEBOOK).stem):
                    page.get_by_role("link", name=link, exact=True).first.click()
                expect(page.get_by_role("link", name="Submission #2", exact=True)).to_be_visible()  # table loaded
                page.get_by_role("button", name="Show All Names").click()
                page.get_by_role("link", name=STUDENT, exact=True).click()

                panel = page.locator(".nbgrader_cell", has=page.locator(f"input.score#{WRITTEN}"))
                expect(panel).to_contain_text("=== BEGIN MARK SCHEME ===")
                expect(panel.get_by_text("=== BEGIN MARK SCHEME ===")).to_be_visible()
                expect(panel.get_by_text("=== END MARK SCHEME ===")).to_be_visible()
                expect(page.get_by_text(ANSWER[:40])).to_be_visible()

                page.wait_for_load_state("networkidle")  # formgrader's scripts bind the inputs after load
                score = panel.locator(f"input.score#{WRITTEN}")
                with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
                    score.fill(str(POINTS))
                    score.blur()  # formgrader saves on change
                assert saved.value.ok and saved.value.json()["manual_score"] == POINTS
                comment = panel.locator(f"textarea#{WRITTEN}-comment")
                with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT") as saved:
                    comment.fill(COMMENT)
                    comment.blur()
                assert saved.value.ok and saved.value.json()["manual_comment"] == COMMENT

                _screenshot(page, panel, page.get_by_text(ANSWER[:40]), shot)

                page.reload()  # what the server kept
                expect(page.locator(f"input.score#{WRITTEN}")).to_have_value(str(POINTS))
                expect(page.locator(f"textarea#{WRITTEN}-comment")).to_have_value(COMMENT)
            finally:
                context.close()
    finally:
        server.stop()
    assert server.process.poll() is not None, "the server is stopped"

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        written = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, course.assignment, STUDENT)
        assert written.manual_score == POINTS and not written.needs_manual_grade
        assert gradebook.find_comment(WRITTEN, Path(NOTEBOOK).stem, course.assignment, STUDENT).manual_comment == COMMENT
        untouched = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, course.assignment, OTHER)
        assert untouched.manual_score is None and untouched.needs_manual_grade

    after = _csv_rows(course, tmp_path / "grades.csv")
    assert float(after[STUDENT][WRITTEN]) == POINTS
    assert float(after[STUDENT]["total"]) == auto_total + POINTS, "the hand-given points are in the exported total"
    assert after[OTHER] == before[OTHER], "other students are unchanged"
    assert shot.stat().st_size < 300_000
    if os.environ.get("HWKIT_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
