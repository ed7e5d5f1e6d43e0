"""Resource walls around a whole process tree: one cgroup per notebook (host side, needs root).

A notebook's kernel (or the judge's observer) and everything it starts share one cgroup with a
memory limit, a limit on the number of processes (threads count) and a CPU quota (at most `cores`
cores at once) with the same weight as every other notebook, so four children of 1.9 GB, a fork
bomb or 48 busy processes hit the wall together, not one process at a time as with rlimits, and a
notebook's busy processes slow only that notebook. The kernel (OOM killer, CFS bandwidth control)
enforces them; `Cgroup.hits` tells afterwards which wall was hit and `Cgroup.cpu_seconds` how much CPU
time the tree used (its budget is checked by the fork server's host side, forkserver.py).

cgroup v2 is used when its root lists the memory, pids and cpu controllers (notebook cgroups are
children of the root, which may distribute controllers while holding processes); otherwise the cgroup
v1 memory, pids, cpu and cpuacct hierarchies, with the notebook cgroups under the grader's own cgroup
in each.
Cgroups are named hwkit-<pid of the creating process>-<n>; `remove_orphans` removes those whose
creator is gone (a grading worker killed in the middle of a notebook).
"""
from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids", "cpu")
V1_CONTROLLERS = (*CONTROLLERS, "cpuacct")  # v1 counts CPU time in a hierarchy of its own
CFS_PERIOD = 100_000  # microseconds
PREFIX = "hwkit-"
PAGE_SLACK = 2**20  # bytes: usage stops short of the limit by less than this when it is reached
_serial = itertools.count(1)


@dataclass(frozen=True)
class Hits:
    """How often each wall was hit in a cgroup."""

    oom_kills: int = 0       # processes the kernel killed because the tree's memory passed its limit
    pids_refused: int = 0    # forks (new processes or threads) refused because the tree had too many
    memory_full: int = 0     # 1 once the tree's memory reached its limit (the kernel reclaimed, or stalled)


@dataclass(frozen=True)
class Hierarchy:
    """Where one controller is mounted: `mount` shows the hierarchy's `root` (a cgroup path)."""

    version: int
    mount: Path
    root: str

    def folder(self, cgroup_path: str) -> Path:
        relative = os.path.relpath(cgroup_path, self.root)
        if relative.startswith(".."):
            raise OSError(f"cgroup {cgroup_path} is outside the mounted {self.root}")
        return self.mount / relative


def _mounts() -> dict[str, Hierarchy]:
    """controller -> hierarchy: v2 when it offers the CONTROLLERS, else the v1 ones (later mounts win)."""
    found: dict[str, Hierarchy] = {}
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            dash = fields.index("-")
            root, mount, kind, options = fields[3], Path(fields[4]), fields[dash + 1], fields[dash + 3].split(",")
            if kind == "cgroup2" and set(CONTROLLERS) <= set(_read(mount / "cgroup.controllers").split()):
                return {name: Hierarchy(2, mount, root) for name in CONTROLLERS}
            for name in V1_CONTROLLERS:
                if kind == "cgroup" and name in options:
                    found[name] = Hierarchy(1, mount, root)
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _paths_of(pid: int | str) -> dict[str, str]:
    """controller (or "" for v2) -> the cgroup path of process `pid`."""
    paths = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


