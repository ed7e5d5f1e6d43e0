"""The walls of issue 24, each tried from a real kernel in a real sandbox (hwkit/walls.py,
hwkit/forkserver.py), each with its positive control: the same attack in a sandbox with that one wall
taken away works (so a test cannot pass because the attack silently stopped running).

  * no host device node can be chmod'ed (read-only binds) and nothing can be created in /dev;
  * the socket folder (host side) is a sized tmpfs the host empties whatever depth a kernel left;
  * nothing crosses to the next notebook through /dev, POSIX message queues or keyrings;
  * a notebook's busy processes do not slow a neighbour (cgroup CPU quota and weight), and the
    notebook's processes together have a CPU-time budget;
  * no --timeout and no number of cells makes the kernel's CPU rlimit fail.

The servers here preload nothing (each kernel imports ipykernel itself): they start in a second.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from conftest import unless_available
from hwkit import forkserver, walls
from hwkit.course import Course
from hwkit.forkserver import KernelForkServer
from hwkit.sandbox import SandboxKernelManager
from hwkit.walls import Limits, available, prepare_grader_mount

pytestmark = [unless_available(available()), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def grader(tmp_path_factory) -> Path:
    return prepare_grader_mount(Course.at(REPO).source, tmp_path_factory.mktemp("grader"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "nb").mkdir()
    return tmp_path / "nb"


def run(server: KernelForkServer, folder: Path, *sources: str, timeout: int = 60, cpu_seconds: int = 120) -> list[str]:
    """Execute cells in a fresh forked kernel; the text each cell printed (or its error)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    server.prepare(folder)
    km = SandboxKernelManager()
    km.configure_sandbox(server, cpu_seconds=cpu_seconds)
    died = ""
    try:
        NotebookClient(nb, km=km, timeout=timeout, allow_errors=True, shutdown_kernel="immediate").execute()
    except DeadKernelError as exc:
        died = f"DeadKernelError: {exc}"
    finally:
        server.finish()
    out = ["".join(o.get("text", "") if o.output_type == "stream" else f"{o.get('ename')}: {o.get('evalue')}"
                   for o in cell.outputs if o.output_type in ("stream", "error")) for cell in nb.cells]
    return out + [died] if died else out


@pytest.fixture
def walled(grader: Path):
    server = KernelForkServer(grader, "hw1", Limits(), 2, preload=())
    yield server
    server.close()


class Unwalled(KernelForkServer):
    """The sandbox as it was before issue 24: the device nodes stay read-write binds, /dev a writable
    tmpfs, keyring calls allowed, message queues never removed."""

    def seal(self) -> None:
        pass


@pytest.fixture
def unwalled(grader: Path, monkeypatch, tmp_path: Path) -> KernelForkServer:
    def old_argv(*args, **kwargs):
        argv = walls.sandbox_argv(*args, **{**kwargs, "seccomp_fd": None})
        at = argv.index("/dev/mqueue") + 1
        assert argv[at:at + 2] == ["--remount-ro", "/dev"]
        return argv[:at] + argv[at + 2:]

    source = forkserver.SERVER_SOURCE.read_text()
    assert "        remove_message_queues()\n" in source
    old_server = tmp_path / "old_server.py"
    old_server.write_text(source.replace("        remove_message_queues()\n", ""))
    server = Unwalled(grader, "hw1", Limits(), 2, preload=())
    with monkeypatch.context() as patched:  # this server only (started now, not replaced by the tests)
        patched.setattr(forkserver, "sandbox_argv", old_argv)
        patched.setattr(forkserver, "SERVER_SOURCE", old_server)
        server.start()
    yield server
    server.close()


