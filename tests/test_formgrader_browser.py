"""Manual grading of a written answer in nbgrader's formgrader, in a real (headless) Chromium.

`hwkit lab` starts JupyterLab + formgrader on a graded scratch course; the test clicks through
Formgrader -> Manual Grading -> hw1 -> Problem 1 -> alice like a TA, checks the mark scheme of
the written answer is shown, types points and a comment, and then finds those points in nbgrader's
gradebook and in the total `hwkit export` writes to grades.csv.

A hostile student (tests/hostile_answer.py: script, event handlers, javascript: links, frames, a
form, an object, a <base>, MathJax config) is opened in formgrader as a TA with both walls of
hwkit/safe_html.py and with each alone: nothing runs, nothing is requested, no grade changes,
formgrader still works and the LaTeX of the answer reaches MathJax unchanged. Its code cell's image
output, whose metadata nbconvert would turn into an event handler, runs nothing in its feedback page
opened from disk either (tests/test_output_metadata.py shows plain nbconvert's page running it).

Maths without a network: the browser reaches loopback only (or nothing but files), yet MathJax
typesets the equations in formgrader (served by jupyter-server-mathjax) and in the feedback pages
opened as local files (the copy of MathJax beside them).

Needs Chromium (`apt-get install chromium`, or $HWKIT_CHROMIUM) and Playwright for Python
(`pip install playwright`; never `playwright install`). Without them the test is skipped, or
fails when $CI is set. HWKIT_UPDATE_SCREENSHOT=1 also writes docs/formgrader.png.

Formgrader's page is server-rendered, but its score and comment boxes only save once its scripts
have bound them: on window `load`, formgrade.js fetches /formgrader/api/grades and /api/comments
and only then creates the Backbone views (GradeUI, CommentUI) that save on `change`; creating a
view also re-renders its box from the gradebook, wiping whatever was typed before. So the test
waits for those views (`formgrader.grades.loaded`, set right after they are created), not for
visible text or Playwright's "networkidle" (500 ms without requests, which a busy machine reaches
while the page is still parsing, before `load`): typing earlier sent no PUT at all (issue 7).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from hostile_answer import BUTTON_TEXT, IMAGE_METADATA, LATEX, LINK_TEXT, active_payloads, hostile
from hwkit.course import Course, copy_course_files
from hwkit.demo import filled_release
from hwkit.export import export_from_gradebook
from hwkit.grade import grade
from hwkit.lab import HOST, SERVER_EXTENSIONS, lab_extension_state, start_lab
from hwkit.report import write_grades_csv, write_summaries
from hwkit.settings import GradingSettings

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "Problem1_Softmax_CrossEntropy.ipynb"
WRITTEN = "q1_1_written"
STUDENT, OTHER, HOSTILE = "alice", "bob", "mallory"
ANSWER = "Cross-entropy J = -1/N sum_i log z_i; dJ/dW2 = (Z - T) Y^T / N; dJ/dW1 = [(W2^T (Z - T)) * f'(A)] X^T / N."
POINTS = 3
COMMENT = "Good; the derivation of z - t via the softmax Jacobian is missing (-1)."
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
SCREENSHOT = REPO / "docs" / "formgrader.png"

LOOPBACK = ("127.0.0.1", "::1", "localhost")
# True once formgrade.js has bound the views that save this cell's score and comment (see the docstring).
VIEWS_BOUND = """grade_id => typeof formgrader !== "undefined"
    && !!formgrader.grades && formgrader.grades.loaded === true
    && !!formgrader.comments && formgrader.comments.loaded === true
    && formgrader.grade_uis.some(ui => ui.$score.attr("id") === grade_id)
    && formgrader.comment_uis.some(ui => ui.$comment.attr("id") === grade_id + "-comment")"""
# True once MathJax has typeset the page: its output elements are there and its queue is empty.
TYPESET = """() => typeof MathJax !== "undefined" && !!MathJax.Hub && !!MathJax.Hub.queue
    && MathJax.Hub.queue.pending === 0 && document.querySelectorAll("#notebook .MathJax").length > 0"""


# The TeX of mallory's answer (hostile_answer.LATEX and DISPLAY_LATEX) as MathJax reads it.
TEX = [r"\frac{\partial J}{\partial z_i} = z_i - t_i", "0 < z_i < 1", r"\begin{aligned} a &= b \\ c &< d \end{aligned}"]


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
    a written answer), bob (the untouched release) and mallory (the reference solution with a hostile
    answer) handed in Problem 1, graded by `hwkit grade`."""
    _chromium()  # skip (or fail under $CI) before grading when there is no browser to test with
    root = tmp_path_factory.mktemp("formgrader") / "course"
    copy_course_files(REPO, root)
    course = Course.at(root)
    for student, nb in ((STUDENT, _with_answer(filled_release(course, NOTEBOOK))),
                        (OTHER, nbformat.read(course.release / NOTEBOOK, as_version=4)),
                        (HOSTILE, hostile(filled_release(course, NOTEBOOK), WRITTEN))):
        folder = course.submitted / student / course.assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
    write_summaries(grade(course, GradingSettings()), course)  # as `hwkit grade` does
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


