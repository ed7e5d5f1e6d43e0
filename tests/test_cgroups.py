"""The per-notebook cgroups (hwkit/cgroups.py) on this machine's real cgroups: the limits hold for a
whole process tree (no process alone passes them), a hit is counted, and nothing is left behind."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import unless_available
from hwkit import cgroups

pytestmark = unless_available(cgroups.available())


def walled(cgroup: cgroups.Cgroup, program: str) -> subprocess.CompletedProcess:
    """Run `program` in a fresh Python inside `cgroup`: it waits on stdin until it has been moved in."""
    gate = "import sys\nsys.stdin.readline()\n"
    process = subprocess.Popen([sys.executable, "-c", gate + textwrap.dedent(program)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    cgroup.add(process.pid)
    out, _ = process.communicate("go\n", timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out)


def test_memory_is_counted_over_the_whole_tree() -> None:
    """Three children of 120 MB each stay far under the limit alone, together they pass 256 MB."""
    cgroup = cgroups.Cgroup.create(memory_mb=256, pids=64)
    try:
        done = walled(cgroup, """
            import subprocess, sys
            hog = "import time; x = b'1' * (120 * 2**20); time.sleep(2)"
            children = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
            print([child.wait() for child in children])
        """)
        assert "-9" in done.stdout, done.stdout  # one child was OOM-killed
        assert cgroup.hits().oom_kills >= 1 and cgroup.hits().pids_refused == 0
        assert cgroup.hits().memory_full >= 1  # what explains a cell that stalls at the limit
    finally:
        cgroup.remove()
    assert not any(folder.exists() for folder in cgroup.folders.values())


def test_processes_are_counted_over_the_whole_tree() -> None:
    cgroup = cgroups.Cgroup.create(memory_mb=512, pids=20)
    try:
        done = walled(cgroup, """
            import os, signal, time
            children = []
            try:
                for _ in range(200):
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(30)
                        os._exit(0)
                    children.append(pid)
            except OSError as exc:
                print("refused after", len(children), type(exc).__name__)
            for pid in children:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        """)
        assert done.stdout.startswith("refused after 19 BlockingIOError"), done.stdout  # 19 children + itself
        assert cgroup.hits().pids_refused >= 1 and cgroup.hits().oom_kills == 0
        assert cgroup.hits().memory_full == 0  # 20 small processes never near 512 MB
    finally:
        cgroup.remove()


def test_a_cgroup_with_processes_is_not_silently_left() -> None:
    """remove() waits for the processes to go and fails loudly if they do not; orphans (their creator
    died before removing them) are found and removed."""
    cgroup = cgroups.Cgroup.create(memory_mb=64, pids=8)
    sleeper = subprocess.Popen(["sleep", "60"])
    cgroup.add(sleeper.pid)
    assert cgroup.pids() == {sleeper.pid}
    with pytest.raises(OSError):
        cgroup.remove(timeout=0.2)
    sleeper.kill()
    sleeper.wait()
    cgroup.remove()
    assert not any(folder.exists() for folder in cgroup.folders.values())

    leaker = subprocess.run([sys.executable, "-c", "from hwkit import cgroups\n"
                             "print(cgroups.Cgroup.create(64, 8).folders['pids'].name)"],
                            capture_output=True, text=True, check=True)
    name = leaker.stdout.strip()
    assert name in {folder.name for folder in cgroups.orphans()}
    cgroups.remove_orphans()
    assert name not in {folder.name for folder in cgroups.orphans()}
    assert not any((folder / name).exists() for folder in cgroups.Cgroup.of().folders.values())
