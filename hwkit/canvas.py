"""grades-canvas-<assignment>.csv: the final grades in the CSV format Canvas's gradebook import reads.

Columns Student ("Last, First"), ID (Canvas's user id: the roster's lms_user_id), SIS User ID (the student
id), SIS Login ID, Section, then one column per assignment: "hw2" creates a new assignment on import,
"hw2 (<Canvas assignment id>)" fills an existing one (the id from `c.CanvasExport.assignment_ids` in
nbgrader_config.py). The second row, "Points Possible", is the assignment's maximum, as in Canvas's own
export. Scores are totals after the late penalty; a student who was not graded has an empty cell (Canvas
leaves that grade unchanged).
"""
from __future__ import annotations

import csv
from pathlib import Path

from traitlets import Dict, Unicode
from traitlets.config import Config, Configurable

from .report import student_total
from .results import GradeRun
from .roster import Student

FIXED_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


class CanvasExport(Configurable):
    assignment_ids = Dict(value_trait=Unicode(), default_value={},
                          help="assignment -> Canvas assignment id, e.g. {'hw2': '123456'}").tag(config=True)


def canvas_column(assignment: str, config: Config | None = None) -> str:
    canvas_id = CanvasExport(config=config).assignment_ids.get(assignment) if config is not None else None
    return f"{assignment} ({canvas_id})" if canvas_id else assignment


def write_canvas_csv(run: GradeRun, roster: dict[str, Student], column: str, path: Path) -> None:
    """One row per student of the run, names from the roster."""
    students = run.by_student()
    maximum = max((student_total(g).max_total for g in students.values()), default=0.0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FIXED_COLUMNS, column])
        writer.writerow(["    Points Possible", "", "", "", "", f"{maximum:g}"])
        for student, grades in students.items():
            entry = roster.get(student, Student(student))
            total = student_total(grades, run.late.get(student)).total
            writer.writerow([entry.sortable_name, entry.lms_user_id or "", student, "", "",
                             "" if total is None else f"{round(max(0.0, total), 2):g}"])
