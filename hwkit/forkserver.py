"""Pre-warmed sandboxed kernels: one bubblewrap sandbox per grading worker, one forked kernel per
notebook.

Starting a Python kernel and importing PyTorch costs about 3 s, paid by every notebook of every
student under plain nbgrader. Here each grading worker starts one sandbox (walls.py: no network,
read-only system, only the public checks and the observer of the grader visible) whose first process,
the fork server (kernel_forkserver.py), imports numpy, torch, matplotlib, otter and ipykernel once; each
notebook's kernel is a fork of it, so it starts in milliseconds with those modules loaded.

Over 300 lines because the host side of one protocol lives here whole: starting and replacing the
server, each notebook's inbox and cgroup, the requests, and the kernel provisioner nbclient talks to.

Walls between the notebooks that share a sandbox, one after another:
  * before a kernel starts, the server kills every other process of the sandbox's PID namespace
    (kill(-1): double-forked or setsid'd leftovers too), removes System V IPC objects and POSIX
    message queues, empties /tmp, /dev/shm and the notebook folder (/home/student/<assignment>) and
    fills the folder afresh from the read-only copy of the next notebook's files that the worker put
    in (its inbox); the worker empties the inbox and the socket folder after each notebook (without
    recursion: a kernel chooses the depth of what it leaves). /dev is read-only (walls.py) and keyring
    calls fail. Nothing of one student is alive, queued or on disk when the next one runs.
  * the socket folder, the one host folder the sandbox writes, is a tmpfs of its own size mounted by
    the host for each sandbox (/tmp/hwk-<pid>-*/s; unmounted when the sandbox goes, and those of a
    killed worker when the next sandbox starts); the host's device nodes in the sandbox are made
    read-only binds before the first kernel (walls.seal_devices).
  * each notebook's kernel (or the judge's observer) is born in a cgroup of its own (cgroups.py):
    the host moves the fork server into the new cgroup just for the fork and back out, so the child
    and everything it starts count against the notebook's memory, process and CPU limits (the server,
    outside, is never the one the OOM killer picks); after each cell the host reads which wall was hit
    and stops the tree past its CPU-time budget; the cgroup is removed after the notebook.
    The notebook folder is a tmpfs of its own size (walls.py), filled by the server from a
    read-only copy of the notebook's files before each fork.
  * the server is not dumpable (kernels, same uid, cannot ptrace it or read its memory), its
    control pipes are closed in every kernel, and a kernel's changes to memory stay in that fork.
  * if the server stops answering (killed, stopped by a kernel) the whole sandbox is thrown away
    and a new one started for the next notebook.
"""
from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any as AnyTrait, Integer

from . import cgroups
from .execute import KERNEL_ARGUMENTS
from .walls import (
    GRADER_MOUNT,
    INBOX_MOUNT,
    SOCKET_INODES,
    STUDENT_HOME,
    Limits,
    kernel_env,
    mount_tmpfs,
    sandbox_argv,
    seal_devices,
    seccomp_program,
    unmount,
)

SERVER_SOURCE = Path(__file__).with_name("kernel_forkserver.py")
# What every notebook of the homework imports (torch alone is ~2 s; torch._dynamo, which the first
# torch.optim optimizer imports, another ~2 s, in the notebook and again in the judge's observer; otter,
# of the Otter init cell, ~2 s); the kernel machinery too.
PRELOAD = ("numpy", "torch", "torch._dynamo", "matplotlib.pyplot", "otter", "ipykernel.kernelapp",
           "ipykernel.ipkernel", "ipykernel.zmqshell", "matplotlib_inline.backend_inline")
WIPE_IN_SANDBOX = ["/tmp", "/dev/shm"]
FULL_BELOW = 2**20  # bytes left in a file system of the sandbox under which it counts as full


class ForkServerError(RuntimeError):
    """The fork server did not answer or refused a request."""


@dataclass(frozen=True)
class WallHit:
    """A per-notebook limit the notebook's processes ran into."""

    name: str    # MemoryLimitExceeded, ProcessLimitExceeded, CPUTimeExceeded, DiskFull
    reason: str  # for the feedback, naming the limit


