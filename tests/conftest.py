"""Shared fixtures: scratch copies of the course, built once per test session.

Grading tests run real nbgrader and Otter on real notebooks; to stay fast every corpus of
submissions is in one class (class_corpus.py), graded once, and each test checks its own students.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from hwkit.course import Course, copy_course_files

REPO = Path(__file__).resolve().parents[1]

# Fixtures that build the course, grade real notebooks or start real kernels and servers: every test
# that uses one is `slow` (`pytest -m "not slow"` is the fast tier for the edit-test loop).
SLOW_FIXTURES = {"built_course", "server", "graded_course", "graded_class"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def unless_available(missing: str | None) -> pytest.MarkDecorator:
    """Skip when what the tests need (bubblewrap, writable cgroups) is `missing`, except in CI (`$CI`
    set), where they must run, and fail."""
    return pytest.mark.skipif(missing is not None and not os.environ.get("CI"),
                              reason=f"{missing} (fails when $CI is set)")


def marked_notebook(marker: str) -> str:
    """A one-cell notebook's JSON whose cell says `marker` (which file an intake picked)."""
    import nbformat

    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {marker}")]))


def write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def copy_course(target: Path) -> Course:
    """A scratch course with the repository's source, release and grader tests."""
    copy_course_files(REPO, target)
    return Course.at(target)


@pytest.fixture(scope="session")
def built_course(tmp_path_factory) -> Course:
    """The course rebuilt (and verified) by `hwkit build` in a scratch folder: Homework 1 (the course
    returned) and the warm-up hw0, an ordinary nbgrader assignment."""
    from hwkit.build import build

    course = copy_course(tmp_path_factory.mktemp("built") / "course")
    build(course)
    build(Course.at(course.root, "hw0"))
    return course


@pytest.fixture(scope="session")
def graded_class(built_course: Course, tmp_path_factory):
    """Every corpus of submissions in one class, graded once by `hwkit grade` and by Otter (class_corpus.py)."""
    from class_corpus import grade_class
    from hwkit.walls import available

    if available() is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{available()} ($CI is set: the sandbox tests must run)")
        pytest.skip(str(available()))
    return grade_class(built_course, tmp_path_factory.mktemp("class") / "course")


@pytest.fixture(scope="session")
def repo_course() -> Course:
    return Course.at(REPO)


def solution_namespace(notebook: str, edit=None) -> dict:
    """The instructor's solution functions of a source notebook, run in a fresh namespace.

    `edit(grade_id, source)` may rewrite a solution cell first (to plant a mistake).
    Only the setup cell and the solution cells run: no training, no plots.
    """
    nb = __import__("nbformat").read(REPO / "source" / "hw1" / notebook, as_version=4)
    namespace: dict = {"__name__": "__main__"}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("solution") or meta.get("grade_id") == "setup"):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
        if edit is not None:
            source = edit(meta["grade_id"], source)
        exec(compile(source, f"<{meta['grade_id']}>", "exec"), namespace)
    return namespace


def with_wrong(reference: dict, source: str) -> dict:
    """A copy of a solution namespace in which `source` (a wrong definition) has been run."""
    namespace = dict(reference)
    exec(source, namespace)
    return namespace
