"""Benchmark: `hwkit grade --jobs N` against plain serial `nbgrader autograde`, and against bare execution.

    .venv/bin/python benchmarks/grade_benchmark.py [--students 20] [--jobs 2] [--timeout 20]
    .venv/bin/python benchmarks/grade_benchmark.py --scheduler [ADDRESS] [--students 12] [--jobs 2]

Builds a scratch copy of the course, a synthetic class (a mix of correct and faulty
submissions of every notebook in source/hw1), then in one run:
  1. serial nbgrader: generate_assignment + `nbgrader autograde` + generate_feedback (one process);
  2. `hwkit grade --jobs N` (sandboxed kernels, N workers) on an identical copy;
  3. bare execution: nbclient executing the autograded-equivalent notebooks (nbgrader's own
     autograded output with its outputs cleared, i.e. hidden tests restored), N at a time;
checks that 1 and 2 give identical scores, and prints the wall-time ratio and the per-notebook
overhead of hwkit grade over bare execution. Bare execution starts a fresh kernel per notebook (and
imports PyTorch in it), as nbgrader does; hwkit grade forks pre-warmed kernels (forkserver.py), so
its "overhead" can be negative. Not a test: it takes several minutes (~20 min for 20 students).

With --scheduler: the local pool (`hwkit grade --jobs N`) against `hwkit grade --scheduler` on an identical copy
(a Dask scheduler and N one-thread workers started here, or the cluster at ADDRESS): the engine's overhead, the
scores compared, where the cluster run's time went (hwkit's closing line) and the gradebook merge per student.
Over 300 lines: one script per benchmark run, each phase a function.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nbgrader.api import Gradebook, MissingEntry  # noqa: E402

from hwkit.assignment import load as load_assignment  # noqa: E402
from hwkit.build import build  # noqa: E402
from hwkit.course import COURSE_FILES, Course, copy_course_files, nbgrader  # noqa: E402
from hwkit.demo import filled_release, forgot_average  # noqa: E402
from hwkit.execute import KERNEL_ARGUMENTS, _environ  # noqa: E402
from hwkit.intake import collect  # noqa: E402
from hwkit.settings import CELL_TIMEOUT  # noqa: E402


def broken_first_solution(grade_id: str, text: str) -> str:
    return 'raise ValueError("a bug in the first answer")\n' + text


KINDS = {
    "correct": lambda c, nb: filled_release(c, nb),
    "forgot_average": lambda c, nb: filled_release(c, nb, forgot_average),
    "untouched": lambda c, nb: nbformat.read(c.release / nb, 4),
    "all_answers_raise": lambda c, nb: filled_release(c, nb, broken_first_solution),
    "half_done": lambda c, nb: filled_release(c, nb) if nb < "Problem2" else nbformat.read(c.release / nb, 4),
}


def make_course(root: Path, students: int, origin: Path = REPO) -> Course:
    root.mkdir(parents=True)
    copy_course_files(origin, root, tuple(name for name in COURSE_FILES if name != "release"))  # built below
    course = Course.at(root)
    build(course, verify=False)
    kinds = list(KINDS)
    for i in range(students):
        kind = kinds[i % len(kinds)]
        folder = course.submitted / f"s{i:03d}_{kind}" / course.assignment
        folder.mkdir(parents=True)
        for name in course.notebook_names():
            nbformat.write(KINDS[kind](course, name), folder / name)
    return course


# ---- the baseline: plain serial `nbgrader autograde`, hidden tests inside the kernel as nbgrader has them
def prepare_scratch(course: Course, scratch: Path, submissions: list) -> None:
    """A throwaway nbgrader course (the instructor notebooks as they are: their test cells' hidden blocks run
    the hidden cases in the kernel, the usual nbgrader way, which hwkit replaces by its judge), and copies of
    the notebooks."""
    shutil.copy(course.root / "nbgrader_config.py", scratch)
    shutil.copytree(course.source, scratch / "source" / course.assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(course.grader_tests, scratch / "grader_tests", ignore=shutil.ignore_patterns("__pycache__"))
    for submission in submissions:
        target = scratch / "submitted" / submission.student / course.assignment
        target.mkdir(parents=True)
        for name, path in submission.notebooks.items():
            shutil.copyfile(path, target / name)


def autograde(scratch: Path, course: Course, timeout: int) -> str:
    """Register the assignment and autograde every submission in `scratch` with the nbgrader command."""
    env = course.env()
    env["PYTHONPATH"] = f"{scratch / 'grader_tests'}:{env['PYTHONPATH']}"
    setup = nbgrader(scratch, "generate_assignment", course.assignment, "--force", env=env)
    if setup.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed in the scratch course:\n{setup.stderr}")
    done = nbgrader(scratch, "autograde", course.assignment, "--force", f"--Execute.timeout={timeout}", env=env)
    feedback = nbgrader(scratch, "generate_feedback", course.assignment, "--force", env=env)
    return done.stdout + done.stderr + feedback.stderr


def harvest(scratch: Path, course: Course, submission, maxima: dict[str, dict[str, float]]) -> dict[str, dict]:
    """notebook -> question -> points nbgrader gave (None: waits for a TA)."""
    scores = {}
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        for name, cell_max in maxima.items():
            scores[name] = dict.fromkeys(cell_max, 0.0)
            try:
                notebook = gradebook.find_submission_notebook(Path(name).stem, course.assignment, submission.student)
            except MissingEntry:
                continue
            for grade in notebook.grades:
                if grade.name in cell_max:
                    scores[name][grade.name] = None if grade.needs_manual_grade else float(grade.score or 0)
    return scores


def copy_course(course: Course, target: Path) -> Course:
    shutil.copytree(course.root, target, ignore=shutil.ignore_patterns("__pycache__"))
    return Course.at(target)


def serial_nbgrader(course: Course, timeout: int) -> tuple[float, dict, Path]:
    scratch = course.root.parent / "nbgrader-scratch"
    scratch.mkdir()
    submissions = collect(course)
    prepare_scratch(course, scratch, submissions)
    started = time.monotonic()
    log = autograde(scratch, course, timeout)
    seconds = time.monotonic() - started
    maxima = load_assignment(course).max_scores
    scores = {}
    for submission in submissions:
        for name, notebook_scores in harvest(scratch, course, submission, maxima).items():
            scores[(submission.student, name)] = notebook_scores
    if "error" in log.lower() and not scores:
        print(log[-3000:])
    return seconds, scores, scratch


def hwkit_grade(course: Course, jobs: int, timeout: int, *where: str) -> tuple[float, dict]:
    """`hwkit grade` on `course` (`where`: e.g. --scheduler ADDRESS); its cluster line is printed."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hwkit.cli", "--course", str(course.root), "grade",
                           "--jobs", str(jobs), "--timeout", str(timeout), *where], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"hwkit grade failed:\n{done.stdout[-3000:]}")
    for line in done.stdout.splitlines():
        if line.startswith("hwkit grade: cluster:"):
            print("    " + line)
    import csv

    scores = {}
    maxima = load_assignment(course).max_scores
    rows = {r["student_id"]: r for r in csv.DictReader((course.grades_csv).open())}
    for student, row in rows.items():
        for name, cells in maxima.items():
            scores[(student, name)] = {q: (float(row[q]) if row[q] != "" else None) for q in cells}
    return seconds, scores


