"""`hwkit lab`: JupyterLab with nbgrader's formgrader on the course, to grade the written answers
by hand; `hwkit export`: grades.csv from the course gradebook, with those hand-given points.

The server listens on 127.0.0.1 only and needs a token. It runs in the course root (nbgrader
reads nbgrader_config.py from there) with the environment `Course.env()` gives nbgrader, and
enables the formgrader server extension on its command line, so nothing has to be switched on
in ~/.jupyter on a fresh machine, and hwkit.safe_html, which puts a Content-Security-Policy on
formgrader's submission pages (students' answers cannot run script in the TA's browser).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .course import Course
from .results import GradeRun, NotebookGrade
from .notebooks import error_messages, grade_cells, read_notebook
from .record import manual_questions

HOST = "127.0.0.1"
# Added to whatever the Jupyter config paths enable (jupyter_server merges the two).
SERVER_EXTENSIONS = ("jupyterlab", "nbgrader.server_extensions.formgrader", "hwkit.safe_html")
LAB_EXTENSION = "@jupyter/nbgrader"


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def lab_command(course: Course, port: int) -> list[str]:
    """The JupyterLab command line: loopback, course root, formgrader enabled. The token goes in
    $JUPYTER_TOKEN (see start_lab), so other users cannot read it from the process list."""
    return [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={course.root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",
        *(f"--ServerApp.jpserver_extensions={name}=True" for name in SERVER_EXTENSIONS),
        *(["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # containers, CI
    ]


@dataclass
class LabServer:
    """A running JupyterLab for `course`; stop() (or leaving the `with` block) shuts it down."""

    course: Course
    process: subprocess.Popen
    port: int
    token: str
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str = "lab") -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    @property
    def formgrader_url(self) -> str:
        return self.url("formgrader")

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        """GET a server path with the token; (status, body)."""
        request = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def wait_ready(self, timeout: float = 90) -> None:
        """Until the server answers and formgrader is loaded; RuntimeError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode} before it was ready"
                                   + self.log_tail())
            try:
                status, _ = self.get("api/status", timeout=2)
                if status == 200:
                    status, body = self.get("formgrader/manage_assignments", timeout=30)
                    if status != 200:
                        raise RuntimeError(f"JupyterLab runs but formgrader answers {status}:\n{body[:2000]}")
                    return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on {self.base_url} within {timeout:.0f} s" + self.log_tail())

    def log_tail(self, lines: int = 20) -> str:
        if not self.log or not self.log.exists():
            return ""
        return "\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (Jupyter shuts its kernels down), then SIGKILL to the server's process group."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of this server's own session only
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(5)

    def __enter__(self) -> "LabServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_lab(course: Course, port: int | None = None, token: str | None = None, *, log: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 90) -> LabServer:
    """Start JupyterLab + formgrader on `course` and wait until formgrader answers.

    port None or 0: a free port; token None: a random one. Server output goes to `log`
    (default: inherited, i.e. the terminal). `env` adds to `course.env()`.
    """
    port = port or free_port()
    token = token or secrets.token_hex(24)
    full_env = {**course.env(), **(env or {}), "JUPYTER_TOKEN": token}
    output = open(log, "ab") if log else None
    try:
        process = subprocess.Popen(lab_command(course, port), cwd=course.root, env=full_env,
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT if output else None,
                                   start_new_session=True)  # Ctrl-C reaches hwkit, which stops the server
    finally:
        if output:
            output.close()
    server = LabServer(course, process, port, token, log)
    try:
        server.wait_ready(timeout)
    except BaseException:
        server.stop()
        raise
    return server


