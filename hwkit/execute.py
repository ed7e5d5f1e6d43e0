"""Executing notebooks with nbclient, the way nbgrader does, for build-time verification."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

# No history file; no start-up chatter from the kernel on the terminal.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """Kernels inherit os.environ; set it for the duration of a batch of executions."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute_notebook(path: Path, timeout: int) -> NotebookNode:
    """Execute `path` in its own folder, errors allowed (as nbgrader's autograder does); `timeout`: seconds per cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            interrupt_on_timeout=True, extra_arguments=KERNEL_ARGUMENTS,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def execute_many(paths: Sequence[Path], env: dict[str, str], timeout: int, jobs: int = 2) -> list[NotebookNode]:
    """Execute several notebooks concurrently; results in the order of `paths`."""
    with _environ(env), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda p: execute_notebook(p, timeout), paths))
