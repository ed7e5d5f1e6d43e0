"""Output metadata written by student code cannot run script in a page rendered from it
(hwkit.safe_html.SanitizeOutputs): nbconvert writes an image's `width` and `height` into the tag
unquoted, so `{"width": "1 onerror=eval(atob(this.alt))"}` with the script in `alt` ran in a
feedback page opened from disk, where no Content-Security-Policy protects it.

Positive control: the same notebook rendered by plain nbconvert (HTMLExporter, its classic template,
which nbgrader's and hwkit's templates extend) runs the script in Chromium; rendered as the course
renders feedback (nbgrader_config.py) it runs nothing and the image keeps its well-formed size.
The end-to-end route (a real kernel's output in a real `hwkit grade`, the feedback page and
formgrader) is tests/test_formgrader_browser.py's hostile student.
"""
from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from hostile_answer import IMAGE_METADATA, active_payloads
from hwkit.safe_html import safe_output_metadata

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "window.__pwned='alt';document.title='pwned'"
# the payload: the handler evaluates the alt text, which holds the script base64-encoded
ATTACK = {"image/png": {"width": "1 onerror=eval(atob(this.alt))", "height": 80,
                        "alt": base64.b64encode(SCRIPT.encode()).decode()}}
FIGURE = {"image/png": {"width": 389, "height": 278}}  # what matplotlib's inline backend writes


def _notebook() -> nbformat.NotebookNode:
    new = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("plot()", execution_count=1, outputs=[
        new("display_data", data={"image/png": "AAAA", "text/plain": "<image>"}, metadata=ATTACK),  # not a PNG
        new("display_data", data={"image/png": "AAAA", "text/plain": "<figure>"}, metadata=FIGURE),
        new("display_data", data={"image/png": "AAAA", "text/plain": "<image>"}, metadata=IMAGE_METADATA)])
    return nbformat.v4.new_notebook(cells=[cell])


def _plain_nbconvert() -> str:
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(_notebook())
    return html


def _feedback_page(tmp_path: Path) -> str:
    """The page as GenerateFeedback renders it with the course's nbgrader_config.py."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    feedback = GenerateFeedback(coursedir=CourseDirectory(config=config, root=str(tmp_path)), config=config)
    html, _ = HTMLExporter(parent=feedback, config=feedback.config).from_notebook_node(
        _notebook(), resources={"nbgrader": {"notebook": "Planar_MLP", "score": 0, "max_score": 30, "late_penalty": 0}})
    return html


def _images(html: str) -> list[dict[str, str | None]]:
    """The attributes of every <img> in `html`."""
    class Images(HTMLParser):
        found: list[dict] = []

        def handle_starttag(self, tag, attrs) -> None:
            if tag == "img":
                self.found.append(dict(attrs))

    parser = Images()
    parser.found = []
    parser.feed(html)
    return parser.found


def test_only_well_formed_metadata_stays() -> None:
    assert safe_output_metadata(ATTACK) == {"image/png": {"height": 80, "alt": ATTACK["image/png"]["alt"]}}
    assert safe_output_metadata(FIGURE) == FIGURE
    assert safe_output_metadata({"width": "120", "height": -3, "unconfined": "yes", "needs_background": "x\" y",
                                 "filenames": {"image/png": "../../etc/passwd"}, "text/html": {"isolated": True},
                                 "image/jpeg": {"width": 2.6, "unconfined": True, "needs_background": "dark"},
                                 "image/png\" onerror=x": {"width": 1}}) == {
        "width": 120, "image/jpeg": {"width": 3, "unconfined": True, "needs_background": "dark"}}
    assert safe_output_metadata(["not", "a", "dict"]) == {}


def test_rendered_html_holds_no_handler_from_metadata(tmp_path: Path) -> None:
    plain = _plain_nbconvert()
    assert 'onerror="eval(atob(this.alt))"' in plain, "positive control: nbconvert makes the width a handler"
    assert active_payloads(plain), "positive control: the payload without spaces becomes one too"
    page = _feedback_page(tmp_path)
    images = _images(page)
    assert len(images) == 3 and active_payloads(page) == [], images
    assert [set(i) - {"src", "alt"} for i in images] == [{"height"}, {"width", "height"}, set()], images
    assert (images[0]["height"], images[1]["width"], images[1]["height"]) == ("80", "389", "278"), "sizes stay"


def test_no_script_runs_in_the_feedback_page_opened_from_disk(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from test_formgrader_browser import CHROMIUM_FLAGS, _chromium

    chromium = _chromium()
    pages = {"plain": tmp_path / "plain.html", "feedback": tmp_path / "feedback.html"}
    pages["plain"].write_text(_plain_nbconvert())
    pages["feedback"].write_text(_feedback_page(tmp_path))
    seen = {}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else route.abort())
        try:
            page = context.new_page()
            for name, path in pages.items():
                page.goto(path.as_uri(), wait_until="load")  # after `load`: the broken images have failed
                page.wait_for_timeout(300)
                seen[name] = page.evaluate("() => [window.__pwned || null, document.title === 'pwned']")
                seen[name + " images"] = page.locator("img").count()
        finally:
            context.close()
    assert seen["plain"][0] in ("alt", "image_metadata") and seen["plain"][1], \
        f"positive control: plain nbconvert's page runs the script: {seen}"
    assert seen["feedback"] == [None, False], seen
    assert seen["feedback images"] == 3, "the images are still shown"


def test_attachments_keep_image_data_only() -> None:
    attachment = {"image/png": ["AA", "AA"], "text/html\" onerror=x": "y"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("![fig](attachment:fig.png)",
                                                                     attachments={"fig.png": attachment})])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    html, _ = HTMLExporter(config=config).from_notebook_node(nb)
    assert [set(i) for i in _images(html)] == [{"src", "alt"}] and "text/html" not in html