CHMOD_DEVICES = """
import os, stat
for name in sorted(os.listdir("/dev")):
    path = "/dev/" + name
    info = os.lstat(path)
    if stat.S_ISCHR(info.st_mode):
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode))  # the SAME mode: harmless even where it works
            print(name, "chmod allowed")
        except OSError as exc:
            print(name, "chmod refused", exc.strerror)
"""
USE_DEVICES = """
import os
with open("/dev/null", "w") as null:
    print(null.write("x" * 10), len(open("/dev/urandom", "rb").read(16)), len(open("/dev/zero", "rb").read(8)))
try:
    os.write(os.open("/dev/full", os.O_WRONLY), b"x")
except OSError as exc:
    print(exc.strerror)
"""
PLANT_DEV = """
try:
    open("/dev/planted", "w").write("secret of student A")
    print("planted", open("/dev/planted").read())
except OSError as exc:
    print("refused", exc.strerror)
"""
SEE_DEV = "import os\nprint('planted' in os.listdir('/dev'))"


def test_no_host_device_can_be_chmodded_and_dev_takes_nothing(walled, unwalled, folder: Path) -> None:
    """A chmod of a device node (to the mode it already has: the host's /dev/null is never changed) is
    refused, the devices still work, and nothing can be planted in /dev for the next student.
    Control: with the old mount flags the same chmod succeeds and a plant crosses."""
    out = run(walled, folder, CHMOD_DEVICES, USE_DEVICES, PLANT_DEV)
    lines = out[0].splitlines()
    assert {"null", "zero", "full", "random", "urandom"} <= {line.split()[0] for line in lines}, out
    assert all("chmod refused Read-only file system" in line for line in lines), out
    assert out[1:] == ["10 16 8\nNo space left on device\n", "refused Read-only file system\n"]
    assert run(walled, folder, SEE_DEV) == ["False\n"]

    old = run(unwalled, folder, CHMOD_DEVICES, USE_DEVICES, PLANT_DEV)
    assert "null chmod allowed" in old[0].splitlines(), old
    assert old[1:] == ["10 16 8\nNo space left on device\n", "planted secret of student A\n"]
    assert run(unwalled, folder, SEE_DEV) == ["True\n"]


MQUEUE_PLANT = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
q = libc.mq_open(b"/hwkit_plant", os.O_CREAT | os.O_RDWR, 0o600, None)
print("created", q >= 0, libc.mq_send(q, b"secret of student A", 19, 0) == 0)
again = libc.mq_open(b"/hwkit_plant", os.O_RDWR)  # the plant is there, within this notebook
buffer = ctypes.create_string_buffer(8192)
print("seen", libc.mq_receive(again, buffer, 8192, None), buffer.value.decode())
libc.mq_send(q, b"secret of student A", 19, 0)
"""
MQUEUE_SEEK = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
q = libc.mq_open(b"/hwkit_plant", os.O_RDWR)
print("found" if q >= 0 else os.strerror(ctypes.get_errno()))
"""
KEY_PLANT = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
SYS_ADD_KEY, SYS_KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, KEYCTL_READ = -4, -5, 11
for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
    key = libc.syscall(SYS_ADD_KEY, b"user", b"hwkit_plant", b"secret of student A", 19, ring)
    buffer = ctypes.create_string_buffer(64)
    read = libc.syscall(SYS_KEYCTL, KEYCTL_READ, key, buffer, 64) if key > 0 else -1
    print(buffer.value.decode() if read > 0 else os.strerror(ctypes.get_errno()))
"""
KEY_SEEK = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
KEYCTL_SEARCH = 10
found = [libc.syscall(SYS_KEYCTL, KEYCTL_SEARCH, ring, b"user", b"hwkit_plant", 0) for ring in (-4, -5)]
print(["found" if key > 0 else os.strerror(ctypes.get_errno()) for key in found])
"""


