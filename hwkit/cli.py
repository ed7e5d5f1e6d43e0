"""Command line: `hwkit build`, `grade`, `demo`, `otter-grade`, `lab`, `export`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .build import BuildError, build
from .course import Course


def _grade_and_report(course: Course, timeout: int, jobs: int | None = None, archive: str | None = None,
                      archive_regex: str | None = None, unsandboxed: bool = False,
                      notebook_timeout: int = 300) -> int:
    from .grade import SandboxUnavailable, grade

    started = time.time()
    try:
        run = grade(course, timeout=timeout, jobs=jobs, archive=Path(archive) if archive else None,
                    archive_regex=archive_regex, sandbox=not unsandboxed, notebook_timeout=notebook_timeout)
    except SandboxUnavailable as error:
        print(f"hwkit grade: {error}", file=sys.stderr)
        return 2
    return report_run(course, run, time.time() - started)


def report_run(course: Course, run, seconds: float) -> int:
    """grades.csv, the summaries, the figure and the console table of a finished run; the exit code:
    0, or 1 when a student could not be graded."""
    from .report import console_table, write_grades_csv, write_summaries, write_summary_figure

    write_grades_csv(run, course.root / "grades.csv")
    write_summaries(run, course)
    figure = write_summary_figure(run, course.root / "grades-summary.png")
    print(console_table(run))
    for line in run.notes.get("(archive)", []):
        print(f"archive: {line}")
    missing = run.not_graded()
    print(f"\n{len(run.students()) - len(missing)} student(s) graded in {seconds:.0f} s "
          f"({len(run.cached)} unchanged since the last run, not regraded); scores in {course.root / 'grades.csv'}, "
          f"summary figure {figure.name}, feedback in {course.feedback}/<student>/{course.assignment}/index.html")
    if run.sandboxed is False:
        print("WARNING: student code ran WITHOUT a sandbox (--unsandboxed); grades.csv records it")
    if missing:
        print(f"{len(missing)} student(s) NOT GRADED (no grade recorded; run hwkit grade again): "
              + "; ".join(f"{student} ({why})" for student, why in missing.items()))
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    course = Course.at(args.course)
    try:
        for line in build(course, verify=not args.no_verify):
            print(line)
    except BuildError as error:
        print(f"hwkit build: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    return _grade_and_report(Course.at(args.course), args.timeout, args.jobs, args.archive, args.archive_regex,
                             args.unsandboxed, args.notebook_timeout)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import make_demo_course

    course = Course.at(args.course)
    if cmd_build(args):
        return 1
    demo = make_demo_course(course, course.root / "demo-course")
    print(f"\nGrading example submissions in {demo.root} ...")
    return _grade_and_report(demo, args.timeout)


def cmd_otter_grade(args: argparse.Namespace) -> int:
    """Grade a notebook, or a folder of notebooks, through the Otter archives of dist/ (`otter run`, no
    container); print each question's points and why it lost them. Exit 1 when a notebook was not graded."""
    from .otter import console_lines, notebooks_under, otter_grade_all, user_error

    course, path = Course.at(args.course), Path(args.path)
    problem = user_error(course, path)
    if problem:
        print(f"hwkit otter-grade: {problem}.", file=sys.stderr)
        return 2
    notebooks = notebooks_under(path)
    print(f"Grading {len(notebooks)} notebook(s) with Otter ({args.jobs} at a time) ...", flush=True)
    results = otter_grade_all(course, notebooks, args.jobs, args.notebook_timeout, args.timeout)
    base = path if path.is_dir() else path.parent
    for notebook, result in results.items():
        print("\n" + "\n".join(console_lines(str(notebook.relative_to(base)), result)))
    not_graded = sum(1 for result in results.values() if result.problem)
    print(f"\n{len(results) - not_graded} notebook(s) graded, {not_graded} not graded")
    return 1 if not_graded else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hwkit", description=__doc__)
    parser.add_argument("--course", default=".", help="course folder (default: current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="regenerate release/ and dist/ from source/ and verify them")
    p.add_argument("--no-verify", action="store_true", help="skip executing the notebooks")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("grade", help="autograde submitted/*/hw1 (or an LMS archive) into autograded/, feedback/, "
                       "gradebook.db, grades.csv, in parallel, student code sandboxed")
    p.add_argument("--timeout", type=int, default=20, help="seconds a cell may run (default 20)")
    p.add_argument("--notebook-timeout", type=int, default=300,
                   help="seconds all cells of one notebook may run together (default 300); past it the running "
                        "cell is stopped and later cells are not run")
    p.add_argument("--jobs", "-j", type=int, default=None, help="students graded at once (default: number of cores)")
    p.add_argument("--archive", help="an LMS download zip (nbgrader zip_collect naming), graded beside submitted/")
    p.add_argument("--archive-regex", default=None,
                   help="regex for archive file names with (?P<student_id>...) and (?P<file_id>...) groups "
                        "(default: <hw1_>student_attempt_YYYY-MM-DD-HH-MM-SS_<file>)")
    p.add_argument("--unsandboxed", action="store_true",
                   help="run student code WITHOUT the bubblewrap sandbox (recorded in grades.csv and the summary); "
                        "without this flag, grading stops when bubblewrap is missing")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("demo", help="build, grade example submissions in demo-course/, print the scores")
    p.add_argument("--timeout", type=int, default=20)
    p.add_argument("--no-verify", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_demo)
    from .otter import CELL_TIMEOUT, NOTEBOOK_TIMEOUT

    p = sub.add_parser("otter-grade", help="grade a notebook, or a folder of notebooks (like otter grade -p), "
                       "through the Otter archives in dist/ with otter run (no container); prints the reasons")
    p.add_argument("path", help="a notebook, or a folder searched for notebooks (each graded by the archive of the "
                   "notebook its name contains, e.g. alice_Planar_MLP.ipynb by hw1-autograder.zip)")
    p.add_argument("--timeout", type=float, default=CELL_TIMEOUT,
                   help="seconds a cell may run (default %(default)g), as in hwkit grade")
    p.add_argument("--notebook-timeout", type=float, default=NOTEBOOK_TIMEOUT,
                   help="seconds the whole otter run of one notebook may take (default %(default)g); past it the "
                        "notebook is not graded")
    p.add_argument("--jobs", "-j", type=int, default=1, help="notebooks graded at once (default %(default)s)")
    p.set_defaults(func=cmd_otter_grade)
    from .lab import add_lab_command  # `hwkit lab` and `hwkit export`; imports nbgrader lazily

    add_lab_command(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