def bare_execution(scratch: Path, course: Course, jobs: int, timeout: int, work: Path) -> tuple[float, int]:
    """nbclient on nbgrader's autograded notebooks (outputs cleared), `jobs` at a time."""
    from nbclient import NotebookClient

    paths = []
    for student_dir in sorted((scratch / "autograded").iterdir()):
        folder = student_dir / course.assignment
        target = work / student_dir.name
        shutil.copytree(folder, target)
        for nb_path in sorted(target.glob("*.ipynb")):
            nb = nbformat.read(nb_path, 4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(nb, nb_path)
            paths.append(nb_path)

    def run(path: Path) -> None:
        nb = nbformat.read(path, 4)
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3", interrupt_on_timeout=True,
                       extra_arguments=KERNEL_ARGUMENTS, resources={"metadata": {"path": str(path.parent)}}).execute()

    env = course.env()
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    started = time.monotonic()
    with _environ(env), ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, paths))
    return time.monotonic() - started, len(paths)


def print_judge_time(root: Path, notebooks: int) -> None:
    """Where a worker's time went, summed over the class (from hwkit's per-student cache records)."""
    import json

    totals: dict[str, float] = {}
    for record in (root / "autograded" / ".hwkit-cache").glob("*.json"):
        for key, seconds in json.loads(record.read_text()).get("timings", {}).items():
            totals[key] = totals.get(key, 0.0) + seconds
    if not totals:
        return
    worker = sum(totals.get(k, 0.0) for k in ("execute", "judge", "feedback"))
    print(f"where a worker's time goes (core-seconds summed over {notebooks} notebooks):")
    for key in ("execute", "judge", "feedback"):
        print(f"  {key:<10} {totals.get(key, 0.0):8.1f} s  {100 * totals.get(key, 0.0) / max(worker, 1e-9):5.1f}%")
    judge = totals.get("judge", 0.0)
    parts = {k: v for k, v in totals.items() if k not in ("execute", "judge", "feedback")}
    for key, seconds in sorted(parts.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    judge: {key:<28} {seconds:8.1f} s  {100 * seconds / max(judge, 1e-9):5.1f}% of the judge")


def start_cluster(workers: int, folder: Path) -> tuple[str, list[subprocess.Popen]]:
    """A `dask scheduler` and `workers` `dask worker` processes (one thread each, own working folder) on this
    machine, as a test or a lab machine would run them."""
    import socket

    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask, address = str(Path(sys.executable).parent / "dask"), f"tcp://127.0.0.1:{port}"
    folder.mkdir(parents=True)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(workers):
        (folder / f"worker{i}").mkdir(parents=True)
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                       "--local-directory", str(folder / f"worker{i}")], cwd=folder / f"worker{i}",
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def merge_seconds(course: Course, repeat: int = 20) -> float:
    """Seconds to merge one student into the course gradebook (record.merge_into_gradebook, as the instructor's
    process does per student), on a copy of the graded class's gradebook."""
    from hwkit.course_config import course_settings
    from hwkit.record import merge_into_gradebook
    from hwkit.results import StudentResult

    shutil.copy(course.gradebook, course.root / "merge-copy.db")
    course_id, _ = course_settings(course)
    db_url = f"sqlite:///{course.root / 'merge-copy.db'}"
    with Gradebook(db_url) as gradebook:
        submission = gradebook.assignment_submissions(course.assignment)[0]
        records = {nb.name: {"late_submission_penalty": nb.late_submission_penalty,
                             "grades": {g.name: [g.auto_score, g.needs_manual_grade] for g in nb.grades},
                             "comments": {c.name: c.auto_comment for c in nb.comments}} for nb in submission.notebooks}
        result = StudentResult(submission.student_id, [], records, None)
    started = time.monotonic()
    for _ in range(repeat):
        merge_into_gradebook(db_url, course_id, course.assignment, result)
    return (time.monotonic() - started) / repeat