def test_queues_and_keyrings_do_not_cross(walled, unwalled, folder: Path) -> None:
    """A POSIX message queue left by one notebook is gone in the next (the plant is visible within its
    own notebook); keyring calls are refused. Control: in the old sandbox both cross."""
    assert run(walled, folder, MQUEUE_PLANT) == ["created True True\nseen 19 secret of student A\n"]
    assert run(walled, folder, MQUEUE_SEEK) == ["No such file or directory\n"]
    assert run(walled, folder, KEY_PLANT) == ["Function not implemented\n" * 2]
    assert run(walled, folder, KEY_SEEK) == ["['Function not implemented', 'Function not implemented']\n"]

    assert run(unwalled, folder, MQUEUE_PLANT) == ["created True True\nseen 19 secret of student A\n"]
    assert run(unwalled, folder, MQUEUE_SEEK) == ["found\n"]
    assert run(unwalled, folder, KEY_PLANT) == ["secret of student A\n" * 2]
    assert run(unwalled, folder, KEY_SEEK) == ["['found', 'found']\n"], "the keys crossed"


DEEP_TREE = """
import os
os.chdir({sockets!r})
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
os.chmod(".", 0)
os.chdir({sockets!r})
print("deep")
"""
FILL = """
import os
try:
    open({sockets!r} + "/big", "wb").write(b"1" * (16 * 2**20))
except OSError as exc:
    print(exc.strerror)
"""


def test_socket_folder_is_sized_and_emptied_whatever_its_depth(walled, folder: Path, tmp_path: Path) -> None:
    """A 1,500-deep tree in the socket folder is removed by the host without recursion and the next
    notebook runs; the folder is a small tmpfs (no host disk). Control: the host's old clean-up,
    shutil.rmtree, fails on such a tree."""
    sockets = str(walled.sockets)
    assert run(walled, folder, DEEP_TREE.format(sockets=sockets)) == ["deep\n"]
    assert list(walled.sockets.iterdir()) == []
    assert run(walled, folder, "print(6 * 7)") == ["42\n"]
    assert run(walled, folder, FILL.format(sockets=sockets)) == ["No space left on device\n"]
    assert [w.name for w in walled.last_walls] == ["DiskFull"], walled.last_walls

    deep = tmp_path / "deep"
    deep.mkdir()
    here = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=here)
        here, parent = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=here), here
        os.close(parent)
    os.close(here)
    with pytest.raises(RecursionError):
        shutil.rmtree(deep)
    forkserver._empty(tmp_path)
    assert list(tmp_path.iterdir()) == []


HOG = """
import subprocess, sys, time
hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(48)]
time.sleep(30)
"""  # a session each: the scheduler's autogroups (one per session) would otherwise share the CPU fairly
HONEST = """
import time
started, cpu = time.monotonic(), time.process_time()
while time.monotonic() - started < 6:
    pass
print(round(time.process_time() - cpu, 2))
"""  # the CPU seconds it gets in 6 s of wall time


def _beside_hog(hog_server: KernelForkServer, honest_server: KernelForkServer, tmp_path: Path) -> float:
    """CPU seconds HONEST's cell gets in 6 s while HOG's 48 busy processes run in another sandbox."""
    (tmp_path / "hog").mkdir(exist_ok=True)
    (tmp_path / "honest").mkdir(exist_ok=True)
    hog = threading.Thread(target=run, args=(hog_server, tmp_path / "hog", HOG))
    hog.start()
    try:
        time.sleep(8)  # the hog's processes are up
        out = run(honest_server, tmp_path / "honest", HONEST, timeout=20)
        assert len(out) == 1, out
        return float(out[0])
    finally:
        hog.join()
        hog_server.close()
        honest_server.close()


def test_a_cpu_hog_does_not_slow_its_neighbour(grader: Path, tmp_path: Path) -> None:
    """Two grading workers (jobs=2): a notebook keeping 48 busy processes alive beside an honest one.
    With the CPU walls (a cgroup each, one core's quota, the same weight) the honest cell gets several
    times the CPU it gets without them (kernels not in cgroups, as before: the control), where the hog
    takes nearly all of it. (CPU seconds, not wall time: others share this machine.)"""
    walled = _beside_hog(KernelForkServer(grader, "hw1", Limits(), 2, preload=()),
                         KernelForkServer(grader, "hw1", Limits(), 2, preload=()), tmp_path)

    class NoCgroups(KernelForkServer):
        def _fork_walled(self, op: str, **fields) -> int:
            return int(self.request(op, cwd=self.workdir, inbox=walls.INBOX_MOUNT, **fields)["pid"])

    unwalled = _beside_hog(NoCgroups(grader, "hw1", Limits(), 2, preload=()),
                           NoCgroups(grader, "hw1", Limits(), 2, preload=()), tmp_path)
    assert walled > 3 * unwalled, (walled, unwalled)


