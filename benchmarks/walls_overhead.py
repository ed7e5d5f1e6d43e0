"""Benchmark: what the per-notebook walls (a cgroup per notebook, hwkit/cgroups.py, and the checks of
which wall was hit after each cell) add to the time of one notebook on the fork-server path.

    .venv/bin/python benchmarks/walls_overhead.py [--notebooks 4] [--timeout 60]

Executes the filled release of Planar_MLP (the instructor's answers) with `SandboxedExecute`, as a
grading worker does, alternately with the walls and without them (a fork server whose kernels stay
in the worker's cgroup and which reports no wall), in one process with one pre-warmed sandbox each,
and prints the seconds per notebook of both and the difference. The cgroup operations alone are
timed too. Not a test: it takes a minute or two. Needs root (cgroups) and bubblewrap.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hwkit import cgroups  # noqa: E402
from hwkit.course import Course  # noqa: E402
from hwkit.demo import filled_release  # noqa: E402
from hwkit.forkserver import KernelForkServer, WallHit  # noqa: E402
from hwkit.sandbox import SandboxedExecute  # noqa: E402
from hwkit.walls import INBOX_MOUNT, Limits, prepare_grader_mount  # noqa: E402

NOTEBOOK = "Planar_MLP.ipynb"


class UnwalledServer(KernelForkServer):
    """The fork server without the per-notebook cgroups: kernels are forked where the server is."""

    def _fork_walled(self, op: str, **fields) -> int:
        return int(self.request(op, cwd=self.workdir, inbox=INBOX_MOUNT, **fields)["pid"])

    def walls_hit(self) -> list[WallHit]:
        return []


def executor(server: KernelForkServer, grader: Path, timeout: int) -> SandboxedExecute:
    class Execute(SandboxedExecute):
        def _worker_server(self):
            return server
    return Execute(grader_mount=str(grader), assignment="hw1", timeout=timeout, jobs=1)


def time_notebook(execute: SandboxedExecute, course: Course, folder: Path) -> float:
    nb = filled_release(course, NOTEBOOK)
    started = time.perf_counter()
    execute.preprocess(nb, {"metadata": {"path": str(folder)}, "unique_key": "Planar_MLP"})
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"the notebook failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    return seconds


def cgroup_seconds(rounds: int = 50) -> float:
    """Create, move a process in and out, read the counters, remove: per notebook."""
    own = cgroups.Cgroup.of()
    started = time.perf_counter()
    for _ in range(rounds):
        cgroup = cgroups.Cgroup.create(Limits.memory_mb, Limits.pids, Limits().cores(1))
        cgroup.add(os.getpid())
        own.add(os.getpid())
        cgroup.hits()
        cgroup.remove()
    return (time.perf_counter() - started) / rounds


def wall_check_seconds(server: KernelForkServer, folder: Path, rounds: int = 100) -> float:
    """One `walls_hit` (the check after every cell: the cgroup's counters, the free space of the sandbox's
    file systems), with a notebook's cgroup in place."""
    server.prepare(folder)
    server.cgroup = cgroups.Cgroup.create(Limits.memory_mb, Limits.pids, Limits().cores(1))
    started = time.perf_counter()
    for _ in range(rounds):
        server.walls_hit()
    seconds = (time.perf_counter() - started) / rounds
    server.finish()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=4, help="notebooks per variant")
    parser.add_argument("--timeout", type=int, default=60)
    args = parser.parse_args()
    course = Course.at(REPO)
    with tempfile.TemporaryDirectory(prefix="hwkit-walls-") as tmp:
        grader = prepare_grader_mount(course.source, Path(tmp) / "grader")
        servers = {"walls": KernelForkServer(grader, "hw1", Limits(), 1),
                   "no walls": UnwalledServer(grader, "hw1", Limits(), 1)}
        runs = {name: executor(server, grader, args.timeout) for name, server in servers.items()}
        times: dict[str, list[float]] = {name: [] for name in servers}
        for name in runs:  # warm-up: the sandboxes start, caches fill
            time_notebook(runs[name], course, course.release)
        for _ in range(args.notebooks):  # alternating, so a change of the machine's load hits both
            for name in runs:
                times[name].append(time_notebook(runs[name], course, course.release))
        check = wall_check_seconds(servers["walls"], course.release)
        for server in servers.values():
            server.close()
    walled, bare = statistics.median(times["walls"]), statistics.median(times["no walls"])
    for name, values in times.items():
        print(f"{name:>9}: median {statistics.median(values):.3f} s per notebook "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    cells = sum(c.cell_type == "code" for c in filled_release(course, NOTEBOOK).cells)
    direct = cgroup_seconds() + cells * check
    print(f"the walls add {walled - bare:+.3f} s per notebook ({(walled - bare) / bare:+.1%}; the machine's load "
          f"makes this noisy); directly: the cgroup operations take {cgroup_seconds() * 1000:.2f} ms per notebook "
          f"and the check after each cell {check * 1000:.2f} ms, {direct * 1000:.1f} ms for the {cells} code cells "
          f"({direct / bare:.2%} of a notebook)")


if __name__ == "__main__":
    main()
