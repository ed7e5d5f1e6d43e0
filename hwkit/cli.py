"""Command line: `hwkit build`, `roster`, `grade`, `demo`, `otter-grade`, `lab`, `export`, `release-feedback`,
`report`.

Every command works on a course folder: the one `--course PATH` names (before or after the command),
else the folder hwkit runs in or the nearest one above it (see course.py for what marks one), and on
one assignment of it (`--assignment`, default: the course's own, course.default_assignment). A
mistake the user can fix raises CourseError: its one sentence goes to stderr and the exit code is 2,
without a traceback. Each command is a `cmd_*` function and a `_add_*` function that registers it (the
grading options of `grade` and `demo` are registered by settings.py, beside their defaults);
a command checks its course and input before importing what it runs (nbgrader and nbformat take
seconds to import), so a slip is reported at once. Whatever a student controls (ids, archive file
names, reasons) is printed `inert` (progress.py): control characters escaped.

Over 300 lines because every command is here, one `cmd_*` function and one `_add_*` registration each,
so that `hwkit --help` and this file list the same commands.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .course import CONFIG, Course, CourseError
from .progress import inert
from .settings import (
    CELL_TIMEOUT,
    NOTEBOOK_TIMEOUT,
    SIMILARITY_THRESHOLD,
    GradingSettings,
    add_grading_options,
    grading_settings,
    positive_int,
)

if TYPE_CHECKING:  # imported where needed: `hwkit --help` stays fast
    from .grade import GradeRun

USER_ERROR = 2  # the exit code of a mistake the user can fix (argparse's own errors use it too)
COURSE_HELP = "the course folder (default: the current folder or the nearest one above it)"
ASSIGNMENT_HELP = (f"the assignment's name (default: c.Hwkit.default_assignment in the course's {CONFIG}, or its "
                   "only assignment)")
STARTING = "hwkit grade: starting: loading nbgrader and the grading code"


def _grade_and_report(course: Course, settings: GradingSettings, archive: str | None = None,
                      archive_regex: str | None = None, times: dict | None = None) -> int:
    from .cluster import ClusterError
    from .grade import SandboxUnavailable, grade
    from .regrade import start_baseline

    started = time.time()
    baseline = start_baseline(course)  # before grading overwrites the records: the regrade report compares
    try:
        run = grade(course, settings, archive=Path(archive) if archive else None, archive_regex=archive_regex,
                    times=times)
    except (SandboxUnavailable, ClusterError) as error:
        print(f"hwkit grade: {error}", file=sys.stderr)
        return 2
    if not run.students() and not run.kept:  # nothing graded: no report files, not even empty ones
        for line in run.notes.get("(archive)", []):
            print(f"archive: {inert(line)}", file=sys.stderr)
        raise CourseError(f"--archive {archive} holds no notebook of a student (see the lines above): pass the zip "
                          "downloaded from the LMS, and --archive-regex if its files are named another way.")
    return report_run(course, run, time.time() - started, baseline)


def _require_submissions(course: Course, archive: str | None) -> None:
    """CourseError, before anything is prepared or written, when there is nothing to grade."""
    if archive is not None:
        if not Path(archive).is_file():
            raise CourseError(f"--archive {archive}: no such file; pass the zip downloaded from the LMS.")
        return
    folders = [p for p in course.submitted.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if course.submitted.is_dir() else []
    if not folders:
        state = "has no student folder" if course.submitted.is_dir() else "does not exist"
        raise CourseError(f"nothing to grade: {course.submitted} {state}; put each student's notebooks in "
                          f"submitted/<student_id>/{course.assignment}/, or pass --archive with an LMS download.")


def report_run(course: Course, run: GradeRun, seconds: float, baseline: dict | None = None) -> int:
    """Every report written from the gradebook (publish.py: grades-<assignment>.csv with the roster's
    non-submitters and the late penalties, the Canvas import file, the feedback pages and zips, the figure),
    the console table, what this run changed, the regrade report and the class report; the exit code: 0, or 1
    when a student could not be graded."""
    from .class_report import write_report
    from .gradebook_view import read_view
    from .publish import publish
    from .regrade import finish_baseline, report_regrade
    from .report import console_table

    view = read_view(course)
    view.cached, view.retried = run.cached, run.retried
    published = publish(course, view)
    print(console_table(view, course.assignment))
    for line in run.notes.get("(archive)", []):
        print(f"archive: {inert(line)}")
    for line in run.notes.get("(roster)", []):
        print(f"warning: {inert(line)}")
    late = sum(1 for lateness in view.late.values() if lateness.late)
    print(f"{late} student(s) late" + (" (the late penalty is in the table above)" if late else ""))
    print(inert(_changes(run)))
    for line in report_regrade(course, baseline or {}, view):
        print(inert(line))
    finish_baseline(course)  # a complete run: the next regrade report compares with this one
    class_page = write_report(course)  # last: the grade files above never wait for it
    missing = view.not_graded()
    graded = len(view.students()) - len(missing) - len(view.absent)
    print(f"\n{graded} student(s) graded ({len(run.students()) - len(run.cached)} in {seconds:.0f} s this run, "
          f"{len(run.cached)} unchanged since the last run, not regraded)"
          + (f"; {len(view.absent)} on the roster handed in nothing (0 points)" if view.absent else "")
          + f"; scores in {published.grades_csv}, for Canvas's gradebook import {published.canvas_csv.name}, "
          f"summary figure {published.figure.name}, feedback in {course.feedback}/<student>/{course.assignment}/"
          f"index.html, zipped in {course.root / 'feedback-release' / course.assignment}, class report {class_page}")
    if view.sandboxed is False:
        print("WARNING: student code ran WITHOUT a sandbox (--unsandboxed); the grades file records it")
    if missing:
        print(f"{len(missing)} student(s) NOT GRADED (no grade recorded; run hwkit grade again): "
              + "; ".join(inert(f"{student} ({why})") for student, why in missing.items()))
        return 1
    return 0


def _changes(run: GradeRun) -> str:
    """What this run changed: e.g. "submissions: 2 new, 1 replaced, 3 unchanged; 4 kept from earlier runs"."""
    parts = [f"{len(run.new)} new", f"{len(run.replaced)} replaced", f"{len(run.cached)} unchanged"]
    shown = [f"{student}: {why}" for student, why in list(run.kept.items())[:10]] + ["..."] * (len(run.kept) > 10)
    kept = f"; {len(run.kept)} graded before and kept (" + ", ".join(shown) + ")" if run.kept else ""
    return "submissions: " + ", ".join(parts) + kept


def course_of(args: argparse.Namespace, assignment_needed: bool = True) -> Course:
    """The course the command works on (--course, else found from the current folder upward); a misspelled
    --assignment ends here, in one sentence naming the course's assignments."""
    course = Course.find(args.course, args.assignment)
    if assignment_needed:
        from .assignment import load

        load(course)
    return course