class KernelForkServer:
    """The worker's handle on its sandbox and the fork server inside it."""

    def __init__(self, grader: Path, assignment: str, limits: Limits, jobs: int = 1,
                 preload: tuple[str, ...] = PRELOAD, start_timeout: float = 180, request_timeout: float = 20):
        """`jobs`: notebooks graded at once on this machine (they share its cores: the kernels' threads
        and, unless `limits.cpus` says otherwise, each notebook's CPU quota)."""
        self.grader, self.assignment, self.limits = grader, assignment, limits
        self.cores = limits.cores(jobs)
        self.env = dict(kernel_env(jobs), HWKIT_PRELOAD=json.dumps(list(preload)))
        self.start_timeout, self.request_timeout = start_timeout, request_timeout
        self.process: subprocess.Popen | None = None
        self.kernels = 0
        self.server_pid = 0  # the fork server's pid on the host
        self.server_cgroup: cgroups.Cgroup | None = None  # where it lives between forks
        self.cgroup: cgroups.Cgroup | None = None  # the current notebook's
        self.seen = cgroups.Hits()  # of the current cgroup, already reported
        self.full: set[str] = set()  # file systems of the sandbox already reported full (and the CPU budget)
        self.last_walls: list[WallHit] = []  # what the last finished notebook hit and nobody asked about
        # Short paths: Unix socket paths are limited to 107 bytes. The pid: whose mounts these are.
        self.root = Path(tempfile.mkdtemp(prefix=f"hwk-{os.getpid()}-", dir="/tmp"))
        self.inbox = self.root / "in"        # the notebook folder's files, read-only in the sandbox
        self.sockets = self.root / "s"       # the kernels' ZeroMQ ipc sockets (same path inside)
        atexit.register(self.close)

    @property
    def workdir(self) -> str:
        return f"{STUDENT_HOME}/{self.assignment}"

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.close(keep_root=True)
        cgroups.remove_orphans()
        remove_orphan_mounts()
        for folder in (self.inbox, self.sockets):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        # The socket folder, the one place of the host the sandbox writes: a tmpfs of its own size.
        mount_tmpfs(self.sockets, self.limits.sockets_mb * 2**20, SOCKET_INODES)
        seccomp = os.memfd_create("hwkit-seccomp", 0)  # bwrap reads the filter from a descriptor
        try:
            os.write(seccomp, seccomp_program())
            os.lseek(seccomp, 0, os.SEEK_SET)
            argv = sandbox_argv(self.inbox, self.grader, self.sockets, self.assignment, self.limits, self.env,
                                [sys.executable, "-c", SERVER_SOURCE.read_text()], seccomp_fd=seccomp)
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=[seccomp])
        finally:
            os.close(seccomp)
        ready = self._read(self.start_timeout)
        if not ready.get("ready"):
            raise ForkServerError(f"the kernel sandbox did not start: {ready}")
        self.server_pid = _host_pid(self.process.pid, int(ready["pid"]))
        self.server_cgroup = cgroups.Cgroup.of(self.server_pid)
        self.seal()

    def seal(self) -> None:
        """Before any kernel: the host's device nodes in the sandbox become read-only binds (walls.py)."""
        try:
            seal_devices(self.server_pid)
        except OSError as exc:
            self.close(keep_root=True)
            raise ForkServerError(str(exc)) from exc

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self, keep_root: bool = False) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.kill()  # bwrap: its PID namespace, fork server and kernels, dies with it
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream:
                    stream.close()
        self._remove_cgroup()
        unmount(self.sockets)  # a new sandbox gets a new socket folder
        if not keep_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- protocol ----------------------------------------------------------------------------
    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, remaining))
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    break
                return json.loads(line)
            if remaining <= 0:
                break
        self.close(keep_root=True)  # silent or gone: this sandbox is not trusted any more
        raise ForkServerError("the kernel sandbox stopped answering")

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if not self.alive():
            raise ForkServerError("the kernel sandbox is not running")
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            self.close(keep_root=True)
            raise ForkServerError("the kernel sandbox stopped answering") from exc
        answer = self._read(self.request_timeout)
        if not answer.get("ok"):
            raise ForkServerError(f"{op} failed in the kernel sandbox: {answer.get('error')}")
        return answer

    # --- one notebook ------------------------------------------------------------------------
    def prepare(self, folder: Path) -> None:
        """A clean sandbox for the next notebook: no process left, empty /tmp, and for the notebook
        folder a fresh copy of `folder`'s files (helpers, data; not the notebooks)."""
        self.finish()
        if not self.alive():
            self.start()
        shutil.copytree(folder, self.inbox, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.ipynb", "__pycache__", ".ipynb_checkpoints"))

    def finish(self) -> None:
        """After a notebook: nothing of it left running (CPU for the grader) or on disk, its cgroup
        removed (what it hit is kept in `last_walls`). A sandbox that cannot be cleaned is thrown
        away; the next notebook gets a new one."""
        self.last_walls = self.walls_hit() if self.cgroup is not None else []
        if self.alive():
            try:
                self.request("reset", wipe=[*WIPE_IN_SANDBOX, self.workdir])
            except ForkServerError:
                self.close(keep_root=True)
        self._remove_cgroup()
        try:
            for sub in (self.inbox, self.sockets):
                _empty(sub)
        except OSError:  # (no process of the sandbox is left to refill it) a fresh sandbox and folder
            self.close(keep_root=True)

    # --- walls -----------------------------------------------------------------------------
    def _fork_walled(self, op: str, **fields: Any) -> int:
        """Ask the server to fork a notebook's process into a new cgroup with the notebook's limits:
        the server is in it only while it forks."""
        if not self.alive():
            raise ForkServerError("the kernel sandbox is not running")
        assert self.server_cgroup is not None
        last, self.cgroup = self.cgroup, cgroups.Cgroup.create(self.limits.memory_mb, self.limits.pids, self.cores)
        self.seen, self.full = cgroups.Hits(), set()
        try:
            self.cgroup.add(self.server_pid)
            answer = self.request(op, cwd=self.workdir, inbox=INBOX_MOUNT, **fields)
        finally:
            try:
                self.server_cgroup.add(self.server_pid)
            except OSError:  # the server is gone (and with it the sandbox)
                self.close(keep_root=True)
            if last is not None:  # a notebook nobody finished: the request killed what was left of it
                last.remove()
        return int(answer["pid"])

    def walls_hit(self, stalled: bool = False) -> list[WallHit]:
        """The limits the current notebook's processes ran into since the last call. `stalled`: the cell
        ran out of time, which a tree held at its memory limit (the kernel reclaiming instead of killing,
        slow on a busy machine) explains better than slowness."""
        hits: list[WallHit] = []
        if self.cgroup is not None:
            now = self.cgroup.hits()
            if now.oom_kills > self.seen.oom_kills:
                hits.append(WallHit("MemoryLimitExceeded", "the notebook's processes together used more than "
                                    f"{self.limits.memory_mb} MB of memory; the largest was killed"))
            elif stalled and now.memory_full > self.seen.memory_full:
                hits.append(WallHit("MemoryLimitExceeded", "the notebook's processes together asked for more "
                                    f"than {self.limits.memory_mb} MB of memory; the cell stalled at that limit"))
            if now.pids_refused > self.seen.pids_refused:
                hits.append(WallHit("ProcessLimitExceeded", "the notebook's processes together were more than "
                                    f"{self.limits.pids} (threads count); starting more failed"))
            self.seen = now
            if self.cgroup.cpu_seconds() > self.limits.cpu_seconds and "cpu" not in self.full:
                self.full.add("cpu")
                self.cgroup.kill()
                hits.append(WallHit("CPUTimeExceeded", "the notebook's processes together used more than "
                                    f"{self.limits.cpu_seconds} s of CPU time; they were stopped"))
        sizes = {self.workdir: self.limits.home_mb, "/tmp": self.limits.tmp_mb, "/dev/shm": self.limits.tmp_mb,
                 str(self.sockets): self.limits.sockets_mb}
        try:
            free = self.request("free", folders=list(sizes))["free"] if self.alive() else {}
        except ForkServerError:
            free = {}
        for folder, left in free.items():
            if left < FULL_BELOW and folder not in self.full:
                self.full.add(folder)
                hits.append(WallHit("DiskFull", f"{folder} is full (it holds at most {sizes[folder]} MB)"))
        return hits

    def _remove_cgroup(self) -> None:
        cgroup, self.cgroup = self.cgroup, None
        if cgroup is not None:
            cgroup.remove()

    def connection_paths(self) -> tuple[str, str]:
        """(ipc path prefix, connection file) for the next kernel."""
        self.kernels += 1
        return str(self.sockets / f"k{self.kernels}"), str(self.sockets / f"kernel-{self.kernels}.json")

    def observe(self, socket_path: str, cpu_seconds: int, checks: str = "") -> int:
        """Fork the judge's observer (hwkit/observer.py) in the prepared notebook folder; it connects to
        `socket_path` (in the socket folder, the same path inside the sandbox) and loads the assignment's
        checks package `checks` from the grader mount ("": the assignment is judged by its test cells)."""
        return self._fork_walled("observe", socket=socket_path, mount=GRADER_MOUNT,
                                 checks=f"{GRADER_MOUNT}/{checks}" if checks else "",
                                 rlimits=self._rlimits(cpu_seconds))

    def spawn(self, connection_file: str, cpu_seconds: int) -> int:
        return self._fork_walled("spawn", connection_file=connection_file, arguments=KERNEL_ARGUMENTS,
                                 rlimits=self._rlimits(cpu_seconds))

    def _rlimits(self, cpu_seconds: float) -> dict[str, int]:
        """RLIMIT_CPU of the forked process: what the caller asks, at most the notebook's CPU budget (the
        server clamps it to its own hard limit too, so no timeout or number of cells can make it fail)."""
        return {"RLIMIT_CPU": max(1, min(int(cpu_seconds), self.limits.cpu_seconds))}


def _host_pid(ancestor: int, sandbox_pid: int) -> int:
    """The host's pid of the descendant of `ancestor` that is `sandbox_pid` in its own PID namespace."""
    todo = [ancestor]
    while todo:
        pid = todo.pop()
        status = Path(f"/proc/{pid}/status").read_text()
        ids = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
        if len(ids) > 1 and int(ids[-1]) == sandbox_pid:
            return pid
        todo += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    raise ForkServerError("the fork server's process was not found")


def _empty(folder: Path) -> None:
    """Remove everything inside `folder`, never following a kernel's symlinks; keep the folder. Only
    called when no process of the sandbox is left. No recursion and two descriptors at most, whatever
    the depth a kernel chose: what a folder holds is moved up into `folder`, then the folder removed.
    Root: a folder a kernel made unreadable (it can chmod, not chattr) is read anyway."""
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    moved = itertools.count()
    try:
        while names := [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(top)]:
            for name, is_dir in names:
                if not is_dir:
                    os.unlink(name, dir_fd=top)
                    continue
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
                try:
                    for entry in [e.name for e in os.scandir(inner)]:
                        os.rename(entry, f".hwkit-{next(moved)}", src_dir_fd=inner, dst_dir_fd=top)
                finally:
                    os.close(inner)
                os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)


