"""hwkit: build, verify and grade the course's nbgrader assignments (see README.md)."""
import os
import sys

__version__ = "0.1.0"

# nbgrader shells out to `alembic` when it creates a gradebook: make the interpreter's own bin
# folder visible, so `.venv/bin/hwkit ...` works without an activated virtualenv.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join(p for p in (_BIN, os.environ.get("PATH")) if p)
