"""`hwkit lab`: JupyterLab with nbgrader's formgrader on the course, to grade the written answers
by hand (`hwkit export`, in export.py, then writes grades-<assignment>.csv with those points).

The server listens on 127.0.0.1 only and needs a token. It runs in the course root (nbgrader
reads nbgrader_config.py from there) with the environment `Course.env()` gives nbgrader, and
enables the formgrader server extension on its command line, so nothing has to be switched on
in ~/.jupyter on a fresh machine, hwkit.safe_html, which puts a Content-Security-Policy on
formgrader's submission pages (students' answers cannot run script in the TA's browser), and
hwkit.formgrader_guard, which refuses formgrader's generate/release/collect/autograde/feedback
actions with a note naming the hwkit command (they would undo hwkit's build, walls and judge).

Formgrader opens nbgrader's exchange (the folder its refused release/collect buttons would use) on every page;
nbgrader's default, /usr/local/share/nbgrader/exchange, does not exist on most machines, and
formgrader then logs a critical "Unwritable directory" on each page. hwkit collects submissions
from submitted/ or an LMS archive, so the server gets a course-local exchange, `.exchange/`.
The server logs warnings and errors only, so the URLs hwkit prints stay the last lines.
"""
from __future__ import annotations

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

from .course import Course, CourseError

HOST = "127.0.0.1"
# Added to whatever the Jupyter config paths enable (jupyter_server merges the two).
SERVER_EXTENSIONS = ("jupyterlab", "nbgrader.server_extensions.formgrader", "hwkit.safe_html",
                     "hwkit.formgrader_guard")
LAB_EXTENSION = "@jupyter/nbgrader"
EXCHANGE = ".exchange"  # in the course folder: see the module docstring


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
        "--ServerApp.log_level=WARN",
        "--LabApp.log_level=WARN",
        f"--Exchange.root={course.root / EXCHANGE}",
        "--FormgradeExtension.debug=False",  # else it warns "config is not serializable" on every page
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

    def get(self, path: str, timeout: float = 5, method: str = "GET") -> tuple[int, str]:
        """GET (or `method`) a server path with the token; (status, body)."""
        request = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}", method=method,
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
            except (TimeoutError, urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on {self.base_url} within {timeout:.0f} s" + self.log_tail())

    def log_tail(self, lines: int = 20) -> str:
        if not self.log or not self.log.exists():
            return ""
        return "\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """Jupyter's own shutdown request (it stops its kernels; a SIGTERM would log a critical line),
        else SIGTERM, then SIGKILL to the server's process group."""
        for ask in (self._request_shutdown, self.process.terminate):
            if self.process.poll() is None:
                ask()
                try:
                    self.process.wait(timeout / 2)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of this server's own session only
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(5)

    def _request_shutdown(self) -> None:
        try:
            self.get("api/shutdown", timeout=5, method="POST")
        except (TimeoutError, urllib.error.URLError, ConnectionError):
            pass  # not answering: SIGTERM follows

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_lab(course: Course, port: int | None = None, token: str | None = None, *, log: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 90) -> LabServer:
    """Start JupyterLab + formgrader on `course` and wait until formgrader answers.

    port None or 0: a free port; token None: a random one. Server output goes to `log`
    (default: inherited, i.e. the terminal). `env` adds to `course.env()`.
    """
    port = port or free_port()
    token = token or secrets.token_hex(24)
    (course.root / EXCHANGE).mkdir(exist_ok=True)
    full_env = {**course.env(), **(env or {}), "JUPYTER_TOKEN": token}
    output = open(log, "ab") if log else None
    try:
        process = subprocess.Popen(lab_command(course, port), cwd=course.root, env=full_env,
                                   stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT if output else None,
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
    disabled = any(d == LAB_EXTENSION or d.startswith(LAB_EXTENSION + ":")
                   for d in config.get("disabledExtensions", []))
    return installed, disabled


# --- the command -------------------------------------------------------------------------

def serve(course: Course, port: int = 0, token: str | None = None, timeout: float = 90) -> int:
    """`hwkit lab`: start the server, print its URLs last, wait for Ctrl-C; the exit code."""
    if port and not _port_free(port):
        raise CourseError(f"port {port} on {HOST} is in use: pass another --port, or leave it out for a free one.")
    if not course.gradebook.exists() or not course.autograded.is_dir():
        print("hwkit lab: no gradebook.db or autograded/ yet; run `hwkit grade` first to see submissions",
              file=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # the server runs in its own session: stop it on our way out
        signal.signal(sig, _interrupt)
    try:
        server = start_lab(course, port, token, timeout=timeout)
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
        print(f"\nCourse: {course.root}; listening on {HOST} only. Press Ctrl-C to stop.\n"
              f"JupyterLab (menu Nbgrader > Formgrader): {server.url('lab')}\n"
              f"Formgrader (grade written answers):      {server.formgrader_url}", flush=True)
        try:
            code = server.process.wait()
        except KeyboardInterrupt:
            print("\nhwkit lab: stopping JupyterLab ...", flush=True)
            return 0
    print(f"hwkit lab: JupyterLab exited with code {code}", file=sys.stderr)
    return 1


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
