"""Feedback that students may see: no hidden tests, no mark schemes, no instructor paths."""
from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

SECRET_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?|=== BEGIN MARK SCHEME ===.*?=== END MARK SCHEME ===\n?", re.S)


class SanitizeFeedback(NbGraderPreprocessor):
    """nbgrader feedback preprocessor: drops hidden-test and mark-scheme regions, and replaces
    tracebacks (which show grader file paths and hidden-test lines) by their last line."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        cell.source = SECRET_REGION.sub("", cell.source)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
