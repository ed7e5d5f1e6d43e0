"""hwkit: build, verify and grade the course's nbgrader assignments (see README.md)."""

__version__ = "0.1.0"