# ---- the commands ----------------------------------------------------------------------------

def cmd_build(args: argparse.Namespace, cell_timeout: int = CELL_TIMEOUT) -> int:
    course = course_of(args)
    from .assignment import hidden_package, load

    model = load(course)
    if model.checks and not model.hidden:  # the build computes the checks' expected values from it
        raise CourseError(f"{course.grader_tests / hidden_package(model.checks)} is missing (the instructor-only "
                          f"references the checks of {model.checks_folder} need): restore it, e.g. with "
                          "`git checkout -- grader_tests`, then run hwkit build again.")
    from .build import BuildError, build

    try:
        for line in build(course, verify=not args.no_verify, cell_timeout=cell_timeout):
            print(line)
    except BuildError as error:
        print(f"hwkit build: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    course = course_of(args)
    from .policy import check_policy, due_date_line

    problems = check_policy(course)  # first: a slip in the policy or the roster costs no grading run
    for problem in problems:
        print(f"hwkit grade: {inert(str(problem))}", file=sys.stderr)
    if problems:
        return USER_ERROR
    _require_submissions(course, args.archive)  # before the imports: they take seconds
    times = _submission_times(args.submission_times, args.archive)
    print(STARTING, flush=True)
    print(due_date_line(course))
    return _grade_and_report(course, grading_settings(args), args.archive, args.archive_regex, times)


def _submission_times(path: str | None, archive: str | None) -> dict | None:
    """Canvas user id -> when handed in, from --submission-times (canvas_download.py); CourseError when unreadable."""
    if path is None:
        return None
    if archive is None:
        raise CourseError("--submission-times gives the times of a Canvas download: pass it with --archive.")
    from .canvas_download import TimesError, read_submission_times

    try:
        return read_submission_times(Path(path))
    except TimesError as error:
        raise CourseError(f"--submission-times {error}.") from None


def cmd_demo(args: argparse.Namespace) -> int:
    course = course_of(args)
    from .demo import make_demo_course

    settings = grading_settings(args)
    if cmd_build(args, settings.cell_timeout):
        return 1
    demo = make_demo_course(course, course.root / "demo-course")
    print(f"\nGrading example submissions in {demo.root} ...")
    print(STARTING, flush=True)
    return _grade_and_report(demo, settings)


def cmd_otter_grade(args: argparse.Namespace) -> int:
    """Grade a notebook, or a folder of notebooks, through the Otter archives of dist/ (`otter run`, no
    container); print each question's points and why it lost them. Exit 1 when a notebook was not graded."""
    course, path = course_of(args), Path(args.path)
    from .otter import console_lines, notebooks_under, otter_grade_all, user_error

    problem = user_error(course, path)
    if problem:
        raise CourseError(f"{problem}.")
    notebooks = notebooks_under(path)
    print(f"Grading {len(notebooks)} notebook(s) with Otter ({args.jobs} at a time) ...", flush=True)
    results = otter_grade_all(course, notebooks, args.jobs, args.notebook_timeout, args.timeout)
    base = path if path.is_dir() else path.parent
    for notebook, result in results.items():
        print("\n" + "\n".join(inert(line) for line in console_lines(str(notebook.relative_to(base)), result)))
    not_graded = sum(1 for result in results.values() if result.problem)
    print(f"\n{len(results) - not_graded} notebook(s) graded, {not_graded} not graded")
    return 1 if not_graded else 0


def cmd_lab(args: argparse.Namespace) -> int:
    from .lab import serve

    return serve(course_of(args), args.port, args.token, args.timeout)


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_grades

    return export_grades(course_of(args), Path(args.out) if args.out else None)


def cmd_report(args: argparse.Namespace) -> int:
    course = course_of(args)
    if not course.gradebook.is_file():
        raise CourseError(f"nothing graded yet: {course.gradebook} does not exist; run hwkit grade first.")
    from dataclasses import replace

    from .class_report import report_folder, write_report
    from .class_stats import gradebook_scores
    from .similarity import SimilaritySettings

    if not gradebook_scores(course).scores:
        raise CourseError(f"nothing graded yet for {course.assignment}: run hwkit grade --assignment "
                          f"{course.assignment} first.")
    page = write_report(course, replace(SimilaritySettings(), threshold=args.similarity_threshold))
    print(f"class report {page} (open it in a browser); questions.csv, mistakes.csv, exceptions.csv, pairs.csv in "
          f"{report_folder(course)}")
    return 0


def share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 (excluded) and 1, e.g. 0.5")
    return value


# ---- registering them ------------------------------------------------------------------------

def add_command(sub: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int],
                help: str) -> argparse.ArgumentParser:
    """Register the subcommand `name`, run by func(args); it takes --course after its name too."""
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--course", default=argparse.SUPPRESS, help=COURSE_HELP)  # SUPPRESS: keeps one given before
    after.add_argument("--assignment", default=argparse.SUPPRESS, help=ASSIGNMENT_HELP)
    parser = sub.add_parser(name, help=help, description=help, parents=[after])
    parser.set_defaults(func=func)
    return parser