def lab_extension_state(server: LabServer) -> tuple[bool, bool]:
    """(nbgrader's lab extension is installed, it is disabled), from JupyterLab's page config."""
    status, page = server.get("lab")
    if status != 200 or 'id="jupyter-config-data"' not in page:
        return False, False
    raw = page.split('id="jupyter-config-data"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    config = json.loads(raw)
    installed = any(e.get("name") == LAB_EXTENSION for e in config.get("federated_extensions", []))
    disabled = any(d == LAB_EXTENSION or d.startswith(LAB_EXTENSION + ":") for d in config.get("disabledExtensions", []))
    return installed, disabled


# --- grades from the gradebook -------------------------------------------------------------

def export_from_gradebook(course: Course) -> GradeRun:
    """Every student's points as the course gradebook has them now: autograded scores, plus the
    points (and extra credit) TAs gave in formgrader. A written answer not graded yet is None."""
    maxima = {name: {c.grade_id: c.points for c in grade_cells(read_notebook(course.source / name))}
              for name in course.notebook_names()}
    grades: list[NotebookGrade] = []
    notes: dict[str, list[str]] = {}
    students = {p.name for p in course.submitted.iterdir() if p.is_dir() and not p.name.startswith(".")} \
        if course.submitted.is_dir() else set()
    if not course.gradebook.exists():
        for student in sorted(students):
            notes[student] = [f"no gradebook at {course.gradebook}: run `hwkit grade` first"]
        return GradeRun([], notes)
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        graded = {s.student.id for s in gradebook.assignment_submissions(course.assignment)} \
            if course.assignment in {a.name for a in gradebook.assignments} else set()
        for student in sorted(students | graded):
            notes[student] = [] if student in graded else ["not graded yet: run `hwkit grade`"]
            for name, cell_max in maxima.items():
                grade = NotebookGrade(student, name, dict.fromkeys(cell_max, 0.0), dict(cell_max),
                                      manual=manual_questions(course.source / name))
                executed = course.autograded / student / course.assignment / name
                if student not in graded:
                    grade.mark_not_graded("not in the gradebook: run `hwkit grade`")
                elif not executed.exists():
                    grade.problems.append(f"{name} was not graded (missing, unreadable or could not be executed): 0 points")
                else:
                    _scores_from_gradebook(gradebook, grade, course, executed)
                grades.append(grade)
    return GradeRun(grades, notes)


def _scores_from_gradebook(gradebook: Gradebook, grade: NotebookGrade, course: Course, executed: Path) -> None:
    try:
        notebook = gradebook.find_submission_notebook(Path(grade.notebook).stem, course.assignment, grade.student)
    except MissingEntry:
        grade.problems.append(f"{grade.notebook} has no grades in the gradebook: 0 points")
        return
    comments = {c.name: c.comment for c in notebook.comments if c.comment}
    executed_nb = None
    for cell in notebook.grades:
        if cell.name not in grade.scores:
            continue
        if cell.needs_manual_grade and cell.manual_score is None:
            grade.scores[cell.name] = None  # waits for a TA in formgrader
            continue
        # nbgrader's rule: a TA's score replaces the autograder's; extra credit adds to it.
        score = float(cell.score or 0) + float(cell.extra_credit or 0)
        grade.scores[cell.name] = score
        maximum = grade.max_scores[cell.name]
        if cell.manual_score is not None:
            if cell.needs_manual_grade:  # nbgrader flags hand grades again when it re-autogrades
                grade.problems.append(f"{cell.name}: graded by hand, flagged for review after re-grading")
            if score < maximum or cell.name in comments:
                comment = f" ({comments[cell.name]})" if cell.name in comments else ""
                grade.problems.append(f"{cell.name}: {score:g} / {maximum:g} graded by hand{comment}")
        elif score < maximum:
            executed_nb = executed_nb or nbformat.read(executed, as_version=4)
            reason = "; ".join(error_messages(executed_nb, cell.name)) or "the test cell wrote to stderr or did not run"
            grade.problems.append(f"{cell.name}: {reason}")


# --- command line -----------------------------------------------------------------------------

def cmd_lab(args: argparse.Namespace) -> int:
    course = Course.at(args.course)
    if not (course.root / "nbgrader_config.py").exists():
        print(f"hwkit lab: {course.root} has no nbgrader_config.py (use --course)", file=sys.stderr)
        return 1
    if not course.gradebook.exists() or not course.autograded.is_dir():
        print("hwkit lab: no gradebook.db or autograded/ yet; run `hwkit grade` first to see submissions", file=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # the server runs in its own session: stop it on our way out
        signal.signal(sig, _interrupt)
    try:
        server = start_lab(course, args.port, args.token, timeout=args.timeout)
    except RuntimeError as error:
        print(f"hwkit lab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # start_lab has stopped the server
        return 130
    with server:
        installed, disabled = lab_extension_state(server)
        if not installed or disabled:
            print(f"hwkit lab: warning: JupyterLab's {LAB_EXTENSION} extension is "
                  f"{'disabled' if disabled else 'missing'}; use the Formgrader URL directly", file=sys.stderr)
        print(f"\nFormgrader (grade written answers): {server.formgrader_url}\n"
              f"JupyterLab (menu Nbgrader > Formgrader): {server.url('lab')}\n"
              f"Course: {course.root}; listening on {HOST} only. Press Ctrl-C to stop.", flush=True)
        try:
            code = server.process.wait()
        except KeyboardInterrupt:
            print("\nhwkit lab: stopping JupyterLab ...", flush=True)
            return 0
    print(f"hwkit lab: JupyterLab exited with code {code}", file=sys.stderr)
    return 1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_export(args: argparse.Namespace) -> int:
    from .report import console_table
    from .term import complete_run, write_grade_files

    course = Course.at(args.course, args.assignment)
    run = complete_run(course, export_from_gradebook(course))
    out, canvas = write_grade_files(course, run, Path(args.out) if args.out else course.root / "grades.csv")
    print(console_table(run))
    waiting = sum(1 for g in run.grades for s in g.scores.values() if s is None)
    print(f"\n{len(run.students())} student(s) exported to {out} (for Canvas's gradebook import: {canvas.name}); "
          f"{waiting} written answer(s) still wait for a grade in formgrader")
    return 0


def add_lab_command(subparsers) -> None:
    """Register `hwkit lab` and `hwkit export` on the CLI's subparsers."""
    p = subparsers.add_parser("lab", help="start JupyterLab with nbgrader's formgrader on the course (loopback, token)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--token", default=os.environ.get("HWKIT_LAB_TOKEN"),
                   help="access token (default: $HWKIT_LAB_TOKEN, else a random one; prefer the variable, "
                        "a --token is visible to other users in the process list)")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for the server to start")
    p.set_defaults(func=cmd_lab)
    p = subparsers.add_parser("export", help="write grades.csv from gradebook.db, including points given in formgrader")
    p.add_argument("--out", help="CSV file (default: grades.csv in the course)")
    p.set_defaults(func=cmd_export)
