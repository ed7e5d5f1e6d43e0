"""The pre-warmed kernel sandbox of a grading worker (hwkit/forkserver.py), with real kernels.

Notebooks graded one after another by the same worker share a sandbox and a fork server; these
tests prove that nothing of one notebook (processes, files in its folder, /tmp, /dev/shm, IPython
start-up files) reaches the next, that the fork server cannot be read or traced by a kernel, and
that a sandbox whose fork server was killed is replaced.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from hwkit.course import Course
from hwkit.forkserver import KernelForkServer, worker_server
from hwkit.sandbox import Limits, SandboxKernelManager, available, kernel_env, prepare_grader_mount

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> KernelForkServer:
    course = Course.at(REPO)
    grader = prepare_grader_mount(course.source, tmp_path_factory.mktemp("grader"))
    server = KernelForkServer(grader, course.assignment, Limits(), kernel_env(2))
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
                  "home": sorted(os.listdir(".")), "startup": os.listdir("/tmp/ipython/profile_default/startup"), "torch_loaded": "torch" in __import__("sys").modules}))
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
    code = "import numpy, random, resource\nprint(numpy.random.rand(), random.random(), resource.getrlimit(resource.RLIMIT_CPU))"
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
