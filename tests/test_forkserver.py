"""The pre-warmed kernel sandbox of a grading worker (hwkit/forkserver.py), with real kernels.

Notebooks graded one after another by the same worker share a sandbox and a fork server; these
tests prove that nothing of one notebook (processes, files in its folder, /tmp, /dev/shm, IPython
start-up files) reaches the next, that the fork server cannot be read or traced by a kernel, that
a sandbox whose fork server was killed is replaced, and that each notebook's process tree is walled
in a cgroup of its own (memory, processes) and a notebook folder of bounded size.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from conftest import unless_available
from hwkit import cgroups
from hwkit.course import Course
from hwkit.forkserver import KernelForkServer, worker_server
from hwkit.sandbox import SandboxKernelManager
from hwkit.walls import Limits, available, prepare_grader_mount

pytestmark = unless_available(available())

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> KernelForkServer:
    course = Course.at(REPO)
    grader = prepare_grader_mount(course.source, tmp_path_factory.mktemp("grader"))
    server = KernelForkServer(grader, course.assignment, Limits(), 2)
    yield server
    server.close()


def run(server: KernelForkServer, folder: Path, *sources: str) -> list[str]:
    """Execute cells in a fresh forked kernel for `folder`; the text each cell printed (or its error)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    server.prepare(folder)
    km = SandboxKernelManager()
    km.configure_sandbox(server, cpu_seconds=120)
    died = ""
    try:
        NotebookClient(nb, km=km, timeout=30, allow_errors=True, shutdown_kernel="immediate").execute()
    except DeadKernelError as exc:
        died = f"DeadKernelError: {exc}"
    finally:
        server.finish()
    out = []
    for cell in nb.cells:
        texts = [o.get("text", "") if o.output_type == "stream" else f"{o.get('ename')}: {o.get('evalue')}"
                 for o in cell.outputs if o.output_type in ("stream", "error")]
        out.append("".join(texts))
    return out + [died] if died else out


LINGER = """
import os, subprocess, sys
code = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(600)\\n"
subprocess.Popen([sys.executable, "-c", code], start_new_session=True).wait()
os.makedirs("/tmp/ipython/profile_default/startup", exist_ok=True)
open("/tmp/ipython/profile_default/startup/00-evil.py", "w").write("import os; os._exit(7)")
open("/tmp/left_behind", "w").write("secret of student A")
open("/dev/shm/left_behind", "w").write("secret of student A")
open("answers_of_a.txt", "w").write("secret of student A")
os.makedirs("locked/inner"); os.chmod("locked", 0)
print(sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""

INSPECT = """
import os, json
print(json.dumps({"pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                  "tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")),
                  "home": sorted(os.listdir(".")), "startup": os.listdir("/tmp/ipython/profile_default/startup"),
                  "torch_loaded": "torch" in __import__("sys").modules}))
"""


def test_nothing_of_one_notebook_reaches_the_next(server: KernelForkServer, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, helper in ((first, "helper_a.py"), (second, "helper_b.py")):
        folder.mkdir()
        (folder / helper).write_text("X = 1\n")
    lingering = run(server, first, LINGER)[0]
    assert len(json.loads(lingering.replace("'", '"'))) >= 4, lingering  # init, server, kernel, the lingerer
    state = json.loads(run(server, second, INSPECT)[0])
    assert len(state["pids"]) == 3, f"only the sandbox init, the fork server and this kernel: {state}"
    assert state["shm"] == [], state
    assert "left_behind" not in state["tmp"] and "00-evil.py" not in state["startup"], state
    assert state["home"] == ["helper_b.py"], state
    assert state["torch_loaded"], "the kernel is a fork of the pre-warmed server"


def test_fork_server_cannot_be_read_or_traced(server: KernelForkServer, tmp_path: Path) -> None:
    probe = """
