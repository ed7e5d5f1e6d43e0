"""Every limit is in one settings object handed whole to both sides of a grading worker (issue 21,
item 6; issue 24): the executor of the notebook (sandbox.py) and the judge ask for the same sandbox by
construction, whatever limit a GradingSettings changes; the time limits have documented maxima that
the command line enforces with a clear message. Fast: no sandbox is started."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from traitlets.config import Config

from hwkit import worker
from hwkit.forkserver import worker_server
from hwkit.sandbox import SandboxedExecute
from hwkit.settings import MAX_TIMEOUT, GradingSettings, add_grading_options, grading_settings
from hwkit.walls import Limits


def executor_for(grading: GradingSettings) -> SandboxedExecute:
    settings = worker.WorkerSettings(run_dir="/nonexistent", template="/nonexistent", workers=2,
                                     grader_mount="/nonexistent/grader", env={}, assignment="hw1",
                                     source="/nonexistent", grader_tests="/nonexistent", grading=grading)
    config = Config()
    worker._configure_execution(config, settings)
    return SandboxedExecute(config=config)


@pytest.mark.parametrize("limits", [Limits(pids=64), Limits(cpu_seconds=60, tmp_mb=64), Limits(cpus=0.5)])
def test_executor_and_judge_share_one_sandbox(limits: Limits) -> None:
    grading = GradingSettings(limits=limits, notebook_timeout=77)
    executor = executor_for(grading)
    judge_side = worker_server(Path("/nonexistent/grader"), "hw1", grading.limits, 2)  # as worker.judge_student
    assert executor._worker_server() is judge_side and judge_side.limits == limits
    assert executor.grading.notebook_timeout == 77
    # control: the executor's old way, Limits rebuilt from two of its fields, asked for another sandbox
    rebuilt = Limits(memory_mb=limits.memory_mb, output_bytes=limits.output_bytes)
    assert worker_server(Path("/nonexistent/grader"), "hw1", rebuilt, 2) is not judge_side


def test_time_limits_have_documented_maxima(capsys) -> None:
    parser = argparse.ArgumentParser()
    add_grading_options(parser)
    assert f"at most {MAX_TIMEOUT}" in parser.format_help().replace("\n", " ").replace("  ", " ")
    args = parser.parse_args(["--timeout", str(MAX_TIMEOUT), "--notebook-timeout", str(MAX_TIMEOUT)])
    assert grading_settings(args).cell_timeout == MAX_TIMEOUT
    for option in ("--timeout", "--notebook-timeout"):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([option, str(MAX_TIMEOUT + 1)])
        assert exit_.value.code == 2
        assert f"more than the largest limit, {MAX_TIMEOUT}" in capsys.readouterr().err
