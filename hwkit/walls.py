"""The walls student code runs behind (host side): a bubblewrap sandbox per grading worker, one
forked kernel per notebook inside it (forkserver.py: how consecutive notebooks are kept apart;
sandbox.py: the executor that runs a notebook there).

The trusted side (nbgrader, the notebook client, the gradebook) stays outside; only the fork
server and its kernels run inside `bwrap`, started through `prlimit`, and talk to the client over
Unix sockets (ZeroMQ ipc transport) in a folder of their own, so the sandbox needs no network.

What the kernel sees (everything else of the host does not exist for it):
  /usr, the Python installation and the venv    read-only (system libraries, numpy, torch, ...)
  a few files of /etc (ld.so.cache, fonts, ...)  read-only
  /home/student/<assignment>                     read-write tmpfs of its own size (Limits.home_mb): a
                                                 private copy of the graded notebook's folder (the
                                                 shipped helper files and the student's own extra
                                                 files), refilled before and emptied after each notebook
  /opt/hwkit-notebook                            read-only: the files that folder is filled from
  /opt/hwkit-grader                              read-only: a trusted copy of the public checks
                                                 (hw1_checks/) and the judge's observer
                                                 (hwkit_observer.py); no expected value, no reference
  /tmp, /dev/shm                                 private tmpfs, Limits.tmp_mb each
  the kernel's socket folder                     read-write, nothing else in it
The sandbox's root (and /home, /opt, ...) is read-only. No network (--unshare-net), own PID/IPC/UTS/cgroup
namespaces, no capabilities, a new session (no terminal injection), no nested user namespaces, and the
whole sandbox dies with the grader.
Limits of the notebook's processes together (cgroups.py: a cgroup per notebook, made and removed by the
fork server's host side, forkserver.py): memory (swap and tmpfs files included; past it the kernel's OOM
killer kills the largest process) and the number of processes and threads (past it fork fails). Limits
of each process: address space (RLIMIT_AS), total CPU seconds of the kernel (RLIMIT_CPU), size of any
written file (RLIMIT_FSIZE), open files, no core dumps. Wall time per cell and output size per cell and
per notebook (every kind of output message counted) and wall time per notebook (all cells together) are
enforced by `SandboxedExecute` on the trusted side, which also asks after each cell which wall the
notebook hit (a full folder, /tmp or /dev/shm included): that cell fails with the limit named in the
feedback and the judge does not run it again. Grading without bubblewrap or cgroups needs --unsandboxed
(`available` says why and how to fix it).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

STUDENT_HOME = "/home/student"
GRADER_MOUNT = "/opt/hwkit-grader"
INBOX_MOUNT = "/opt/hwkit-notebook"  # the files the notebook folder is filled from, read-only
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "nsswitch.conf",
             "passwd", "group", "mime.types", "ssl/certs", "ca-certificates")


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits (the cell wall-time limit is nbgrader's Execute.timeout)."""

    memory_mb: int = 6144       # memory of the notebook's processes together (cgroup), and RLIMIT_AS of each
                                # (torch reserves ~1.5 GB of address space)
    pids: int = 512             # processes and threads of the notebook together (cgroup)
    cpu_seconds: int = 1800     # RLIMIT_CPU of the whole kernel: a backstop, cells have a wall limit
    file_mb: int = 256          # RLIMIT_FSIZE: largest file the kernel may write
    output_bytes: int = 1_000_000  # text/data a cell may send back before it is stopped
    tmp_mb: int = 512           # size of the sandbox's /tmp and /dev/shm (RAM-backed)
    home_mb: int = 512          # size of the notebook folder (RAM-backed)


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None if the walls can be built here (bubblewrap and cgroups), otherwise why not and how to fix it."""
    from . import cgroups

    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not on PATH: install it with `apt-get install bubblewrap`"
    probe = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
                            "true"], capture_output=True, text=True)
    if probe.returncode:
        return (f"bubblewrap cannot create a sandbox here ({probe.stderr.strip()}): install a working one with "
                "`apt-get install bubblewrap`")
    why = cgroups.available()
    if why:
        return (f"{why}: run hwkit grade as root on Linux with cgroup v2 (memory and pids controllers) or the "
                "cgroup v1 memory and pids hierarchies mounted")
    return None


@functools.lru_cache(maxsize=1)
def _no_nested_userns() -> tuple[str, ...]:
    """bwrap >= 0.8 can forbid user namespaces inside the sandbox (a kernel cannot build a
    private world of its own there); older versions lack the flag."""
    flags = ("--unshare-user", "--disable-userns")
    probe = subprocess.run([shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--unshare-all", *flags, "true"],
                           capture_output=True)
    return flags if probe.returncode == 0 else ()


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(roots)


def sandbox_argv(inbox: Path, grader: Path, sockets: Path, assignment: str, limits: Limits,
                 env: dict[str, str], command: list[str]) -> list[str]:
    """prlimit + bwrap command line running `command` behind the walls described above."""
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [shutil.which("prlimit") or "prlimit", f"--as={limits.memory_mb * 2**20}", f"--cpu={limits.cpu_seconds}",
            f"--fsize={limits.file_mb * 2**20}", "--core=0", "--nofile=1024", "--", bwrap,
            "--unshare-all", *_no_nested_userns(), "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/dev/shm"]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
        elif target.exists():
            argv += ["--ro-bind", str(target), str(target)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        if not root.startswith("/usr/"):
            argv += ["--ro-bind", root, root]
    home = f"{STUDENT_HOME}/{assignment}"
    argv += ["--size", str(limits.home_mb * 2**20), "--tmpfs", home, "--ro-bind", str(inbox), INBOX_MOUNT,
             "--ro-bind", str(grader), GRADER_MOUNT,
             "--bind", str(sockets), str(sockets), "--remount-ro", "/", "--chdir", home]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv + ["--", *command]


def kernel_env(jobs: int = 1) -> dict[str, str]:
    """The kernel's whole environment (nothing of the grader's environment gets in)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": STUDENT_HOME,
            "PYTHONPATH": GRADER_MOUNT, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore",
            "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
            "TMPDIR": "/tmp", "LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde",
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def prepare_grader_mount(course_source: Path, target: Path) -> Path:
    """The read-only folder of the grader's code that runs in the sandbox: the assignment's public checks
    (if it has a checks package) and the judge's sandbox side (observer, wire codec, stand-in server).
    Nothing of grader_tests/ (references, hidden cases) and no test cell goes in."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for module in ("observer", "wire", "standin_server"):  # the judge's side in the sandbox (standalone modules)
        shutil.copy(Path(__file__).with_name(f"{module}.py"), target / f"hwkit_{module}.py")
    from .assignment import checks_package

    checks = checks_package(course_source)
    if checks:
        shutil.copytree(course_source / checks, target / checks, ignore=ignore, dirs_exist_ok=True)
    for path in target.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    return target
