"""Command line: `hwkit build`, `roster`, `grade`, `demo`, `otter-grade`, `lab`, `export`, `release-feedback`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .build import BuildError, build
from .course import ASSIGNMENT, Course


def _course(args: argparse.Namespace) -> Course:
    return Course.at(args.course, args.assignment)


def _grade_and_report(course: Course, timeout: int, jobs: int | None = None, archive: str | None = None,
                      archive_regex: str | None = None, unsandboxed: bool = False,
                      notebook_timeout: int = 300) -> int:
    from .grade import SandboxUnavailable, grade
    from .regrade import previous_scores

    started = time.time()
    previous = previous_scores(course)  # before grading overwrites them: the regrade report compares
    try:
        run = grade(course, timeout=timeout, jobs=jobs, archive=Path(archive) if archive else None,
                    archive_regex=archive_regex, sandbox=not unsandboxed, notebook_timeout=notebook_timeout)
    except SandboxUnavailable as error:
        print(f"hwkit grade: {error}", file=sys.stderr)
        return 2
    return report_run(course, run, time.time() - started, previous)


def report_run(course: Course, run, seconds: float, previous: dict | None = None) -> int:
    """grades.csv (with the roster's non-submitters and the late penalties), the Canvas import file, the
    summaries, the figure, the console table and the regrade report of a finished run; the exit code:
    0, or 1 when a student could not be graded."""
    from .regrade import report_regrade
    from .report import console_table, write_summaries, write_summary_figure
    from .term import complete_run, write_grade_files

    run = complete_run(course, run)
    grades_csv, canvas_csv = write_grade_files(course, run, course.root / "grades.csv")
    write_summaries(run, course)
    figure = write_summary_figure(run, course.root / "grades-summary.png")
    print(console_table(run))
    for line in run.notes.get("(archive)", []):
        print(f"archive: {line}")
    for line in report_regrade(course, previous or {}, run):
        print(line)
    missing = run.not_graded()
    graded = len(run.students()) - len(missing) - len(run.absent)
    print(f"\n{graded} student(s) graded in {seconds:.0f} s "
          f"({len(run.cached)} unchanged since the last run, not regraded)"
          + (f"; {len(run.absent)} on the roster handed in nothing (0 points)" if run.absent else "")
          + f"; scores in {grades_csv}, for Canvas's gradebook import {canvas_csv.name}, "
          f"summary figure {figure.name}, feedback in {course.feedback}/<student>/{course.assignment}/index.html")
    if run.sandboxed is False:
        print("WARNING: student code ran WITHOUT a sandbox (--unsandboxed); grades.csv records it")
    if missing:
        print(f"{len(missing)} student(s) NOT GRADED (no grade recorded; run hwkit grade again): "
              + "; ".join(f"{student} ({why})" for student, why in missing.items()))
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    course = _course(args)
    try:
        for line in build(course, verify=not args.no_verify):
            print(line)
    except BuildError as error:
        print(f"hwkit build: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    return _grade_and_report(_course(args), args.timeout, args.jobs, args.archive, args.archive_regex,
                             args.unsandboxed, args.notebook_timeout)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import make_demo_course

    course = _course(args)
    if cmd_build(args):
        return 1
    demo = make_demo_course(course, course.root / "demo-course")
    print(f"\nGrading example submissions in {demo.root} ...")
    return _grade_and_report(demo, args.timeout)


def cmd_otter_grade(args: argparse.Namespace) -> int:
    from .otter import archive_name, otter_grade

    course = _course(args)
    notebook = Path(args.notebook)
    archive = course.dist / archive_name(course, notebook.name)
    result = otter_grade(archive, notebook, course.env(), timeout=args.timeout)
    if result.problem:
        print(f"{notebook}: 0 points: {result.problem}")
        return 0
    for question, score in result.scores.items():
        print(f"{question:<32} {score:g} / {result.possible[question]:g}")
    print(f"{'total':<32} {result.total:g} / {sum(result.possible.values()):g}")
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    from .roster import RosterError, import_roster

    course = _course(args)
    try:
        ids = import_roster(course, Path(args.csv))
    except RosterError as error:
        print(f"hwkit roster: {error}", file=sys.stderr)
        return 1
    print(f"{len(ids)} student(s) on the roster of {course.gradebook} (nbgrader db student import); "
          "`hwkit grade` lists who handed in nothing with 0 points")
    return 0


def cmd_release_feedback(args: argparse.Namespace) -> int:
    from .release import release_feedback, release_folder

    course = _course(args)
    zips = release_feedback(course)
    if not zips:
        print(f"hwkit release-feedback: no feedback in {course.feedback}/<student>/{course.assignment}/: "
              "run `hwkit grade` first", file=sys.stderr)
        return 1
    print(f"{len(zips)} feedback zip(s), one per student (<student>.zip), in {release_folder(course)}: "
          "upload each to its student in the LMS")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hwkit", description=__doc__)
    parser.add_argument("--course", default=".", help="course folder (default: current folder)")
    parser.add_argument("--assignment", default=ASSIGNMENT, help=f"assignment name (default {ASSIGNMENT})")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("roster", help="import the class roster (nbgrader db student import: a CSV with id, "
                       "first_name, last_name, email); who is on it and handed in nothing gets 0 points")
    p.add_argument("csv", help="the roster CSV file")
    p.set_defaults(func=cmd_roster)
    p = sub.add_parser("release-feedback", help="zip each student's feedback pages into "
                       "feedback-release/<assignment>/<student>.zip, ready to upload to the LMS")
    p.set_defaults(func=cmd_release_feedback)
    p = sub.add_parser("build", help="regenerate release/ and dist/ from source/ and verify them")
    p.add_argument("--no-verify", action="store_true", help="skip executing the notebooks")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("grade", help="autograde submitted/<id>/<assignment> (or an LMS archive) into autograded/, feedback/, "
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
    p = sub.add_parser("otter-grade", help="grade one notebook through the Otter archive in dist/")
    p.add_argument("notebook")
    p.add_argument("--timeout", type=float, default=300, help="seconds for the whole notebook (default 300)")
    p.set_defaults(func=cmd_otter_grade)
    from .lab import add_lab_command  # `hwkit lab` and `hwkit export`; imports nbgrader lazily

    add_lab_command(sub)
    for subparser in sub.choices.values():  # --assignment also after the command
        subparser.add_argument("--assignment", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
