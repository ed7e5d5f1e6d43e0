"""A written answer (and a code cell) that tries to run script in the browser of whoever reads it.

Every payload would set `window.__pwned`, change the page title and send a request whose URL
holds "pwned" to formgrader's API (the way a real attack changes another student's grade), so
each is visible in the browser; in rendered HTML, no tag attribute and no script may hold "pwned".
The answer also holds LaTeX with `<` and `&`, which must reach MathJax unchanged. The code cell's
outputs attack through output metadata as well (an image whose `width` nbconvert writes unquoted).
"""
from __future__ import annotations

from html.parser import HTMLParser

import nbformat


def _js(name: str) -> str:
    return f"window.__pwned='{name}';document.title='pwned';fetch('/formgrader/api/pwned?{name}')"


LATEX = r"$\frac{\partial J}{\partial z_i} = z_i - t_i$ for $0 < z_i < 1$"
DISPLAY_LATEX = r"$$\begin{aligned} a &= b \\ c &< d \end{aligned}$$"
LINK_TEXT, BUTTON_TEXT = "open the derivation", "Save my grade"
PAYLOADS = {
    "img": f'<img src="x" onerror="{_js("img")}">',
    "script": f"<script>{_js('script')}</script>",
    "svg": f'<svg onload="{_js("svg")}"><circle r="1"></circle></svg>',
    "link": f'<a href="javascript:{_js("link")}">{LINK_TEXT}</a>',
    "markdown_link": f"[{LINK_TEXT} (Markdown)](javascript:{_js('markdown_link')})",
    "iframe": f'<iframe src="javascript:parent.{_js("iframe")}"></iframe>',
    "iframe_srcdoc": f'<iframe srcdoc="<script>parent.{_js("srcdoc")}</script>"></iframe>',
    "form": f'<form action="/formgrader/api/pwned?form" method="post"><input name="score" value="0">'
            f'<button type="submit">{BUTTON_TEXT}</button></form>',
    "object": '<object data="/formgrader/api/pwned?object" type="text/html"></object>',
    "details": f'<details open ontoggle="{_js("details")}"><summary>more</summary>text</details>',
    "mathjax_config": f'<script type="text/x-mathjax-config">{_js("mathjax")}</script>',
    "base": '<base href="http://127.0.0.2:9/pwned/">',
}
# nbconvert writes an image's width into the tag unquoted: output metadata that becomes an event handler
# (no spaces: an unquoted attribute value ends at the first one; the PNG data is not an image, so it fails).
IMAGE_METADATA = {"image/png": {"width": f"1 onerror={_js('image_metadata')}"}}
ANSWER = "\n\n".join([f"The gradient is {LATEX}, and", DISPLAY_LATEX, *PAYLOADS.values()])
# The same from student code: HTML, Markdown and JavaScript outputs.
CODE = ("from IPython.display import HTML, Javascript, Markdown, display\n"
        f"display(HTML({PAYLOADS['img'] + PAYLOADS['script']!r}))\n"
        f"display(Markdown({PAYLOADS['details']!r}))\n"
        f"display(Javascript({_js('javascript_output')!r}))\n"
        f"display({{'image/png': 'AAAA', 'text/plain': '<image>'}}, raw=True, metadata={IMAGE_METADATA!r})")


def hostile(nb: nbformat.NotebookNode, written: str) -> nbformat.NotebookNode:
    """`nb` with ANSWER in the answer cell below the written task `written`, and CODE in a new
    code cell after it."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    at = ids.index(written) + 1
    nb.cells[at].source = ANSWER
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(CODE))
    return nb


class _Active(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        self.found += [f"<{tag} {name}={value!r}>" for name, value in attrs if value and "pwned" in value]
        self._tag = tag

    def handle_endtag(self, tag) -> None:
        self._tag = None

    def handle_data(self, data) -> None:
        if self._tag == "script" and "pwned" in data:
            self.found.append(f"<script>{data}</script>")


def active_payloads(html: str) -> list[str]:
    """Every payload that is still a tag attribute or a script (not just text) in `html`."""
    parser = _Active()
    parser.feed(html)
    return parser.found


def code_outputs() -> list[nbformat.NotebookNode]:
    """The outputs CODE produces when it runs."""
    new = nbformat.v4.new_output
    return [new("display_data", data={"text/html": PAYLOADS["img"] + PAYLOADS["script"], "text/plain": "<HTML>"}),
            new("display_data", data={"text/markdown": PAYLOADS["details"], "text/plain": "<Markdown>"}),
            new("display_data", data={"application/javascript": _js("javascript_output"), "text/plain": "<JS>"}),
            new("display_data", data={"image/png": "AAAA", "text/plain": "<image>"}, metadata=IMAGE_METADATA)]