class Cgroup:
    """A cgroup in each hierarchy of `CONTROLLERS` (one folder in v2, one per controller in v1)."""

    def __init__(self, folders: dict[str, Path], version: int):
        self.folders, self.version = folders, version

    @classmethod
    def of(cls, pid: int | str = "self") -> Cgroup:
        """The cgroup process `pid` is in (never removed by this module)."""
        mounts, paths = _mounts(), _paths_of(pid)
        version = mounts["memory"].version if "memory" in mounts else 1
        needed = CONTROLLERS if version == 2 else V1_CONTROLLERS
        if not set(needed) <= set(mounts):
            raise OSError(f"no cgroup hierarchy offers the {', '.join(sorted(set(needed) - set(mounts)))} "
                          "controller(s)")
        return cls({name: mounts[name].folder(paths["" if version == 2 else name]) for name in needed}, version)

    @classmethod
    def create(cls, memory_mb: int, pids: int, cores: float | None = None) -> Cgroup:
        """A new cgroup limiting the processes later added to it (and their descendants) to `memory_mb`
        of memory together (swap included), `pids` processes and threads and `cores` cores at once
        (None: no quota), with the default CPU weight (every notebook the same)."""
        own = cls.of()
        name = f"{PREFIX}{os.getpid()}-{next(_serial)}"
        if own.version == 2:
            mount = _mounts()["memory"].mount
            enabled = _read(mount / "cgroup.subtree_control").split()
            if not set(CONTROLLERS) <= set(enabled):
                (mount / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS))
            folders = {controller: mount / name for controller in CONTROLLERS}
        else:
            folders = {controller: folder / name for controller, folder in own.folders.items()}
        cgroup = cls(folders, own.version)
        try:
            for folder in dict.fromkeys(folders.values()):
                folder.mkdir()
            cgroup._limit(memory_mb * 2**20, pids, cores)
        except BaseException:
            cgroup.remove()
            raise
        return cgroup

    def _limit(self, memory_bytes: int, pids: int, cores: float | None) -> None:
        memory, tasks, cpu = self.folders["memory"], self.folders["pids"], self.folders["cpu"]
        quota = int(cores * CFS_PERIOD) if cores else None
        if self.version == 2:
            (memory / "memory.max").write_text(str(memory_bytes))
            if (memory / "memory.swap.max").exists():
                (memory / "memory.swap.max").write_text("0")
            (cpu / "cpu.weight").write_text("100")
            (cpu / "cpu.max").write_text(f"{quota or 'max'} {CFS_PERIOD}")
        else:
            (cpu / "cpu.shares").write_text("1024")
            (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD))
            (cpu / "cpu.cfs_quota_us").write_text(str(quota or -1))
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: swap counts too
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        (tasks / "pids.max").write_text(str(pids))

    def add(self, pid: int) -> None:
        """Move process `pid` (a pid of the host's namespace) in; its children from now on are born here."""
        for folder in dict.fromkeys(self.folders.values()):
            (folder / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        return {int(p) for folder in self.folders.values() for p in _read(folder / "cgroup.procs").split()}

    def hits(self) -> Hits:
        memory = "memory.events" if self.version == 2 else "memory.oom_control"
        return Hits(oom_kills=_counter(self.folders["memory"] / memory, "oom_kill"),
                    pids_refused=_counter(self.folders["pids"] / "pids.events", "max"),
                    memory_full=int(self._memory_peak() >= self._memory_limit() - PAGE_SLACK))

    def _memory_peak(self) -> int:
        # a high-water mark, not a counter: some kernels never count `failcnt` / events "max"
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        return int(_read(self.folders["memory"] / name).strip() or 0)

    def _memory_limit(self) -> int:
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        value = _read(self.folders["memory"] / name).strip()
        return int(value) if value.isdigit() else 2**63

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the cgroup's processes used, exited ones included."""
        if self.version == 2:
            return _counter(self.folders["cpu"] / "cpu.stat", "usage_usec") / 1e6
        return int(_read(self.folders["cpuacct"] / "cpuacct.usage").strip() or 0) / 1e9

    def kill(self) -> None:
        """SIGKILL every process in the cgroup (the pids are the host's: this runs on the host)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self, timeout: float = 10.0) -> None:
        """Remove the cgroup; its processes must be gone or going (killed processes leave it as they exit)."""
        deadline = time.monotonic() + timeout
        for folder in dict.fromkeys(self.folders.values()):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY: a process is still exiting
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)


def _counter(path: Path, key: str) -> int:
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def orphans() -> list[Path]:
    """The hwkit cgroups (beside this process's) whose creating process is gone: it was killed in the
    middle of a notebook, or it leaked them."""
    try:
        own = Cgroup.of()
    except OSError:
        return []
    parents = {_mounts()["memory"].mount} if own.version == 2 else set(own.folders.values())
    found = []
    for parent in parents:
        for folder in parent.glob(f"{PREFIX}*-*"):
            creator = folder.name[len(PREFIX):].split("-")[0]
            if creator.isdigit() and not Path(f"/proc/{creator}").exists():
                found.append(folder)
    return found


def remove_orphans() -> None:
    """Remove the orphaned hwkit cgroups that are empty (the processes of the others are still exiting)."""
    for folder in orphans():
        try:
            folder.rmdir()
        except OSError:  # removed by a later call
            pass


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None if this process can wall notebooks in cgroups here, otherwise why not."""
    try:
        probe = Cgroup.create(memory_mb=64, pids=8)
        probe.remove()
    except OSError as exc:
        return f"no usable cgroups for the per-notebook memory, process and CPU limits ({exc})"
    return None
