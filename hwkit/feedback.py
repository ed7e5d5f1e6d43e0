"""Feedback that students may see: no hidden tests, no mark schemes, no instructor paths; and what
the feedback pages need to be read offline.

The feedback HTML is rendered by nbgrader's GenerateFeedback with hwkit's `feedback` template
(hwkit/templates/feedback/, set in nbgrader_config.py): it names each question by its grade_id,
says which written answers wait for a TA, and typesets the maths with a copy of MathJax beside the
pages (`mathjax/`, from the jupyter-server-mathjax package) instead of MathJax's CDN, so a student
who opens the pages as local files, without a network, sees equations, not raw LaTeX.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbgrader
from jupyter_server_mathjax.app import STATIC_ASSETS_PATH
from nbformat import NotebookNode
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

SECRET_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?"
                           r"|=== BEGIN MARK SCHEME ===.*?=== END MARK SCHEME ===\n?", re.S)
TEMPLATES = Path(__file__).parent / "templates"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
# the folder of the Bootstrap stylesheet nbgrader's feedback pages include (where GenerateFeedback finds it)
BOOTSTRAP_CSS_DIR = NBGRADER_TEMPLATES.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
MATHJAX = "mathjax"  # folder beside the feedback pages; the feedback template loads mathjax/MathJax.js
# What MathJax's TeX input and HTML-CSS output with its STIX-Web fonts need; left out: translations of
# its menus (the locale stays English), the accessibility and MathML add-ons, the SVG output.
MATHJAX_UNUSED = ("localization", "a11y", "MathML", "SVG")


class SanitizeFeedback(NbGraderPreprocessor):
    """nbgrader feedback preprocessor: drops hidden-test and mark-scheme regions, and replaces
    tracebacks (which show grader file paths and hidden-test lines) by their last line."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        cell.source = SECRET_REGION.sub("", cell.source)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class GetGradesAndStatus(GetGrades):
    """nbgrader's GetGrades, which also marks the graded cells that wait for a TA
    (`needs_manual_grade`): their score is "not graded yet", not 0."""

    def _get_score(self, cell: NotebookNode, resources: dict) -> None:
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["needs_manual_grade"] = bool(grade.needs_manual_grade)


def install_mathjax(folder: Path) -> Path:
    """A copy of MathJax in `folder`/mathjax (hard links where the file system allows: one copy on
    disk for the whole class), so the folder can be handed to a student as it is."""
    target = folder / MATHJAX
    if not (target / "MathJax.js").exists():
        shutil.copytree(STATIC_ASSETS_PATH, target, copy_function=_link_or_copy, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*MATHJAX_UNUSED))
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
