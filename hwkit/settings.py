"""The grading settings: one frozen object, built once (by the CLI from its options, or by a test)
and read by every step that runs student or instructor code: grading (worker.py: nbgrader's Execute
and the sandboxed executor), the judge's per-question limit, build verification and the cache
fingerprint (cache.py).

Each value has its one default here; the resource limits' defaults are those of `walls.Limits`,
which this object holds whole. A name means one unit everywhere: `cell_timeout` and
`notebook_timeout` are seconds of wall time. The command-line options that set them (`hwkit grade`,
`hwkit demo`) are registered here too, with their help, beside their defaults. The class report's similarity
threshold has its one default here too (SIMILARITY_THRESHOLD, read by similarity.SimilaritySettings and by the
option of `hwkit report`, which must not import the similarity code to show its help).
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, replace

from .walls import Limits

CELL_TIMEOUT = 20  # seconds a cell (and the judge's checks of one question) may run
NOTEBOOK_TIMEOUT = 300  # seconds all cells of one notebook may run together (sandboxed runs)
MAX_TIMEOUT = 24 * 3600  # the largest --timeout and --notebook-timeout: any value up to it works with any
                         # number of cells (the kernels' CPU rlimit is clamped, walls.Limits.cpu_seconds)
# The class report's similarity threshold (similarity.SimilaritySettings, `hwkit report --similarity-threshold`): the
# share of a student's own code matching another's from which the pair is listed (how it was chosen: its docstring).
SIMILARITY_THRESHOLD = 0.5
LIMIT_OPTIONS = ("memory_mb", "output_bytes")  # the fields of walls.Limits the command line can set


@dataclass(frozen=True)
class GradingSettings:
    """How student code is run and judged (picklable: it crosses into the grading workers)."""

    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = NOTEBOOK_TIMEOUT
    jobs: int | None = None  # students graded at once; None: one per core
    sandbox: bool = True  # False: student code runs without bubblewrap (--unsandboxed)
    limits: Limits = field(default_factory=Limits)  # memory, output and file caps of a notebook
    # Address space of a grading worker (nbgrader, the references, PyTorch: under 1 GB of it in use): a hostile
    # message that makes the judge allocate more fails there (that question lost), not the worker.
    worker_memory_mb: int = 4096
    scheduler: str | None = None  # a Dask scheduler's address (cluster.py); None: the local pool of `jobs` workers

    # Where and how many at once change no score.
    PLACEMENT = ("jobs", "scheduler")

    def fingerprint(self) -> str:
        """The settings that decide a grade, as text for the cache key (all but PLACEMENT: how many students are
        graded at once, and on which machines, changes no score)."""
        decisive = {key: value for key, value in asdict(self).items() if key not in self.PLACEMENT}
        return repr(sorted(decisive.items()))


def grading_settings(args: argparse.Namespace) -> GradingSettings:
    """The grading settings of a `grade` or `demo` command line (built once, read by every step)."""
    settings = GradingSettings(cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout, jobs=args.jobs,
                               sandbox=not args.unsandboxed, scheduler=args.scheduler)
    caps = {name: getattr(args, name) for name in LIMIT_OPTIONS if getattr(args, name) is not None}
    return replace(settings, limits=replace(settings.limits, **caps))


def cell_timeout_reason(seconds: float, what: str = "the cell", note: str = "") -> str:
    """Why `what` was stopped at the --timeout limit, and how to raise it (the observer, which cannot import
    hwkit in the sandbox, writes the same sentence)."""
    return (f"{what} ran longer than the {seconds:g} s limit (--timeout{note}); raise it with "
            f"hwkit grade --timeout {3 * seconds:g} if the answer is just slow")


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number (of seconds, workers, megabytes or bytes)")
    return value


def timeout_seconds(text: str) -> int:
    value = positive_int(text)
    if value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"{text} seconds is more than the largest limit, {MAX_TIMEOUT} (a day)")
    return value


class _LimitDefaults(argparse.HelpFormatter):
    """Shows the sandbox's default of a resource limit in --help, importing it (seconds: nbgrader,
    ZeroMQ) only when the help is printed."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.dest not in LIMIT_OPTIONS:
            return action.help
        return f"{action.help} (default {getattr(Limits, action.dest)})"


def add_grading_options(p: argparse.ArgumentParser) -> None:
    """The options of GradingSettings (settings.py), shared by `grade` and `demo`."""
    p.formatter_class = _LimitDefaults
    p.add_argument("--timeout", type=timeout_seconds, default=CELL_TIMEOUT,
                   help=f"seconds a cell may run, and the judge's checks of one question (default {CELL_TIMEOUT}, "
                        f"at most {MAX_TIMEOUT})")
    p.add_argument("--notebook-timeout", type=timeout_seconds, default=NOTEBOOK_TIMEOUT,
                   help=f"seconds all cells of one notebook may run together (default {NOTEBOOK_TIMEOUT}, at most "
                        f"{MAX_TIMEOUT}); past it the running cell is stopped and later cells are not run")
    p.add_argument("--jobs", "-j", type=positive_int, default=None,
                   help="students graded at once (default: number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on the Dask cluster of this scheduler (e.g. tcp://10.0.0.5:8786; see docs/cluster.md) "
                        "instead of this machine's own workers (the default)")
    p.add_argument("--memory-mb", type=positive_int, default=None,
                   help="megabytes of memory a notebook's kernel may use; past it the kernel dies and the cells "
                        "from there on lose their points")
    p.add_argument("--output-bytes", type=positive_int, default=None,
                   help="bytes of output (printed, displayed) a cell may send before it is stopped")
    p.add_argument("--unsandboxed", action="store_true",
                   help="run student code WITHOUT the bubblewrap sandbox (recorded in the grades file and summary); "
                        "without this flag, grading stops when bubblewrap is missing")
