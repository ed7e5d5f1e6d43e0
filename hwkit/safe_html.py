"""What students write cannot run in the browser of whoever reads it (TAs in formgrader, students
and markers in the feedback HTML).

A written answer is Markdown, and Markdown may hold raw HTML: `<img src=x onerror=...>` in an
answer ran script in the TA's formgrader page, with the TA's access to formgrader's API (every
student's grades) and to Jupyter (files, kernels). Code outputs (`display(HTML(...))`,
`Javascript(...)`) are written by student code too. Two walls, each enough on its own:

1. **Sanitised rendering.** nbgrader renders formgrader's submission pages and the feedback HTML
   with nbconvert's HTMLExporter and templates of its own, which pipe Markdown cells (and TA
   comments) through the `markdown2html` filter but never through `clean_html`, so nbconvert's
   `sanitize_html` alone leaves them raw. nbgrader_config.py therefore sets `sanitize_html` (HTML
   and Markdown outputs go through `clean_html`; JavaScript and widget outputs are dropped) and
   replaces both filters by the ones here, which clean with an allow-list: text formatting, lists,
   tables, code, links (http, https, mailto, relative) and images (also data:image URIs); no
   scripts, event handlers, styles, forms, frames, SVG, ids (they could stand in for the ids
   formgrader's own scripts look up). What is not allowed is shown escaped, as text, so the TA sees
   what was attempted. LaTeX is plain text to the cleaner (`$a<b$` stays `$a&lt;b$` in the HTML),
   so MathJax still typesets it.
2. **A Content-Security-Policy on formgrader's submission pages**, added by this module as a
   Jupyter server extension (`hwkit lab` loads it). Scripts may come only from the server itself
   (formgrader's scripts, and MathJax, which the jupyter-server-mathjax extension serves: see
   hwkit/templates/formgrade/mathjax.html.j2), from the hosts formgrader's own page loads scripts
   from (none with hwkit's templates) and, by SHA-256 hash, from the exact inline scripts and event
   handlers of formgrader's own page: the part before the student's notebook (`<div
   id="notebook">`). An inline script, event handler or `javascript:` URL in the student's part is
   refused by the browser; no eval (MathJax is configured by an object; the `text/x-mathjax-config`
   blocks MathJax would run with eval, a student's included, fail), no plugins, frames, forms,
   foreign images or connections.

Output metadata reaches the page outside both filters: nbconvert's templates write an image's
`width` and `height` into the tag unquoted, so `{"width": "1 onerror=..."}` from student code ran
script in a feedback page opened from disk (no CSP there). `SanitizeOutputs`, a preprocessor of
every HTMLExporter the course configures (nbgrader_config.py: the feedback pages and formgrader's
views), keeps only well-formed values of the few metadata keys the templates read (positive integer
sizes, `unconfined`, `needs_background`, text `alt`) and image-only cell attachments, and drops
everything else before any template sees it.
"""
from __future__ import annotations

import base64
import hashlib
import math
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import bleach
from jinja2 import pass_context
from jinja2.runtime import Context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "s",
        "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "u", "ul"}
CELL = ["align", "colspan", "rowspan"]
ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"], "abbr": ["title"],
              "td": CELL, "th": CELL, "span": ["class"], "div": ["class"], "pre": ["class"], "code": ["class"]}
# data: only for images (bleach checks the scheme of every href and src against this list)
PROTOCOLS = {"http", "https", "mailto", "data"}


def _allowed(tag: str, name: str, value: str) -> bool:
    if name not in ATTRIBUTES.get(tag, ()):
        return False
    if name in ("href", "src"):
        url = re.sub(r"[\x00-\x20\x7f-\xa0]+", "", value).lower()
        return not url.startswith("data:") or (tag == "img" and url.startswith("data:image/"))
    return True


def clean_html(html: str | bytes) -> str:
    """nbconvert's `clean_html` filter, with the allow-list above (a bleach cleaner per call: they
    are not thread-safe)."""
    return bleach.clean(html.decode() if isinstance(html, bytes) else str(html), tags=TAGS, attributes=_allowed,
                        protocols=PROTOCOLS, strip=False, strip_comments=True)


@pass_context
def markdown2html(context: Context, source: str) -> str:
    """nbconvert's `markdown2html` filter (cell attachments become data: URIs), cleaned. Headings get
    no ids and no anchor links (ids are not allowed)."""
    cell = context.get("cell", {})
    renderer = IPythonRenderer(escape=False, attachments=cell.get("attachments", {}), exclude_anchor_links=True,
                               path=context.get("resources", {}).get("metadata", {}).get("path", ""))
    return clean_html(MarkdownWithMath(renderer=renderer).render(source))


# --- output metadata and attachments --------------------------------------------------------------

MIMETYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
IMAGE = re.compile(r"image/[a-z0-9.+-]+")
BACKGROUNDS = ("light", "dark")


