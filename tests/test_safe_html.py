"""Students' Markdown, HTML and outputs rendered by nbgrader for formgrader and for the feedback
HTML cannot run script (hwkit/safe_html.py), while LaTeX reaches MathJax unchanged; and the
Content-Security-Policy of formgrader's submission pages allows formgrader's own inline scripts
only. Fast: the templates are rendered with the course's nbgrader_config.py, no server, no browser
(tests/test_formgrader_browser.py opens the same answer in formgrader in Chromium).
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.server_extensions.formgrader import handlers
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from hostile_answer import active_payloads, code_outputs, hostile
from hwkit.safe_html import clean_html, submission_policy

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "release" / "hw1" / "Problem1_Softmax_CrossEntropy.ipynb"
WRITTEN = "q1_1_written"
LATEX_IN_HTML = (r"$\frac{\partial J}{\partial z_i} = z_i - t_i$", r"$0 &lt; z_i &lt; 1$",
                 r"a &amp;= b \\ c &amp;&lt; d")


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    nb = hostile(nbformat.read(NOTEBOOK, as_version=4), WRITTEN)
    code = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("from IPython.display"))
    code.outputs = code_outputs()
    for cell in nb.cells:  # what nbgrader's GetGrades adds for the feedback template
        if cell.metadata.get("nbgrader", {}).get("points") is not None:
            cell.metadata.nbgrader["score"] = 0
    return nb


def _config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()


def _check(html: str) -> None:
    assert active_payloads(html) == []
    for latex in LATEX_IN_HTML:
        assert latex in html, f"LaTeX reaches MathJax unchanged: {latex}"
    assert "&lt;script&gt;window.__pwned='script'" in html, "a refused tag is shown as text"


def _feedback_page(notebook, tmp_path: Path) -> str:
    config = _config()
    feedback = GenerateFeedback(coursedir=CourseDirectory(config=config, root=str(tmp_path)), config=config)
    html, _ = HTMLExporter(parent=feedback, config=feedback.config).from_notebook_node(
        notebook, resources={"nbgrader": {"notebook": "Problem1", "score": 0, "max_score": 15, "late_penalty": 0}})
    return html


def _formgrader_page(notebook) -> str:
    config = Config()  # as nbgrader's FormgradeExtension configures its exporter: the course's config file last
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.merge(_config())
    html, _ = HTMLExporter(config=config).from_notebook_node(notebook, resources={
        "assignment_id": "hw1", "notebook_id": "Problem1", "submission_id": "1", "index": 0, "total": 1,
        "base_url": "", "student": "mallory", "last_name": None, "first_name": None, "notebook_path": ""})
    return html


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html)


def test_feedback_html_runs_nothing(notebook, tmp_path: Path) -> None:
    html = _feedback_page(notebook, tmp_path)
    assert "The gradient is" in html
    _check(html)


def test_feedback_page_names_each_question_and_loads_mathjax_from_beside_it(notebook, tmp_path: Path) -> None:
    html = _feedback_page(notebook, tmp_path)
    toc = html[html.index('id="toc"'):html.index("</table>")]
    assert "Test cell" not in html
    for grade_id in ("q1_softmax", "q1_grad_hidden_to_output", WRITTEN):
        assert f'<a href="#{grade_id}">{grade_id}</a>' in toc
    assert re.search(r"q1_grad_hidden_to_output</a></td>\s*<td class=\"points\"><span class=\"lost\">0 / 2", toc), toc
    assert _scripts(html) == ["mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"]
    assert not re.search(r"<script[^>]*x-mathjax-config", html), "MathJax is configured without eval"


def test_formgrader_page_runs_nothing(notebook) -> None:
    html = _formgrader_page(notebook)
    _check(html)
    policy = submission_policy(html)
    assert "'sha256-" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy


def test_formgrader_page_loads_mathjax_from_the_server(notebook) -> None:
    html = _formgrader_page(notebook)
    head = html.split('<div id="notebook"')[0]
    assert "/static/jupyter_server_mathjax/MathJax.js" in head
    assert not [s for s in _scripts(html) if not s.startswith("/formgrader/static/")], "no script from another host"
    directives = dict(d.split(" ", 1) for d in submission_policy(html).split("; "))
    assert not [s for s in directives["script-src"].split() if s.startswith("http")], directives["script-src"]


def test_clean_html_keeps_what_answers_need() -> None:
    kept = ('<h2>Title</h2><p><em>a</em> <strong>b</strong> <code>c</code></p><table><thead><tr><th>x</th></tr>'
            '</thead><tbody><tr><td>1</td></tr></tbody></table><img src="data:image/png;base64,AAAA" alt="fig">'
            '<a href="https://example.org/x" title="t">link</a><div class="highlight"><pre><span class="k">def</span>'
            '</pre></div>')
    assert clean_html(kept) == kept
    assert clean_html('<a href="data:text/html,&lt;script&gt;x&lt;/script&gt;">x</a>') == "<a>x</a>"
    assert clean_html('<h2 id="q1_1_written" style="color:red">q</h2>') == "<h2>q</h2>"
    assert clean_html("<style>body{}</style>") == "&lt;style&gt;body{}&lt;/style&gt;"


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def test_policy_allows_formgrader_scripts_only() -> None:
    own, handler, student = "var submission_id = 'a';", "toggle_name(true);", "window.__pwned = 1;"
    page = (f'<html><head><script src="/static/formgrade.js"></script><script src="https://cdn.example/mathjax.js">'
            f'</script><script>{own}</script><script type="text/x-mathjax-config">init()</script></head>'
            f'<body><span onclick="{handler}"></span><div id="notebook"><script>{student}</script>'
            f'<img src=x onerror="{student}"></div></body></html>')
    directives = dict(d.split(" ", 1) for d in submission_policy(page).split("; "))
    scripts = directives["script-src"].split()
    assert {"'self'", "https://cdn.example", "'unsafe-hashes'", _hash(own), _hash(handler)} <= set(scripts)
    assert _hash(student) not in scripts and _hash("init()") not in scripts and "'unsafe-inline'" not in scripts
    assert directives["object-src"] == directives["frame-src"] == directives["form-action"] == "'none'"
    truncated = page.split('<div id="notebook">')[0]  # no student part found: no inline script at all
    assert not any(s.startswith("'sha256-") for s in submission_policy(truncated).split())