def cmd_roster(args: argparse.Namespace) -> int:
    from .roster import RosterError, import_roster

    course = course_of(args, assignment_needed=False)  # the roster is the course's, not an assignment's
    try:
        ids = import_roster(course, Path(args.csv))
    except RosterError as error:
        for problem in error.problems:
            print(f"hwkit roster: {problem}", file=sys.stderr)
        return USER_ERROR
    print(f"{len(ids)} student(s) on the roster of {course.gradebook} (nbgrader db student import); "
          "`hwkit grade` lists who handed in nothing with 0 points")
    return 0


def cmd_release_feedback(args: argparse.Namespace) -> int:
    from .export import release_grades_feedback

    return release_grades_feedback(course_of(args))


def _add_roster(sub) -> None:
    p = add_command(sub, "roster", cmd_roster, "import the class roster (nbgrader db student import: a CSV with id, "
                    "first_name, last_name, email); who is on it and handed in nothing gets 0 points")
    p.add_argument("csv", help="the roster CSV file")


def _add_release_feedback(sub) -> None:
    add_command(sub, "release-feedback", cmd_release_feedback, "zip each student's feedback pages into "
                "feedback-release/<assignment>/<student>.zip, ready to upload to the LMS")


def _add_build(sub) -> None:
    p = add_command(sub, "build", cmd_build, "regenerate release/ and dist/ from source/ and verify them")
    p.add_argument("--no-verify", action="store_true", help="skip executing the notebooks")