def _size(value: object) -> int | None:
    """A positive whole number of pixels (int, float or digits), else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(round(value)) if 0 < value < 100_000 else None


def _attributes(metadata: dict) -> dict:
    """What nbconvert's templates write as tag attributes, only in a form they cannot break out of."""
    kept = {key: _size(metadata.get(key)) for key in ("width", "height")}
    kept = {key: value for key, value in kept.items() if value is not None}
    if metadata.get("unconfined") is True:
        kept["unconfined"] = True
    if metadata.get("needs_background") in BACKGROUNDS:
        kept["needs_background"] = metadata["needs_background"]
    if isinstance(metadata.get("alt"), str):  # written quoted and escaped
        kept["alt"] = metadata["alt"]
    return kept


def safe_output_metadata(metadata: object) -> dict:
    """An output's metadata, top level and per mimetype, reduced to `_attributes`."""
    if not isinstance(metadata, dict):
        return {}
    kept = _attributes(metadata)
    for mimetype, value in metadata.items():
        if isinstance(mimetype, str) and MIMETYPE.fullmatch(mimetype) and isinstance(value, dict):
            if attributes := _attributes(value):
                kept[mimetype] = attributes
    return kept


class SanitizeOutputs(Preprocessor):
    """nbconvert preprocessor: every output's metadata reduced to `safe_output_metadata`, execution
    counts that are not numbers dropped, a cell's `alt` kept only as text, and cell attachments
    kept only as image data (see the module docstring)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if not isinstance(cell.metadata.get("alt", ""), str):
            del cell.metadata["alt"]
        if "attachments" in cell:
            attachments = cell.attachments if isinstance(cell.attachments, dict) else {}
            cell.attachments = {str(name): {m: _text(data) for m, data in bundle.items()
                                            if IMAGE.fullmatch(str(m)) and _text(data) is not None}
                                for name, bundle in attachments.items() if isinstance(bundle, dict)}
        for node in (cell, *cell.get("outputs", [])):
            if "execution_count" in node and not _count(node.execution_count):
                node.execution_count = None
        for output in cell.get("outputs", []):
            if "metadata" in output:
                output.metadata = NotebookNode(safe_output_metadata(output.metadata))
        return cell, resources


def _text(value: object) -> str | None:
    """A string, or a list of strings (nbformat's multi-line form) joined; else None."""
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- Content-Security-Policy of formgrader's submission pages ------------------------------------

SUBMISSION_PAGE = re.compile(r"/formgrader/submissions/[^/]+/?$")
STUDENT_PART = "notebook"  # id of the element that holds the student's notebook
EXECUTABLE = {"", "text/javascript", "application/javascript", "module"}


class _OwnScripts(HTMLParser):
    """Hashes of the inline scripts and event handlers, and the hosts of the external scripts, of
    the page up to the student's part; `complete` once that part was reached."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hashes: list[str] = []
        self.hosts: set[str] = set()
        self.handlers = self.complete = False
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.complete:
            return
        attributes = dict(attrs)
        if attributes.get("id") == STUDENT_PART:
            self.complete = True
            return
        for name, value in attributes.items():
            if name.startswith("on") and value:
                self.hashes.append(_sha256(value))
                self.handlers = True
        if tag == "script" and attributes.get("src"):
            url = urlsplit(attributes["src"])
            if url.scheme in ("http", "https") and url.netloc:
                self.hosts.add(f"{url.scheme}://{url.netloc}")
        elif tag == "script" and (attributes.get("type") or "").lower() in EXECUTABLE:
            self._script = []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.hashes.append(_sha256("".join(self._script)))
            self._script = None


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def submission_policy(page: str) -> str:
    """The CSP of a formgrader submission page. If the student's part is not found (a page that is
    not complete, or a formgrader whose template changed), no inline script is allowed at all."""
    own = _OwnScripts()
    own.feed(page)
    scripts = ["'self'", *sorted(own.hosts)]
    if own.complete:
        scripts += (["'unsafe-hashes'"] if own.handlers else []) + sorted(set(own.hashes))
    return "; ".join([f"script-src {' '.join(scripts)}", "object-src 'none'", "frame-src 'none'",
                      "worker-src 'none'", "form-action 'none'", "base-uri 'none'", "img-src 'self' data:",
                      "connect-src 'self'"])


class SubmissionPageCSP(OutputTransform):
    """Adds `submission_policy` to formgrader's submission pages (beside Jupyter's own policy:
    a browser enforces both)."""

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._applies = request.method == "GET" and bool(SUBMISSION_PAGE.search(request.path))

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        if self._applies and headers.get("Content-Type", "").startswith("text/html"):
            page = chunk.decode("utf-8", "replace") if finishing else ""  # a streamed page gets no inline script
            headers.add("Content-Security-Policy", submission_policy(page))
        return status_code, headers, chunk


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "hwkit.safe_html"}]


def _load_jupyter_server_extension(serverapp) -> None:
    # first: it must see the page before any compression does
    serverapp.web_app.transforms.insert(0, SubmissionPageCSP)