BURN = """
import subprocess, sys
busy = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 3: pass"
print([p.wait() for p in [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(3)]])
"""


def test_the_notebook_tree_has_a_cpu_budget(grader: Path, folder: Path) -> None:
    """Three children of 3 CPU seconds each stay under a 5 s budget alone, together they pass it: the
    notebook's wall says CPUTimeExceeded (checked after each cell; the tree is then stopped); the next
    notebook is not affected. Control: under a 60 s budget no wall is hit."""
    for budget, hit in ((5, ["CPUTimeExceeded"]), (60, [])):
        server = KernelForkServer(grader, "hw1", Limits(cpu_seconds=budget), 2, preload=())
        try:
            out = run(server, folder, BURN)
            assert out == ["[0, 0, 0]\n"], out
            assert [w.name for w in server.last_walls] == hit, (out, server.last_walls)
            assert not hit or "more than 5 s of CPU time" in server.last_walls[0].reason
            assert run(server, folder, "print(6 * 7)") == ["42\n"] and server.last_walls == []
        finally:
            server.close()


def test_no_timeout_or_number_of_cells_breaks_the_cpu_rlimit(walled, folder: Path) -> None:
    """--timeout 2000 with 40 cells (or --timeout 300 with 288) asked for an RLIMIT_CPU above the
    sandbox's hard limit, and the kernel died. Now it is clamped: the kernel runs, with at most the
    notebook's CPU budget. Control: setting a limit above the hard one really fails in the sandbox."""
    probe = ("import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_CPU)\nprint(soft, hard)\n"
             "try:\n    resource.setrlimit(resource.RLIMIT_CPU, (hard + 1, hard + 1))\n"
             "except ValueError as exc:\n    print('above the hard limit:', exc)")
    for cpu_seconds in (2000 * 41, 300 * 289, 10**15):
        out = run(walled, folder, probe, cpu_seconds=cpu_seconds)
        assert out == [f"{Limits.cpu_seconds} {Limits.cpu_seconds}\nabove the hard limit: not allowed to raise "
                       "maximum limit\n"], out
    unlimited = KernelForkServer(walled.grader, "hw1", Limits(cpu_seconds=10**15), 2, preload=())
    try:
        out = run(unlimited, folder, "import resource\nprint(resource.getrlimit(resource.RLIMIT_CPU))",
                  cpu_seconds=10**15)
        assert out == [f"({walls.MAX_CPU_SECONDS}, {walls.MAX_CPU_SECONDS})\n"], out
    finally:
        unlimited.close()


@pytest.mark.parametrize(("timeout", "cells"), [(2000, 44), (300, 288)])
def test_honest_notebook_runs_at_any_timeout_and_length(walled, folder: Path, timeout: int, cells: int) -> None:
    """The executor of `hwkit grade` (SandboxedExecute) with --timeout 2000 and 44 cells, or 288 cells at
    --timeout 300: once "kernel died" (its CPU rlimit, timeout x (1 + cells), was above the hard limit);
    now every cell runs."""
    from hwkit.sandbox import SandboxedExecute
    from hwkit.settings import GradingSettings

    class Execute(SandboxedExecute):
        def _worker_server(self):
            return walled

    sources = ["x = 0", *["x += 1"] * (cells - 2), "print(x)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    executor = Execute(grader_mount=str(walled.grader), timeout=timeout,
                       grading=GradingSettings(cell_timeout=timeout))
    executor.preprocess(nb, {"metadata": {"path": str(folder)}, "unique_key": "long"})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and nb.cells[-1].outputs[0]["text"] == f"{cells - 2}\n", errors[:1]
    assert SandboxedExecute.runs.pop("long").stopped_at is None
