"""The grading settings: one frozen object, built once (by the CLI from its options, or by a test)
and read by every step that runs student or instructor code: grading (worker.py: nbgrader's Execute
and the sandboxed executor), the judge's per-question limit, build verification and the cache
fingerprint (cache.py).

Each value has its one default here; the resource limits' defaults are those of `sandbox.Limits`,
which this object holds whole. A name means one unit everywhere: `cell_timeout` and
`notebook_timeout` are seconds of wall time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sandbox import Limits

CELL_TIMEOUT = 20  # seconds a cell (and the judge's checks of one question) may run
NOTEBOOK_TIMEOUT = 300  # seconds all cells of one notebook may run together (sandboxed runs)


def default_limits() -> Limits:
    """The sandbox's default limits. Imported here, not at the top: sandbox.py loads nbgrader and ZeroMQ
    (seconds), and the CLI reads this module's defaults before it knows a command needs them."""
    from .sandbox import Limits

    return Limits()


@dataclass(frozen=True)
class GradingSettings:
    """How student code is run and judged (picklable: it crosses into the grading workers)."""

    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = NOTEBOOK_TIMEOUT
    jobs: int | None = None  # students graded at once; None: one per core
    sandbox: bool = True  # False: student code runs without bubblewrap (--unsandboxed)
    limits: Limits = field(default_factory=default_limits)  # memory, output and file caps of a notebook

    def fingerprint(self) -> str:
        """The settings that decide a grade, as text for the cache key (all but `jobs`: how many
        students are graded at once changes no score)."""
        decisive = {key: value for key, value in asdict(self).items() if key != "jobs"}
        return repr(sorted(decisive.items()))
