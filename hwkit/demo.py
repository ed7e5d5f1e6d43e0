"""`hwkit demo`: build, then grade example submissions in a scratch course and show the scores."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat

from .course import Course, copy_course_files


def filled_release(course: Course, notebook: str,
                   edit: Callable[[str, str], str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with the instructor's answers typed into its solution cells, as a
    diligent student would hand it in; `edit(grade_id, source)` can plant a mistake."""
    source = {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(course.source / notebook, 4).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(course.release / notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in source:
            text = "\n".join(line for line in source[grade_id].source.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            cell.source = edit(grade_id, text) if edit else text
    return nb


def forgot_average(grade_id: str, text: str) -> str:
    """A typical mistake: backward_propagation sums the gradients instead of averaging them."""
    if grade_id != "backward_propagation":
        return text
    return text.replace("dW1 = dZ1 @ X.T / m", "dW1 = dZ1 @ X.T").replace("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A1.T")


def make_demo_course(course: Course, target: Path) -> Course:
    """A scratch course beside the real one, with example submissions in submitted/."""
    shutil.rmtree(target, ignore_errors=True)
    copy_course_files(course.root, target)
    demo = Course.at(target, course.assignment)
    examples: dict[str, Callable[[str], nbformat.NotebookNode | bytes]] = {
        "reference_solution": lambda nb: filled_release(course, nb),
        "untouched_release": lambda nb: nbformat.read(course.release / nb, 4),
        "forgot_to_average": lambda nb: filled_release(course, nb, forgot_average),
        "broken_json": lambda nb: b'{"cells": [ this is not JSON',
    }
    for student, make in examples.items():
        folder = demo.submitted / student / course.assignment
        folder.mkdir(parents=True)
        for notebook in course.notebook_names():
            content = make(notebook)
            if isinstance(content, bytes):
                (folder / notebook).write_bytes(content)
            else:
                nbformat.write(content, folder / notebook)
    return demo
