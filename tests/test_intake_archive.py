"""An LMS archive's structure decides whose a file is (hwkit/lms_archive.py): a file in alice's folder
named like bob's submission never replaces bob's (nor sets his time to 2099); the conflict is
reported. Real zips, read by the same `collect_archive` that `hwkit grade --archive` uses (no kernel).

Positive control: the attack file's name alone is a valid LMS name for bob, later than his own, so
the pattern by itself gives it to bob: the same members without their folders (which is all the
code before this fix looked at: it read each member's base name only) hand bob the attacker's file
and the 2099 timestamp.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import marked_notebook, write_zip
from hwkit.course import Course
from hwkit.lms_archive import ARCHIVE_FILENAME_REGEX, collect_archive

REPO = Path(__file__).resolve().parents[1]
PLANAR = "Planar_MLP.ipynb"
ALICE = f"hw1_alice_attempt_2024-03-01-10-00-00_{PLANAR}"
BOB = f"hw1_bob_attempt_2024-03-02-10-00-00_{PLANAR}"
FORGED = f"hw1_bob_attempt_2099-01-01-00-00-00_{PLANAR}"  # uploaded by alice
CAROL = f"hw1_carol_attempt_2024-03-01-09-00-00_{PLANAR}"


def _collect(tmp_path: Path, members: dict[str, str], name: str = "downloads.zip", pattern=ARCHIVE_FILENAME_REGEX):
    intake = collect_archive(Course.at(REPO), write_zip(tmp_path / name, members), tmp_path / name.replace(".", "-"),
                             pattern)
    return {s.student: s for s in intake.submissions}, intake.notes


def _marker(submission) -> str:
    return nbformat.read(submission.notebooks[PLANAR], as_version=4).cells[0].source


ATTACKS = {  # alice's forged file inside her own folder, bob's real one in his
    "folders named by id": {f"alice/{ALICE}": "alice", f"alice/{FORGED}": "forged", f"bob/{BOB}": "bob"},
    "folders named by the LMS": {f"hw1_alice_attempt_2024-03-01-10-00-00_files/{ALICE}": "alice",
                                 f"hw1_alice_attempt_2024-03-01-10-00-00_files/{FORGED}": "forged",
                                 f"hw1_bob_attempt_2024-03-02-10-00-00_files/{BOB}": "bob"},
    "folders of other names": {f"Alice Smith 1/{ALICE}": "alice", f"Alice Smith 1/{FORGED}": "forged",
                               f"Bob Jones 2/{BOB}": "bob"},
    "a folder named bob in alice's": {f"all/Alice Smith 1/{ALICE}": "alice",
                                      f"all/Alice Smith 1/bob/{FORGED}": "forged", f"all/Bob Jones 2/{BOB}": "bob"},
}


@pytest.mark.parametrize("layout", ATTACKS)
def test_a_file_in_alices_folder_never_replaces_bobs(layout: str, tmp_path: Path) -> None:
    members = {name: marked_notebook(marker) for name, marker in ATTACKS[layout].items()}
    forged = next(name for name in members if name.endswith(FORGED))
    # positive control: the forged name alone is bob's, later than his; without folders it wins
    fields = re.match(ARCHIVE_FILENAME_REGEX.replace("{assignment}", "hw1"), FORGED).groupdict()
    assert fields["student_id"] == "bob" and fields["timestamp"] > "2024-03-02-10-00-00"
    flat, _ = _collect(tmp_path, {Path(name).name: content for name, content in members.items()}, "flat.zip")
    assert _marker(flat["bob"]) == "# forged" and flat["bob"].timestamp == "2099-01-01 00:00:00", \
        "positive control: the base names alone hand bob alice's file"

    students, notes = _collect(tmp_path, members)
    assert _marker(students["bob"]) == "# bob" and students["bob"].timestamp == "2024-03-02 10:00:00"
    assert _marker(students["alice"]) == "# alice" and students["alice"].timestamp == "2024-03-01 10:00:00"
    refused = [n for n in notes if n.startswith(forged)]
    assert len(refused) == 1 and "bob's submission" in refused[0] and "ignored" in refused[0], notes


def test_bob_absent_a_file_in_alices_folder_is_still_not_his(tmp_path: Path) -> None:
    students, notes = _collect(tmp_path, {f"alice/{ALICE}": marked_notebook("alice"),
                                          f"alice/{FORGED}": marked_notebook("x")})
    assert set(students) == {"alice"} and any("alice's folder" in n for n in notes), notes


def test_two_folders_of_bob_at_one_depth_are_a_conflict_nobody_wins(tmp_path: Path) -> None:
    students, notes = _collect(tmp_path, {f"Alice Smith 1/{ALICE}": marked_notebook("alice"),
                                          f"Alice Smith 1/bob/{FORGED}": marked_notebook("forged"),
                                          f"all/Bob Jones 2/{BOB}": marked_notebook("bob"),
                                          f"all/Carol Wu 3/{CAROL}": marked_notebook("c")})
    assert "bob" not in students and _marker(students["alice"]) == "# alice" and _marker(students["carol"]) == "# c"
    assert len([n for n in notes if "two folders claim the student" in n]) == 2, notes


def test_a_flat_listing_in_a_folder_still_works(tmp_path: Path) -> None:
    """Blackboard-style: every student's LMS-named files in one folder (the shared class's archive too)."""
    later = f"hw1_alice_attempt_2024-03-03-10-00-00_{PLANAR}"
    students, notes = _collect(tmp_path, {f"hw1 downloads/{ALICE}": marked_notebook("alice 1"),
                                          f"hw1 downloads/{later}": marked_notebook("alice 2"),
                                          f"hw1 downloads/{BOB}": marked_notebook("bob")})
    assert _marker(students["alice"]) == "# alice 2" and _marker(students["bob"]) == "# bob"
    assert [n for n in notes if "later attempt" in n] and not [n for n in notes if "folder" in n], notes


def test_the_archives_top_level_and_a_folder_of_one_student_count_together(tmp_path: Path) -> None:
    """As in the shared class's archive: an earlier attempt at the top level, the later one in a folder."""
    later = f"hw1_alice_attempt_2024-03-03-10-00-00_{PLANAR}"
    students, notes = _collect(tmp_path, {ALICE: marked_notebook("alice 1"),
                                          f"hw1 downloads/{later}": marked_notebook("alice 2")})
    assert _marker(students["alice"]) == "# alice 2" and [n for n in notes if "later attempt" in n], notes


def test_a_student_id_that_is_no_id_is_refused(tmp_path: Path) -> None:
    """A custom --archive-regex may read anything as the id: control characters, spaces and dots-only ids never
    become a folder, a gradebook id or a console column."""
    pattern = r"^(?P<student_id>[^_]+)_(?P<file_id>.+)$"
    evil = f"\x1b]52;c;cHduZWQ=\x07\x1b[2J_{PLANAR}"
    students, notes = _collect(tmp_path, {evil: marked_notebook("evil"), f"carol_{PLANAR}": marked_notebook("carol")},
                               pattern=pattern)
    assert set(students) == {"carol"}
    assert any("is not a student id" in n for n in notes), notes