import ctypes, os
server = os.getppid()
found = []
for what in ("environ", "mem", "maps", "fd/0"):
    try:
        open(f"/proc/{server}/{what}", "rb").read(1); found.append(what)
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
print(found, libc.ptrace(PTRACE_ATTACH, server, 0, 0))
"""
    (tmp_path / "nb").mkdir()
    assert run(server, tmp_path / "nb", probe)[0].strip() == "[] -1"


def test_a_killed_fork_server_is_replaced(server: KernelForkServer, tmp_path: Path) -> None:
    """A kernel that kills its fork server only loses the server: the sandbox is thrown away after its
    notebook and the next notebook runs in a new one."""
    (tmp_path / "nb").mkdir()
    run(server, tmp_path / "nb", "print(1)")
    before = server.process.pid
    run(server, tmp_path / "nb", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "print('still running')")
    assert not server.alive(), "the broken sandbox is gone (or goes at the next notebook)"
    assert run(server, tmp_path / "nb", "print(6 * 7)")[0].strip() == "42"
    assert server.process.pid != before


def test_kernel_limits_and_fresh_random_state(server: KernelForkServer, tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    code = ("import numpy, random, resource\n"
            "print(numpy.random.rand(), random.random(), resource.getrlimit(resource.RLIMIT_CPU))")
    a, b = (run(server, tmp_path / "nb", code)[0] for _ in range(2))
    assert a != b, "each kernel seeds numpy and random afresh, as a new interpreter would"
    assert a.strip().endswith("(120, 120)"), a


def test_one_server_per_worker_process() -> None:
    grader = Path("/nonexistent")
    assert worker_server(grader, "hw1", Limits(), 2) is worker_server(grader, "hw1", Limits(), 2)


SYSV_WRITE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
ident = libc.shmget(0x5EC7, 1 << 20, 0o1666)  # IPC_CREAT | 0666
address = libc.shmat(ident, None, 0)
ctypes.memmove(address, b"secret of student A", 19)
libc.shmdt(ctypes.c_void_p(address))
print("created", ident >= 0)
"""
SYSV_READ = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("found" if libc.shmget(0x5EC7, 0, 0) >= 0 else "absent", open("/proc/sysvipc/shm").read().count("\\n") - 1)
"""


def test_sysv_shared_memory_does_not_outlive_its_notebook(server: KernelForkServer, tmp_path: Path) -> None:
    """A System V segment one notebook leaves behind is gone before the next notebook (issue 13)."""
    folder = tmp_path / "ipc"
    folder.mkdir()
    assert run(server, folder, SYSV_WRITE) == ["created True\n"]
    assert run(server, folder, SYSV_READ) == ["absent 0\n"]


CGROUP_OF_TREE = """
import subprocess
mine = open("/proc/self/cgroup").read()
child = subprocess.run(["cat", "/proc/self/cgroup"], capture_output=True, text=True).stdout
print(sorted({line.split(":")[2] for line in mine.splitlines() if line.split(":")[1] in ("memory", "pids", "")}))
print(child == mine)
"""


def test_each_notebook_tree_is_in_a_cgroup_of_its_own_removed_after(server: KernelForkServer, tmp_path: Path) -> None:
    """The kernel and its children share a new hwkit cgroup (seen from inside, relative to the sandbox's
    cgroup namespace); the next notebook gets another one, and none is left on the host afterwards."""
    (tmp_path / "nb").mkdir()
    seen = [run(server, tmp_path / "nb", CGROUP_OF_TREE)[0].splitlines() for _ in range(2)]
    names = []
    for paths, same_for_child in seen:
        assert same_for_child == "True", seen
        groups = {path.strip("/'") for path in paths.strip("[]").split(", ")} - {""}
        assert len(groups) == 1 and next(iter(groups)).startswith(f"hwkit-{os.getpid()}-"), paths
        names.append(groups.pop())
    assert names[0] != names[1]
    host = cgroups.Cgroup.of().folders.values()
    assert not [folder for folder in host for name in names if (folder / name).exists()]
    assert server.cgroup is None


@pytest.mark.slow  # real kernels hitting each wall
def test_walls_count_the_whole_tree_and_say_which(tmp_path_factory, tmp_path: Path) -> None:
    """Children that pass the memory limit together, a fork bomb and a full notebook folder each hit
    their wall (only their notebook: the next one runs normally), and the server says which."""
    course = Course.at(REPO)
    grader = prepare_grader_mount(course.source, tmp_path_factory.mktemp("grader"))
    limits = Limits(memory_mb=2048, pids=64, home_mb=32)
    small = KernelForkServer(grader, course.assignment, limits, 2)
    (tmp_path / "nb").mkdir()
    hogs = ("import subprocess, sys\nhog = 'import time; x = b\"1\" * (600 * 2**20); time.sleep(3)'\n"
            "print([p.wait() for p in [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(4)]])")
    bomb = ("import os, signal\nkids = []\ntry:\n    while len(kids) < 3000:\n        pid = os.fork()\n"
            "        if pid == 0:\n            signal.pause()\n        kids.append(pid)\nexcept OSError as exc:\n"
            "    print(len(kids), exc)\nfor pid in kids:\n    os.kill(pid, 9)")
    fill = "open('big', 'wb').write(b'1' * (40 * 2**20))"
    try:
        for code, name, limit in ((hogs, "MemoryLimitExceeded", "2048 MB"), (bomb, "ProcessLimitExceeded", "than 64"),
                                  (fill, "DiskFull", "/home/student/hw1 is full (it holds at most 32 MB)")):
            out = run(small, tmp_path / "nb", code)
            assert [(w.name, limit in w.reason) for w in small.last_walls] == [(name, True)], (out, small.last_walls)
            assert run(small, tmp_path / "nb", "print(6 * 7)") == ["42\n"] and small.last_walls == []
    finally:
        small.close()
