"""nbgrader configuration for the course (run nbgrader and hwkit from this folder)."""
import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import LockCells

from hwkit.feedback import NBGRADER_TEMPLATES, TEMPLATES, GetGradesAndStatus, SanitizeFeedback
from hwkit.late import LatePolicy
from hwkit.student_env import StudentSetup

COURSE_ROOT = Path(__file__).resolve().parent
GRADER_TESTS = COURSE_ROOT / "grader_tests"

c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "cie6032"
# The assignment hwkit's commands work on when --assignment is not given.
c.Hwkit.default_assignment = "hw1"
# Generated or scratch files never go to students or into grading folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".OTTER_LOG"]
# The release says what to install (first cell) and runs without otter-grader (its Otter cell guarded): before
# the cells are locked and their checksums saved, so the gradebook and the release agree (hwkit/student_env.py).
_generate = GenerateAssignment.class_traits()["preprocessors"].default()
c.GenerateAssignment.preprocessors = [*_generate[:_generate.index(LockCells)], StudentSetup,
                                      *_generate[_generate.index(LockCells):]]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Test cells are restored from the gradebook even when a student deleted them.
c.OverwriteCells.add_missing_cells = True
# A looping cell costs its own points, not minutes of grading (nbgrader's default is 30 s).
c.Execute.timeout = 20
# No history file; no start-up chatter from the kernel on the terminal.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
# Feedback shows students why they lost points, never hidden tests, mark schemes or grader paths.
c.GenerateFeedback.preprocessors = [GetGradesAndStatus, SanitizeFeedback, CSSHTMLHeaderPreprocessor]
# hwkit's templates first (hwkit/templates): the feedback pages name each question and both they and formgrader
# typeset maths with a local MathJax (no CDN); nbgrader's own templates (formgrader's pages) after them.
c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
# What students wrote (Markdown, HTML, outputs) is cleaned wherever nbgrader renders it, in formgrader's
# pages and in the feedback HTML: it cannot run script in a TA's or student's browser (hwkit/safe_html.py).
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"markdown2html": "hwkit.safe_html.markdown2html", "clean_html": "hwkit.safe_html.clean_html"}
# Output metadata (image sizes, alt text) reaches tag attributes outside those filters: only well-formed values stay.
c.HTMLExporter.preprocessors = ["hwkit.safe_html.SanitizeOutputs"]

# Due dates and the late penalty (hwkit/late.py, an nbgrader LateSubmissionPlugin): a submission's time is
# its timestamp.txt or its LMS file name; write the due date in the same clock (a date without a UTC offset
# is read as UTC, as nbgrader does). The penalty is a percentage of the points earned, per started day late.
c.AssignLatePenalties.plugin_class = LatePolicy
c.LatePolicy.due_dates = {}  # assignment -> due date, e.g. {"hw1": "2024-03-08 23:59:59"}
c.LatePolicy.percent_per_day = 10.0
c.LatePolicy.max_percent = 50.0
# The Otter autograder archive of each assignment's main notebook is dist/<assignment>-autograder.zip (each
# other notebook's: dist/<assignment>-<notebook>-autograder.zip).
c.OtterArchives.main_notebook = {"hw1": "Planar_MLP.ipynb"}
# grades-canvas.csv fills an existing Canvas assignment when its id is given (else Canvas creates one).
c.CanvasExport.assignment_ids = {}  # e.g. {"hw1": "123456"}

# Kernels nbgrader starts itself find the instructor-only hw1_hidden package in grader_tests/ (the course's
# test cells no longer import it, but hidden test cells an instructor adds, as the benchmark's plain-nbgrader
# baseline does, still can). `hwkit grade` keeps it out of the sandbox: only its judge imports it.
if str(GRADER_TESTS) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(GRADER_TESTS), os.environ.get("PYTHONPATH")) if p)