def _wait_for_views(page, grade_id: str, errors: list[str]) -> None:
    """Until formgrader's scripts can save `grade_id`'s score and comment; a clear failure otherwise."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(VIEWS_BOUND, arg=grade_id, polling=100, timeout=60_000)
    except PlaywrightTimeout:
        state = page.evaluate("""() => typeof formgrader === "undefined" ? "formgrade.js not loaded" : JSON.stringify({
            readyState: document.readyState, grades: formgrader.grades && formgrader.grades.loaded,
            comments: formgrader.comments && formgrader.comments.loaded,
            grade_uis: (formgrader.grade_uis || []).map(ui => ui.$score.attr("id"))})""")
        pytest.fail(f"formgrader did not bind the score/comment boxes of {grade_id} within 60 s "
                    f"(GET /formgrader/api/grades and /api/comments must succeed): {state}; page errors: {errors}")


def _wait_for_maths(page) -> None:
    """Until MathJax has typeset the page's equations; a clear failure otherwise."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(TYPESET, polling=200, timeout=60_000)
    except PlaywrightTimeout:
        state = page.evaluate("() => typeof MathJax === 'undefined' ? 'MathJax not loaded' : "
                              "document.querySelectorAll('.MathJax').length + ' MathJax elements'")
        pytest.fail(f"MathJax typeset nothing within 60 s without a network: {state}")