def cluster_benchmark(base: Course, args, tmp: Path, notebooks: int) -> int:
    """The local pool against a Dask cluster on the same class: overhead, identical scores, where time goes."""
    procs = []
    if args.scheduler == "local":
        address, procs = start_cluster(args.jobs, tmp / "cluster")
    else:
        address = args.scheduler
    try:
        print(f"1/2 hwkit grade --jobs {args.jobs} (the local pool) ...", flush=True)
        local_s, local_scores = hwkit_grade(copy_course(base, tmp / "local"), args.jobs, args.timeout)
        print(f"    {local_s:.1f} s (load average now {os.getloadavg()[0]:.2f})", flush=True)
        print(f"2/2 hwkit grade --scheduler {address} ...", flush=True)
        remote = copy_course(base, tmp / "dask")
        dask_s, dask_scores = hwkit_grade(remote, args.jobs, args.timeout, "--scheduler", address)
        print(f"    {dask_s:.1f} s (load average now {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    merge = merge_seconds(remote)
    differ = sorted(k for k in local_scores if local_scores[k] != dask_scores.get(k))
    print("\n================ hwkit grade: local pool vs Dask ================")
    print(f"class: {args.students} students x {notebooks} notebooks, cell timeout {args.timeout} s")
    print(f"local pool, {args.jobs} workers:         {local_s:8.1f} s")
    print(f"Dask, {'a local scheduler + ' + str(args.jobs) + ' workers' if procs else address}: {dask_s:8.1f} s")
    print(f"engine overhead: {100 * (dask_s / local_s - 1):+.1f}%  (bar: <= +10%)")
    print(f"gradebook merge: {1000 * merge:.0f} ms per student (caps the instructor's process at "
          f"{1 / merge:.0f} students/s)")
    print(f"scores identical: {'YES' if not differ else 'NO'} ({len(local_scores)} notebook results compared)")
    for key in differ[:10]:
        print(f"  differs: {key}: local {local_scores[key]} vs Dask {dask_scores.get(key)}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--course", type=Path, default=REPO,
                        help="take nbgrader_config.py, source/ and grader_tests/ from this course (default: this repo)")
    parser.add_argument("--scheduler", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help="compare the local pool with hwkit grade --scheduler instead (no nbgrader baseline): on "
                             "the cluster at ADDRESS, or, without it, on a scheduler and --jobs workers started here")
    args = parser.parse_args()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    tmp = Path(tempfile.mkdtemp(prefix="hwkit-bench-"))
    try:
        print(f"building a synthetic class of {args.students} students in {tmp} ...", flush=True)
        base = make_course(tmp / "base", args.students, args.course.resolve())
        notebooks = len(base.notebook_names())
        print(f"notebooks per student: {notebooks} ({', '.join(base.notebook_names())}); "
              f"cores: {os.cpu_count()}; load before start: {os.getloadavg()[0]:.2f}", flush=True)

        if args.scheduler:
            return cluster_benchmark(base, args, tmp, notebooks)
        print("1/3 serial nbgrader autograde ...", flush=True)
        serial_s, serial_scores, scratch = serial_nbgrader(copy_course(base, tmp / "serial" / "course"), args.timeout)
        print(f"    {serial_s:.1f} s (load average now {os.getloadavg()[0]:.2f})", flush=True)

        print(f"2/3 hwkit grade --jobs {args.jobs} ...", flush=True)
        hwkit_s, hwkit_scores = hwkit_grade(copy_course(base, tmp / "hwkit"), args.jobs, args.timeout)
        print(f"    {hwkit_s:.1f} s (load average now {os.getloadavg()[0]:.2f})", flush=True)

        print(f"3/3 bare nbclient execution of the same notebooks, {args.jobs} at a time ...", flush=True)
        bare_s, executed = bare_execution(scratch, base, args.jobs, args.timeout, tmp / "bare")
        print(f"    {bare_s:.1f} s for {executed} notebooks (load average now {os.getloadavg()[0]:.2f})", flush=True)

        differ = sorted(k for k in serial_scores if serial_scores[k] != hwkit_scores.get(k))
        n = args.students * notebooks
        print("\n================ hwkit grade benchmark ================")
        print(f"class: {args.students} students x {notebooks} notebooks = {n} notebooks, cell timeout {args.timeout} s")
        print(f"serial nbgrader (generate_assignment+autograde+feedback): {serial_s:8.1f} s  "
              f"({serial_s / n:.2f} s/notebook)")
        print(f"hwkit grade --jobs {args.jobs} (sandboxed, incl. merge):      {hwkit_s:8.1f} s  "
              f"({hwkit_s * args.jobs / n:.2f} core-s/notebook)")
        print(f"bare nbclient execution, {args.jobs} at a time:            {bare_s:8.1f} s  "
              f"({bare_s * args.jobs / executed:.2f} core-s/notebook)")
        print(f"speed-up hwkit grade vs serial nbgrader:  {serial_s / hwkit_s:.2f}x  (bar: >= 3x)")
        print(f"hwkit grade overhead over bare execution: {100 * (hwkit_s / bare_s - 1):+.1f}%  "
              f"({(hwkit_s - bare_s) * args.jobs / n:+.2f} s per notebook; bar: <= +20%)")
        print(f"scores identical (per student, notebook, question): {'YES' if not differ else 'NO'}"
              f" ({len(serial_scores)} notebook results compared)")
        for key in differ[:10]:
            print(f"  differs: {key}: nbgrader {serial_scores[key]} vs hwkit {hwkit_scores.get(key)}")
        print_judge_time(tmp / "hwkit", n)
        return 1 if differ else 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
