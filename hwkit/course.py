"""Where things live in a course folder, and the environment nbgrader and kernels need."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CONFIG = "nbgrader_config.py"  # with a source/ folder beside it, this marks a course folder
COURSE_FILES = (CONFIG, "source", "release", "grader_tests")  # what a course is made of (committed, not graded)


class CourseError(Exception):
    """Something the user can fix about the course folder or a command's input; the message is one
    sentence that says what to do (the CLI prints it and exits non-zero, without a traceback)."""


def copy_course_files(origin: Path, target: Path, names: tuple[str, ...] = COURSE_FILES) -> None:
    """A course's own files (`names`) copied into `target`: a scratch course for the demo, tests, benchmarks."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = origin / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(path, target / name)


def is_course(folder: Path) -> bool:
    """A course folder holds nbgrader_config.py and the instructor's source/ beside it."""
    return (folder / CONFIG).is_file() and (folder / "source").is_dir()


def find_course_root(start: str | Path = ".") -> Path:
    """The course folder: `start` or the nearest folder above it that is one (as git finds a repository)."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if is_course(folder):
            return folder
    raise CourseError(f"{start} is not inside a course folder (none of it or its parents holds {CONFIG} beside a "
                      "source/ folder): cd into the course folder or pass --course PATH.")


def default_assignment(root: Path) -> str:
    """The assignment a command works on when none is named: `c.Hwkit.default_assignment` in the course's
    nbgrader_config.py (nbgrader's own CourseDirectory.assignment_id cannot be used: nbgrader then refuses
    an assignment named on its command line), else the course's only assignment."""
    from traitlets.config.loader import PyFileConfigLoader

    named = PyFileConfigLoader(CONFIG, path=str(root)).load_config().Hwkit.get("default_assignment")
    if named:
        return str(named)
    found = sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if len(found) != 1:
        raise CourseError(f"which assignment? pass --assignment NAME (the course's assignments: "
                          f"{', '.join(found) or 'none yet'}), or set c.Hwkit.default_assignment in {CONFIG}.")
    return found[0]


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder (source/, release/, submitted/, autograded/, feedback/) and one assignment of it."""

    root: Path
    assignment: str

    @classmethod
    def at(cls, root: str | Path = ".", assignment: str | None = None) -> Course:
        """The course at `root`, working on `assignment` (by default the course's own, default_assignment)."""
        root = Path(root).resolve()
        return cls(root, assignment or default_assignment(root))

    @classmethod
    def find(cls, given: str | Path | None = None, assignment: str | None = None) -> Course:
        """The course at `given` (--course), or the one the current folder is in; CourseError if none."""
        if given is None:
            return cls.at(find_course_root(), assignment)
        root = Path(given).expanduser().resolve()
        if not is_course(root):
            raise CourseError(f"--course {given}: {root} is not a course folder (no {CONFIG} beside a source/ "
                              "folder): pass the folder that holds them, or leave --course out inside the course.")
        return cls.at(root, assignment)

    def folder(self, kind: str) -> Path:
        """`kind`/<assignment>, for kind in source, release."""
        return self.root / kind / self.assignment

    @property
    def source(self) -> Path:
        return self.folder("source")

    @property
    def release(self) -> Path:
        return self.folder("release")

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def grader_tests(self) -> Path:
        return self.root / "grader_tests"

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def grades_csv(self) -> Path:
        """The assignment's grades, one row per student (each assignment its own file)."""
        return self.root / f"grades-{self.assignment}.csv"

    @property
    def canvas_csv(self) -> Path:
        """The assignment's file for Canvas's gradebook import."""
        return self.root / f"grades-canvas-{self.assignment}.csv"

    @property
    def summary_figure(self) -> Path:
        return self.root / f"grades-summary-{self.assignment}.png"

    def notebook_names(self) -> list[str]:
        """The assignment's notebooks, e.g. ["Lab.ipynb", ...], in a stable order."""
        return sorted(p.name for p in self.source.glob("*.ipynb"))

    def env(self) -> dict[str, str]:
        """Environment for nbgrader and kernels: the venv's bin on PATH (nbgrader runs alembic),
        grader_tests/ and source/<assignment>/ importable (hidden tests and checks)."""
        env = dict(os.environ)
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        paths = [str(self.grader_tests), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        env.setdefault("MPLBACKEND", "Agg")
        env["PYTHONWARNINGS"] = "ignore"
        return env


def nbgrader(course_root: Path, *args: str, env: dict[str, str],
             timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course_root` (where its nbgrader_config.py is)."""
    exe = shutil.which("nbgrader", path=env["PATH"]) or "nbgrader"
    return subprocess.run([exe, *args], cwd=course_root, env=env, capture_output=True, text=True, timeout=timeout)