def _add_grade(sub) -> None:
    p = add_command(sub, "grade", cmd_grade, "autograde submitted/*/<assignment> (or an LMS archive) into autograded/, "
                    "feedback/, gradebook.db, grades-<assignment>.csv, in parallel, student code sandboxed")
    add_grading_options(p)
    p.add_argument("--archive", help="an LMS download zip (nbgrader zip_collect naming, or Canvas's Download "
                   "Submissions zip as it is), graded beside submitted/")
    p.add_argument("--archive-regex", default=None,
                   help="regex for archive file names with (?P<student_id>...) and (?P<file_id>...) groups "
                        "(default: <assignment_>student_attempt_YYYY-MM-DD-HH-MM-SS_<file>, and Canvas's "
                        "<name>[_LATE]_<user id>_<attachment id>_<file>, matched to the roster's lms_user_id)")
    p.add_argument("--submission-times", help="with a Canvas --archive: the exact submission times, the JSON of "
                   "Canvas's Submissions API (or a CSV with user_id, submitted_at); without it a file marked LATE "
                   "counts as one started day late (docs/lms.md)")


def _add_demo(sub) -> None:
    p = add_command(sub, "demo", cmd_demo, "build, grade example submissions in demo-course/, print the scores")
    add_grading_options(p)
    p.add_argument("--no-verify", action="store_true", help=argparse.SUPPRESS)


def _add_otter_grade(sub) -> None:
    p = add_command(sub, "otter-grade", cmd_otter_grade, "grade a notebook, or a folder of notebooks (like otter "
                    "grade -p), through the Otter archives in dist/ with otter run (no container); prints the reasons")
    p.add_argument("path", help="a notebook, or a folder searched for notebooks (each graded by the archive of the "
                   "notebook its name contains, e.g. alice_Lab.ipynb by <assignment>-Lab-autograder.zip)")
    p.add_argument("--timeout", type=positive_int, default=CELL_TIMEOUT,
                   help="seconds a cell may run (default %(default)g), as in hwkit grade")
    p.add_argument("--notebook-timeout", type=positive_int, default=NOTEBOOK_TIMEOUT,
                   help="seconds the whole otter run of one notebook may take (default %(default)g); past it the "
                        "notebook is not graded")
    p.add_argument("--jobs", "-j", type=positive_int, default=1, help="notebooks graded at once (default %(default)s)")


def _add_lab(sub) -> None:
    p = add_command(sub, "lab", cmd_lab,
                    "start JupyterLab with nbgrader's formgrader on the course (loopback, token)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--token", default=os.environ.get("HWKIT_LAB_TOKEN"),
                   help="access token (default: $HWKIT_LAB_TOKEN, else a random one; prefer the variable, "
                        "a --token is visible to other users in the process list)")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for the server to start")


def _add_export(sub) -> None:
    p = add_command(sub, "export", cmd_export,
                    "write grades-<assignment>.csv from gradebook.db, including points given in formgrader")
    p.add_argument("--out", help="CSV file (default: grades-<assignment>.csv in the course)")


def _add_report(sub) -> None:
    p = add_command(sub, "report", cmd_report, "write the class report reports/<assignment>/index.html (per-question "
                    "statistics, common mistakes, exceptions, written answers, similar code) and its CSVs")
    p.add_argument("--similarity-threshold", type=share, default=SIMILARITY_THRESHOLD,
                   help="share of a student's own code matching another's from which the pair is listed "
                        "(default %(default)g)")


COMMANDS = (_add_roster, _add_build, _add_grade, _add_demo, _add_otter_grade, _add_lab, _add_export,
            _add_release_feedback, _add_report)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hwkit", description="Build, grade and export the course's homework. Run it "
                                  "anywhere inside the course folder, or pass --course PATH (see README.md).")
    top.add_argument("--course", default=None, help=COURSE_HELP)
    top.add_argument("--assignment", default=None, help=ASSIGNMENT_HELP)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CourseError as error:
        print(f"hwkit {args.command}: {error}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt as stop:  # Ctrl-C: one line, no traceback
        graded = f"{stop.graded} graded, " if hasattr(stop, "graded") else ""
        print(f"\nhwkit {args.command}: interrupted: {graded}run again to go on", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