def remove_orphan_mounts() -> None:
    """Unmount and remove the sandbox folders (/tmp/hwk-<pid>-*) of grading processes that are gone
    (killed before they could clean up)."""
    for root in Path("/tmp").glob("hwk-*-*"):
        creator = root.name.split("-")[1]
        if creator.isdigit() and not Path(f"/proc/{creator}").exists():
            unmount(root / "s")
            shutil.rmtree(root, ignore_errors=True)


class ForkServerProvisioner(LocalProvisioner):
    """A jupyter_client provisioner whose kernel is a fork of the worker's fork server."""

    server = AnyTrait()
    cpu_seconds = Integer(1800)
    kernel_pid: int | None = None

    @property
    def has_process(self) -> bool:
        return self.kernel_pid is not None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict:
        self.kernel_pid = self.server.spawn(self.parent.connection_file, self.cpu_seconds)
        self.pid = self.kernel_pid
        return self.connection_info

    async def poll(self) -> int | None:
        if self.kernel_pid is None:
            return 0
        try:
            answer = self.server.request("poll")
        except ForkServerError:
            return -signal.SIGKILL  # the sandbox is gone, and the kernel with it
        return None if answer["running"] else int(answer["status"] or 0)

    async def wait(self) -> int | None:
        while (status := await self.poll()) is None:
            await asyncio.sleep(0.05)
        self.kernel_pid = None
        return status

    async def send_signal(self, signum: int) -> None:
        if self.kernel_pid is not None:
            try:
                self.server.request("signal", signum=int(signum))
            except ForkServerError:
                pass

    async def kill(self, restart: bool = False) -> None:
        if self.kernel_pid is not None:
            try:
                self.server.request("reset", wipe=[])
            except ForkServerError:
                pass

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    async def cleanup(self, restart: bool = False) -> None:
        return None


_SERVERS: dict[tuple, KernelForkServer] = {}


def worker_server(grader: Path, assignment: str, limits: Limits, jobs: int) -> KernelForkServer:
    """This process's fork server (one per grading worker), started on first use."""
    key = (str(grader), assignment, limits, jobs)
    if key not in _SERVERS:
        _SERVERS[key] = KernelForkServer(grader, assignment, limits, jobs)
    return _SERVERS[key]


def close_servers_under(folder: Path) -> None:
    """Close and forget this process's fork servers whose grader folder lies in `folder` (a finished run's)."""
    for key, server in list(_SERVERS.items()):
        if Path(key[0]).is_relative_to(folder):
            server.close()
            del _SERVERS[key]
