"""A grading worker: one process, one scratch nbgrader course, many students one after another.

Runs nbgrader's own Autograde and GenerateFeedback in-process (no nbgrader start-up per
student), with the Execute step replaced by `SandboxedExecute` (kernel behind bubblewrap).
The worker's scratch gradebook is its own; the parent merges the results into the course
gradebook. Student code never runs in this process and cannot reach the scratch course.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
import warnings
from pathlib import Path

from .intake import Submission

_STATE: dict = {}


def init_worker(run_dir: str, template: str, timeout: int, jobs: int, grader_mount: str | None,
                env: dict[str, str], assignment: str) -> None:
    """Initializer of each pool process: its own scratch course copied from the template."""
    os.environ.clear()
    os.environ.update(env)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from traitlets.config.loader import PyFileConfigLoader

    scratch = Path(run_dir) / f"worker-{os.getpid()}"
    shutil.copytree(template, scratch, ignore=shutil.ignore_patterns("release"))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(scratch)).load_config()
    config.CourseDirectory.root = str(scratch)
    config.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    config.Execute.timeout = timeout
    if grader_mount:
        from .sandbox import SandboxedExecute

        config.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor,
                                                    LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
        config.SandboxedExecute.grader_mount = grader_mount
        config.SandboxedExecute.assignment = assignment
        config.SandboxedExecute.jobs = jobs
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # SQLAlchemy and nbformat chatter from nbgrader
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    _STATE.update(scratch=scratch, api=api, assignment=assignment, config=config)


def grade_student(submission: Submission, maxima: dict[str, dict[str, float]]) -> dict:
    """Autograde one student in this worker's scratch course; return scores and gradebook records."""
    from .grade import harvest_gradebook

    scratch: Path = _STATE["scratch"]
    assignment = _STATE["assignment"]
    started = time.monotonic()
    for kind in ("submitted", "autograded", "feedback"):
        shutil.rmtree(scratch / kind / submission.student, ignore_errors=True)
    folder = scratch / "submitted" / submission.student / assignment
    folder.mkdir(parents=True)
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, folder / name)  # under the expected name, even if renamed
    if submission.timestamp:
        (folder / "timestamp.txt").write_text(submission.timestamp)
    log = ""
    if submission.notebooks:
        api = _STATE["api"]
        done = api.autograde(assignment, submission.student, force=True, create=True)
        log += done.get("log", "") + (done.get("error") or "")
        if done.get("success"):
            feedback = api.generate_feedback(assignment, submission.student, force=True)
            log += feedback.get("log", "") + (feedback.get("error") or "")
    result = harvest_gradebook(scratch, assignment, submission, maxima)
    result.update(log=log if not result["notebooks"] and submission.notebooks else "",
                  seconds=time.monotonic() - started,
                  autograded=str(scratch / "autograded" / submission.student),
                  feedback=str(scratch / "feedback" / submission.student))
    return result
