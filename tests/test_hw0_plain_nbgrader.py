"""Homework 0 under plain `nbgrader autograde`: the corpus's expectations and the cheats' positive controls.

hw0 (source/hw0) is an ordinary nbgrader assignment. Its whole corpus (tests/hw0_corpus.py) is graded once, in a
scratch course, by plain nbgrader as an instructor would run it: student code and test cells, hidden tests
included, in one kernel. The instructor's solution gets full marks, the untouched release 0, each ordinary mistake
loses its own questions only, and each cheat takes the points it cheats on: the positive control that the cheats
really work where student code and tests share a process (under `hwkit grade` they must score 0 there). The
fast tests check the corpus itself against the notebooks.
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from hw0_corpus import (
    ASSIGNMENT,
    AUTOGRADED,
    CORPUS,
    NOTEBOOK,
    POINTS,
    WRITTEN,
    build_hw0_class,
    copy_hw0_course,
    plain_nbgrader_scores,
)

REPO = Path(__file__).resolve().parents[1]
CHEATS = sorted(name for name, entry in CORPUS.items() if entry.wins_plain)
HONEST = sorted(name for name, entry in CORPUS.items() if not entry.wins_plain)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, dict]:
    """The corpus graded by one `nbgrader autograde` run: (scratch course, student -> question -> points)."""
    root = copy_hw0_course(REPO, tmp_path_factory.mktemp("hw0-plain") / "course")
    build_hw0_class(root)
    started = time.monotonic()
    scores = plain_nbgrader_scores(root)
    print(f"\nplain nbgrader generate_assignment + autograde, {len(CORPUS)} hw0 submissions: "
          f"{time.monotonic() - started:.0f} s")
    return root, scores


def test_points_and_corpus_match_the_notebook() -> None:
    source = nbformat.read(REPO / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    assert {q: c.metadata["nbgrader"]["points"] for q, c in graded.items() if c.cell_type == "code"} == POINTS
    assert graded[WRITTEN].cell_type == "markdown" and graded[WRITTEN].metadata["nbgrader"]["solution"]
    assert sum(c.metadata["nbgrader"]["points"] for c in graded.values()) == 20
    for entry in CORPUS.values():
        assert entry.wins_plain <= entry.loses <= AUTOGRADED, entry.student
        nbformat.validate(entry.build(REPO))


@pytest.mark.slow
def test_release_is_what_nbgrader_generates(plain) -> None:
    root, _ = plain  # plain_nbgrader_scores ran generate_assignment there
    assert (root / "release" / ASSIGNMENT / NOTEBOOK).read_text() == \
        (REPO / "release" / ASSIGNMENT / NOTEBOOK).read_text(), "release/hw0 is not nbgrader's output: regenerate it"


@pytest.mark.slow
def test_reference_full_marks_untouched_zero(plain) -> None:
    _, scores = plain
    assert scores["reference"] == {**POINTS, WRITTEN: None}  # None: waits for a TA
    assert scores["untouched"] == {**dict.fromkeys(POINTS, 0.0), WRITTEN: 0.0}


@pytest.mark.slow
@pytest.mark.parametrize("student", HONEST)
def test_mistakes_lose_their_own_questions_only(plain, student: str) -> None:
    _, scores = plain
    assert {q: scores[student][q] for q in POINTS} == CORPUS[student].expected("plain") == \
        CORPUS[student].expected("hwkit")


@pytest.mark.slow
@pytest.mark.parametrize("student", CHEATS)
def test_cheat_takes_its_points_under_plain_nbgrader(plain, student: str) -> None:
    """The positive control: the cheat's answers are wrong, yet plain nbgrader gives it these questions."""
    _, scores = plain
    won = {q for q in CORPUS[student].wins_plain if scores[student][q] == POINTS[q]}
    assert won == CORPUS[student].wins_plain
    assert {q: scores[student][q] for q in POINTS} == CORPUS[student].expected("plain")