def _save(page, field, value: str, api: str):
    """Type `value` into a bound formgrader box and leave it; the response of the PUT it sends."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        with page.expect_response(lambda r: f"/formgrader/api/{api}/" in r.url and r.request.method == "PUT",
                                  timeout=60_000) as saved:
            field.fill(value)
            field.blur()  # formgrader saves on change
    except PlaywrightTimeout:
        pytest.fail(f"formgrader sent no PUT /formgrader/api/{api}/ within 60 s after typing {value!r} "
                    f"(the box now holds {field.input_value()!r})")
    return saved.value


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process and its children listen on."""
    import psutil

    parent = psutil.Process(pid)
    found = set()
    for process in (parent, *parent.children(recursive=True)):
        try:
            found |= {(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="tcp")
                      if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _jupyter_dirs(tmp_path: Path) -> dict[str, str]:
    return {name: str(tmp_path / name.lower()) for name in
            ("JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR")}


def _browser(playwright, chromium: str, tmp_path: Path):
    """A headless Chromium that reaches loopback only (the MathJax CDN and anything else outside
    stay unreachable)."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname
                  in LOOPBACK else route.abort())
    context.set_default_timeout(30_000)
    return context


def _csv_rows(course: Course, path: Path) -> dict[str, dict[str, str]]:
    write_grades_csv(export_from_gradebook(course), path)
    with path.open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_ta_grades_a_written_answer_in_formgrader(graded_course: Course, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    expect.set_options(timeout=30_000)  # not 5 s: pages fill their tables by XHR, slow on a loaded machine
    course = graded_course
    before = _csv_rows(course, tmp_path / "before.csv")
    assert before[STUDENT][WRITTEN] == "", "the written answer waits for a TA after autograding"
    auto_total = float(before[STUDENT]["total"])

    shot = tmp_path / "formgrader.png"
    server = start_lab(course, log=tmp_path / "lab.log", env=_jupyter_dirs(tmp_path))
    try:
        listening = _listening(server.process.pid)
        assert (HOST, server.port) in listening and all(ip in LOOPBACK for ip, _ in listening), \
            f"JupyterLab listens on loopback only: {sorted(listening)}"
        assert lab_extension_state(server) == (True, False), "nbgrader's JupyterLab extension is installed and enabled"
        with sync_playwright() as playwright:
            context = _browser(playwright, chromium, tmp_path)
            try:
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                outside: list[str] = []  # requests that would need a network (MathJax asks for about:blank)
                page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).scheme in ("http", "https")
                        and urlparse(r.url).hostname not in LOOPBACK else None)

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

                _wait_for_views(page, WRITTEN, errors)  # typing earlier is lost (issue 7)
                _wait_for_maths(page)
                assert not outside and not errors, (outside, errors)
                saved = _save(page, panel.locator(f"input.score#{WRITTEN}"), str(POINTS), "grade")
                assert saved.ok and saved.json()["manual_score"] == POINTS
                saved = _save(page, panel.locator(f"textarea#{WRITTEN}-comment"), COMMENT, "comment")
                assert saved.ok and saved.json()["manual_comment"] == COMMENT

                _screenshot(page, panel, page.get_by_text(ANSWER[:40]), shot)

                page.reload()  # what the server kept: formgrader fills the boxes when it binds them
                _wait_for_views(page, WRITTEN, errors)
                expect(page.locator(f"input.score#{WRITTEN}")).to_have_value(str(POINTS))
                expect(page.locator(f"textarea#{WRITTEN}-comment")).to_have_value(COMMENT)
            finally:
                context.close()
    finally:
        server.stop()
    assert server.process.poll() is not None, "the server is stopped"
    with pytest.raises(OSError):  # and nothing answers on its port any more
        socket.create_connection((HOST, server.port), timeout=2).close()

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        written = gradebook.find_grade(WRITTEN, Path(NOTEBOOK).stem, course.assignment, STUDENT)
        assert written.manual_score == POINTS and not written.needs_manual_grade
        comment = gradebook.find_comment(WRITTEN, Path(NOTEBOOK).stem, course.assignment, STUDENT)
        assert comment.manual_comment == COMMENT
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


def _gradebook(course: Course) -> list[tuple]:
    """Every grade and comment in the course gradebook."""
    from nbgrader.api import Comment, Grade, Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        grades = [(g.id, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                  for g in gradebook.db.query(Grade)]
        comments = [(c.id, c.auto_comment, c.manual_comment) for c in gradebook.db.query(Comment)]
    return sorted(grades) + sorted(comments)


def test_hostile_feedback_runs_nothing(graded_course: Course) -> None:
    autograded = nbformat.read(graded_course.autograded / HOSTILE / graded_course.assignment / NOTEBOOK, as_version=4)
    metadata = [o.get("metadata") for c in autograded.cells for o in c.get("outputs", [])]
    assert IMAGE_METADATA in metadata, "positive control: the kernel's image output kept the hostile metadata"
    html = (graded_course.feedback / HOSTILE / graded_course.assignment / NOTEBOOK).with_suffix(".html").read_text()
    assert active_payloads(html) == []
    assert r"$\frac{\partial J}{\partial z_i} = z_i - t_i$ for $0 &lt; z_i &lt; 1$" in html, "LaTeX reaches MathJax"


def test_feedback_typesets_maths_offline(graded_course: Course, tmp_path: Path) -> None:
    """alice's and mallory's feedback opened as local files with every network request refused:
    MathJax (the copy beside the pages) typesets the notebook's equations and mallory's answer, the
    summary names the questions, and mallory's answer runs nothing."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    course = graded_course
    requests: list[str] = []

    def files_only(route) -> None:
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        context.route("**/*", files_only)
        try:
            page = context.new_page()
            for student in (STUDENT, HOSTILE):
                folder = course.feedback / student / course.assignment
                page.goto((folder / NOTEBOOK).with_suffix(".html").as_uri())
                _wait_for_maths(page)
                toc = page.locator("#toc").inner_text()
                assert "Test cell" not in toc and "q1_grad_hidden_to_output" in toc
                assert f"{WRITTEN}\tnot graded yet (of " in toc, toc
                assert page.evaluate("() => [window.__pwned, document.title]") == [None, Path(NOTEBOOK).stem]
            answer = page.locator(".text_cell_render", has_text="The gradient is")
            assert answer.locator(".MathJax").count() >= 3, "mallory's LaTeX is typeset"
        finally:
            context.close()
    assert requests and all(url.startswith("file:") for url in requests), [u for u in requests if "file:" not in u]


WALLS = {"both": ("sanitise", "csp"), "csp only": ("csp",), "sanitiser only": ("sanitise",)}


@pytest.mark.parametrize("walls", WALLS)
def test_hostile_answer_runs_nothing_in_formgrader(graded_course: Course, tmp_path: Path, walls: str,
                                                   monkeypatch) -> None:
    """mallory's submission opened by a TA: no payload runs or sends a request, formgrader's own
    scripts (inline ones and onclick handlers included) still work, no grade changes."""
    from nbgrader.api import Gradebook
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    expect.set_options(timeout=30_000)
    course = graded_course
    config = course.root / "nbgrader_config.py"
    shipped = config.read_text()
    if "sanitise" not in WALLS[walls]:  # formgrader renders with nbconvert's defaults (raw HTML)
        config.write_text("\n".join(line for line in shipped.splitlines() if not line.startswith("c.HTMLExporter.")))
    if "csp" not in WALLS[walls]:
        without_csp = tuple(e for e in SERVER_EXTENSIONS if e != "hwkit.safe_html")
        monkeypatch.setattr("hwkit.lab.SERVER_EXTENSIONS", without_csp)
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        submission = gradebook.find_submission_notebook(Path(NOTEBOOK).stem, course.assignment, HOSTILE).id
    before = _gradebook(course)
    try:
        server = start_lab(course, log=tmp_path / "lab.log", env=_jupyter_dirs(tmp_path))
    finally:
        config.write_text(shipped)  # read at start-up
    requests: list[str] = []
    try:
        with sync_playwright() as playwright:
            context = _browser(playwright, chromium, tmp_path)
            try:
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
                page.goto(server.formgrader_url)  # the URL `hwkit lab` prints logs the TA in
                expect(page.locator("table")).to_contain_text(course.assignment)
                response = page.goto(f"{server.base_url}/formgrader/submissions/{submission}/")
                policies = [h["value"] for h in response.headers_array()
                            if h["name"].lower() == "content-security-policy"]
                assert any("script-src" in p for p in policies) == ("csp" in WALLS[walls]), policies
                pwned = "() => [window.__pwned, document.title]"  # after `load`: images have failed by now
                assert page.evaluate(pwned) == [None, Path(NOTEBOOK).stem], page.evaluate(pwned)
                _wait_for_views(page, WRITTEN, errors)  # formgrader's scripts run under the policy
                page.locator("span.glyphicon.name-hidden").click()  # its onclick handler: toggle_name(true)
                expect(page.locator("a.name-shown")).to_be_visible()
                for link in page.get_by_text(LINK_TEXT).all():
                    link.click(timeout=5_000, no_wait_after=True)
                page.wait_for_timeout(1_000)  # for anything asynchronous
                assert page.evaluate(pwned) == [None, Path(NOTEBOOK).stem], page.evaluate(pwned)
                if "sanitise" in WALLS[walls]:  # MathJax typesets the answer from the LaTeX as written
                    _wait_for_maths(page)
                    typeset = page.evaluate("() => MathJax.Hub.getAllJax().map(jax => jax.originalText.trim())")
                    assert set(TEX) <= set(typeset), typeset
                else:  # the student's MathJax config is a script there: MathJax needs eval for it, and stops
                    text = page.locator("#notebook").first.text_content()
                    assert LATEX in text and r"a &= b \\ c &< d" in text, "LaTeX reaches the page unchanged"
                for button in page.get_by_role("button", name=BUTTON_TEXT).all():  # last: a refused form
                    button.click(timeout=5_000, no_wait_after=True)  # leaves Chromium's error page
                page.wait_for_timeout(1_000)
            finally:
                context.close()
    finally:
        server.stop()
    assert not [r for r in requests if "pwned" in r], requests
    assert not [r for r in requests if not r.startswith("GET ")], "nothing was saved"
    assert _gradebook(course) == before, "no grade or comment changed"


# --- formgrader cannot undo hwkit (hwkit/formgrader_guard.py) -------------------------------------------------

def _action_paths(course: Course) -> list[str]:
    """Every refused action's API path, for hw1 and (where it takes one) bob."""
    from hwkit.formgrader_guard import REFUSED

    paths = []
    for refused in REFUSED:
        path = refused.route.replace("([^/]+)", course.assignment, 1).replace("([^/]+)", OTHER, 1)
        paths.append(f"formgrader/api/{path}")
    return paths


def _files_of(course: Course) -> dict[str, bytes]:
    """What hwkit wrote and a formgrader action could change: the release, graded notebooks, feedback."""
    return {str(p.relative_to(course.root)): p.read_bytes() for folder in (course.release, course.autograded,
                                                                           course.feedback, course.root / "dist")
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_formgrader_actions_are_refused(graded_course: Course, tmp_path: Path) -> None:
    """Each of formgrader's generate/release/collect/autograde/feedback actions, called by its API and
    clicked in the browser, answers with the note naming the hwkit command; no grade and no file changes."""
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    expect.set_options(timeout=30_000)
    course = graded_course
    before, files = _gradebook(course), _files_of(course)
    assert (course.release / "tests").is_dir() and (course.release / "requirements.txt").is_file()
    server = start_lab(course, log=tmp_path / "lab.log", env=_jupyter_dirs(tmp_path))
    try:
        for path in _action_paths(course):
            status, body = server.get(path, method="POST", timeout=60)
            answer = json.loads(body)
            assert status == 200 and answer["success"] is False and answer["refused_by"] == "hwkit", (path, body)
            assert "hwkit refuses formgrader's" in answer["log"] and "`hwkit " in answer["log"], answer
        with sync_playwright() as playwright:
            context = _browser(playwright, chromium, tmp_path)
            try:
                page = context.new_page()
                page.goto(server.formgrader_url)  # Manage Assignments
                expect(page.locator("#hwkit-note")).to_contain_text("hwkit build")
                row = page.locator("tr", has_text=course.assignment)
                row.locator("td.assign a").click()  # "Generate"
                expect(page.locator("#error-modal")).to_contain_text(f"hwkit build --assignment {course.assignment}")
                page.goto(f"{server.base_url}/formgrader/manage_submissions/{course.assignment}")
                expect(page.locator("#hwkit-note")).to_be_visible()
                page.locator("tr", has_text=OTHER).locator("td.autograde a").click()  # "Autograde" bob
                expect(page.locator("#error-modal")).to_contain_text(f"hwkit grade --assignment {course.assignment}")
                expect(page.locator("#error-modal")).to_contain_text("unsandboxed")
            finally:
                context.close()
    finally:
        server.stop()
    assert _gradebook(course) == before, "no grade or comment changed"
    assert _files_of(course) == files, "release/, autograded/, feedback/ and dist/ are as hwkit wrote them"


def test_plain_formgrader_undoes_hwkit(graded_course: Course, tmp_path: Path, monkeypatch) -> None:
    """Positive control, on a copy of the graded course without hwkit's guard: formgrader's Generate
    rebuilds the release without its Otter tests and requirements, and every other action reaches
    nbgrader's own handler (its answer, not hwkit's note)."""
    root = tmp_path / "course"
    shutil.copytree(graded_course.root, root)
    course = Course.at(root)
    monkeypatch.setattr("hwkit.lab.SERVER_EXTENSIONS",
                        tuple(e for e in SERVER_EXTENSIONS if e != "hwkit.formgrader_guard"))
    server = start_lab(course, log=tmp_path / "lab.log", env=_jupyter_dirs(tmp_path))
    try:
        for path in _action_paths(course):
            status, body = server.get(path, method="POST", timeout=300)
            assert status == 200 and "refused_by" not in json.loads(body), (path, body[:500])
            if path.endswith("/assign"):
                assert json.loads(body)["success"] is True, body[:2000]
                assert not (course.release / "tests").exists(), "nbgrader's Generate deleted the Otter tests"
                assert not (course.release / "requirements.txt").exists()
    finally:
        server.stop()
