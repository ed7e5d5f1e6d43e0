"""No unsandboxed grading by accident (issue 13, item 5): without bubblewrap, or without the cgroups of the
per-notebook walls, `hwkit grade` stops with how to fix it; `--unsandboxed` grades without them and every
report says so."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_course
from hwkit.report import console_table, write_grades_csv
from hwkit.results import GradeRun, NotebookGrade

REPO = Path(__file__).resolve().parents[1]


def test_grade_without_bubblewrap_stops_with_how_to_install_it(tmp_path: Path) -> None:
    """The real CLI in a fresh process (walls.available() is cached per process) with a PATH
    that has Python's tools but no bwrap."""
    course = copy_course(tmp_path / "course")
    folder = course.submitted / "someone" / "hw1"
    folder.mkdir(parents=True)
    shutil.copy(course.release / "Planar_MLP.ipynb", folder)
    path = str(Path(sys.executable).parent)
    assert shutil.which("bwrap", path=path) is None
    env = dict(os.environ, PATH=path)
    proc = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), "grade"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and "apt-get install bubblewrap" in message, message
    assert "--unsandboxed" in message and "bwrap" in message
    assert not course.autograded.exists() and not (course.grades_csv).exists()
    assert not course.gradebook.exists()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("bwrap"),
                    reason="needs root, unshare and bubblewrap to hide the cgroups from one process")
def test_grade_without_cgroups_stops_with_how_to_fix_it(tmp_path: Path) -> None:
    """The real CLI in a mount namespace of its own where /sys/fs/cgroup is an empty tmpfs."""
    course = copy_course(tmp_path / "course")
    folder = course.submitted / "someone" / "hw1"
    folder.mkdir(parents=True)
    shutil.copy(course.release / "Planar_MLP.ipynb", folder)
    hidden = ("mount -t tmpfs none /sys/fs/cgroup && exec \"$@\"")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", hidden, "sh", sys.executable,
                           "-m", "hwkit.cli", "--course", str(course.root), "grade"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and "no usable cgroups" in message, message
    assert "as root" in message and "--unsandboxed" in message
    assert not course.autograded.exists() and not (course.grades_csv).exists()


def test_unsandboxed_runs_are_recorded(tmp_path: Path) -> None:
    grade = NotebookGrade("ann", "Planar_MLP.ipynb", {"q1": 1.0}, {"q1": 1.0})
    for sandboxed, label in ((False, "NONE (--unsandboxed)"), (True, "bubblewrap")):
        run = GradeRun([grade], {}, sandboxed=sandboxed)
        write_grades_csv(run, tmp_path / "grades.csv")
        rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
        assert rows[0]["sandbox"] == label and rows[0]["status"] == "graded"
        assert ("WITHOUT a sandbox" in console_table(run)) == (not sandboxed)
