"""Reading, checking and scoring notebooks with nbformat and nbgrader's own rules."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils


class BadNotebook(Exception):
    """A file that should be a notebook but cannot be read as one; the message says why."""


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate a notebook, or raise BadNotebook with a reason a student understands."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadNotebook(f"cannot read the file: {exc.strerror}") from None
    if not raw.strip():
        raise BadNotebook("the file is empty")
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise BadNotebook("the file is not text (not a Jupyter notebook)") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise BadNotebook(f"the file is not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # nbformat raises several kinds for wrong structures
        raise BadNotebook(f"the file is not a Jupyter notebook ({type(exc).__name__}: {str(exc)[:120]})") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise BadNotebook(f"the notebook's structure is invalid ({exc.message[:120]})") from None
    return nb


@dataclass(frozen=True)
class GradeCell:
    grade_id: str
    points: float
    auto: bool  # an autograded test cell (code); otherwise graded by hand


def grade_cells(nb: NotebookNode) -> list[GradeCell]:
    """The graded cells of a notebook (tests, answers and tasks), in order."""
    cells = []
    for cell in nb.cells:
        if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_task(cell):
            meta = cell.metadata["nbgrader"]
            auto = cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)
            cells.append(GradeCell(meta["grade_id"], float(meta.get("points", 0)), auto))
    return cells


def autograde_scores(nb: NotebookNode) -> dict[str, float]:
    """Score of every autograded test cell of an executed notebook, by nbgrader's rules."""
    scores = {}
    for cell in nb.cells:
        if nbgrader_utils.is_grade(cell) and cell.cell_type == "code" and not nbgrader_utils.is_solution(cell):
            score, _ = nbgrader_utils.determine_grade(cell)
            scores[cell.metadata["nbgrader"]["grade_id"]] = float(score or 0)
    return scores


def error_messages(nb: NotebookNode, cell_id: str) -> list[str]:
    """The error lines ("Ename: message") a cell's outputs carry."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == cell_id:
            return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]
    return []


def has_outputs(nb: NotebookNode) -> bool:
    return any(cell.get("outputs") or cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code")
