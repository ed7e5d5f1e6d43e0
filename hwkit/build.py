"""`hwkit build`: regenerate the student release from source/ and verify it.

Before the release, the build derives from the instructor notebooks what the judge and Otter need: the
hidden cases of each question (`write_hidden_cases`: the `cases=[...]` literal of the `check_hidden(question,
globals(), cases=[...])` call in each hidden block, so the notebooks are the one place to edit them) and the
public cases' expected values.

Verification fails loudly when: an autograded test fails on the instructor solution,
an autograded test passes on the untouched release, solution code, hidden tests or a
mark scheme reach release/, or a release notebook carries outputs.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .assignment import load as load_assignment
from .course import Course, nbgrader
from .execute import execute_many
from .notebooks import BadNotebook, autograde_scores, error_messages, grade_cells, has_outputs, read_notebook
from .settings import CELL_TIMEOUT
from .student_env import write_requirements

FORBIDDEN_IN_RELEASE = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                        "MARK SCHEME", "check_hidden")  # and the name of the assignment's hidden package
REGION = re.compile(r"(?:### BEGIN (SOLUTION|HIDDEN TESTS)|=== BEGIN MARK SCHEME ===)(.*?)"
                    r"(?:### END (?:SOLUTION|HIDDEN TESTS)|=== END MARK SCHEME ===)", re.S)

HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
HIDDEN_CASES_FILE = "hidden_cases.json"  # in the hidden package, beside the references that read it


# Seconds the judge gives one question of the instructor's own solution: it runs outside the sandbox,
# several notebooks at once, and a slow machine must not fail the build.
VERIFY_QUESTION_TIMEOUT = 60


class BuildError(Exception):
    """The release could not be built or failed verification; the message lists every problem."""


def write_hidden_cases(course: Course) -> None:
    """Collect each question's hidden cases from the hidden blocks of the instructor notebooks' test cells
    into <hidden package>/hidden_cases.json ({question: [cases]}, stable text for a readable diff); an
    assignment without a hidden package has none."""
    model = load_assignment(course)
    if not model.hidden:
        return
    cases: dict[str, list] = {}
    for notebook in model.notebooks:
        try:
            nb = read_notebook(course.source / notebook.name)
        except BadNotebook as exc:
            raise BuildError(f"{notebook.name} cannot be read ({exc}).") from None
        for cell in nb.cells:
            for block in HIDDEN_BLOCK.finditer(cell.source):
                where = f"{notebook.name}, cell {cell.metadata.get('nbgrader', {}).get('grade_id', cell.get('id'))}"
                question, settings = _hidden_call(block.group(1), where)
                if question in cases:
                    raise BuildError(f"{where}: the hidden cases of {question} are given twice; keep one block.")
                cases[question] = settings
    # questions sorted, one case a line with its settings in the notebook's order (the judge's labels show them)
    entries = [f" {json.dumps(q)}: [\n" + ",\n".join(f"  {json.dumps(case)}" for case in cases[q]) + "\n ]"
               for q in sorted(cases)]
    text = "{\n" + ",\n".join(entries) + "\n}\n"
    target = model.hidden_folder / HIDDEN_CASES_FILE
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)


def _hidden_call(block: str, where: str) -> tuple[str, list]:
    """The question and the `cases` literal of the hidden block's `check_hidden(question, globals(), cases=[...])`."""
    try:
        tree = ast.parse(block)
    except SyntaxError as exc:
        raise BuildError(f"{where}: the hidden block is not valid Python ({exc.msg}, line {exc.lineno}).") from None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check_hidden"]
    cases = [k.value for call in calls for k in call.keywords if k.arg == "cases"]
    if len(calls) != 1 or len(cases) != 1 or not calls[0].args:
        raise BuildError(f"{where}: the hidden block needs exactly one "
                         "`check_hidden(question, globals(), cases=[...])` call.")
    try:
        question, settings = ast.literal_eval(calls[0].args[0]), ast.literal_eval(cases[0])
    except ValueError:
        raise BuildError(f"{where}: the question and `cases=[...]` of check_hidden must be plain literals "
                         "(numbers, strings, lists, dicts), not expressions.") from None
    if not (isinstance(question, str) and isinstance(settings, list)
            and all(isinstance(case, dict) for case in settings)):
        raise BuildError(f"{where}: check_hidden needs a question name and `cases=` a list of dicts.")
    return question, settings


def write_public_expected(course: Course) -> None:
    """Regenerate the public cases' expected values of the assignment's checks package from the instructor's
    hidden package (an assignment without them has none)."""
    model = load_assignment(course)
    if not (model.checks and model.hidden):
        return
    script = (f"import json, {model.hidden}; "
              f"print(json.dumps({model.hidden}.public_expected(), indent=1, sort_keys=True))")
    env = course.env()
    env["PYTHONPATH"] = f"{course.source}:{env['PYTHONPATH']}"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    if done.returncode:
        raise BuildError(f"computing the public expected values failed:\n{done.stderr}")
    (model.checks_folder / "public_expected.json").write_text(done.stdout)


CODEC_HEADER = "# Generated by `hwkit build` from hwkit/wire.py (the one wire codec): do not edit here.\n"


def write_checks_codec(course: Course) -> None:
    """The wire codec in the assignment's checks package (`_wire.py`), so the students' own checks
    round-trip their observations exactly as the judge does."""
    checks = load_assignment(course).checks_folder
    if checks is not None:
        codec = CODEC_HEADER + (Path(__file__).with_name("wire.py")).read_text()
        target = checks / "_wire.py"
        if not target.is_file() or target.read_text() != codec:
            target.write_text(codec)


def generate_release(course: Course) -> None:
    """nbgrader generate_assignment: solutions stubbed, hidden tests removed, cells locked."""
    shutil.rmtree(course.release, ignore_errors=True)
    done = nbgrader(course.root, "generate_assignment", course.assignment, "--force", env=course.env())
    if done.returncode:
        raise BuildError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
    for pycache in course.release.rglob("__pycache__"):
        shutil.rmtree(pycache)


def secret_lines(source_nb: nbformat.NotebookNode) -> set[str]:
    """Distinctive lines of solutions, hidden tests and mark schemes in a source notebook
    (lines that also stand in its public parts, like a loop header or code quoted in the problem text,
    do not count)."""
    lines, public = set(), []
    for cell in source_nb.cells:
        if not (cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution")):
            public.append(REGION.sub("", cell.source))
        meta = cell.metadata.get("nbgrader", {})
        texts = [m.group(2) for m in REGION.finditer(cell.source)]
        if cell.cell_type == "markdown" and meta.get("solution") and not texts:
            texts = [cell.source]  # a written answer cell is replaced as a whole
        for text in texts:
            lines.update(line.strip() for line in text.splitlines() if len(line.strip()) >= 16)
    public_text = "\n".join(public)
    return {line for line in lines if line not in public_text}


def check_leaks(course: Course) -> list[str]:
    """Everything under release/ that students must not see."""
    problems = []
    hidden = load_assignment(course).hidden
    for path in sorted(course.release.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for marker in (*FORBIDDEN_IN_RELEASE, *([hidden] if hidden else [])):
            if marker in text:
                problems.append(f"{path.relative_to(course.root)} contains {marker!r}")
    for name in course.notebook_names():
        release_path = course.release / name
        if not release_path.exists():
            problems.append(f"release notebook {name} is missing")
            continue
        release_nb = nbformat.read(release_path, as_version=4)
        if has_outputs(release_nb):
            problems.append(f"release notebook {name} carries outputs")
        release_text = "\n".join(cell.source for cell in release_nb.cells)
        for line in secret_lines(nbformat.read(course.source / name, as_version=4)):
            if line in release_text:
                problems.append(f"release notebook {name} shows a solution/hidden line: {line[:70]!r}")
    return problems


def check_tests_decide(course: Course, jobs: int = 2, cell_timeout: int = CELL_TIMEOUT) -> list[str]:
    """Every autograded question passes on the instructor solution and fails on the untouched release,
    both in the notebook (the public check of each test cell, `cell_timeout` seconds each) and by the
    judge (public and hidden cases)."""
    problems = []
    names = course.notebook_names()
    with tempfile.TemporaryDirectory(prefix="hwkit-verify-") as tmp:
        copies = {kind: Path(tmp) / kind for kind in ("source", "release")}
        shutil.copytree(course.source, copies["source"], ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(course.release, copies["release"], ignore=shutil.ignore_patterns("__pycache__"))
        paths = [copies[kind] / name for kind in ("source", "release") for name in names]
        executed = execute_many(paths, course.env(), cell_timeout, jobs=jobs)
        verdicts = _judge_all(course, copies, names, jobs)
    for name, source_nb, release_nb in zip(names, executed[: len(names)], executed[len(names):]):
        source_scores, release_scores = autograde_scores(source_nb), autograde_scores(release_nb)
        for cell in grade_cells(source_nb):
            if not cell.auto:
                continue
            if source_scores.get(cell.grade_id) != cell.points:
                why = "; ".join(error_messages(source_nb, cell.grade_id)) or "stderr output"
                problems.append(f"{name}: the public check {cell.grade_id} fails on the instructor solution ({why})")
            if release_scores.get(cell.grade_id, 0) != 0:
                problems.append(f"{name}: the public check {cell.grade_id} passes on the untouched release")
        for cell in source_nb.cells:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors and not cell.metadata.get("nbgrader", {}).get("grade"):
                problems.append(f"{name}: cell {cell.get('id')} raises on the instructor solution: "
                                f"{errors[0].ename}: {errors[0].evalue}")
        for verdict in verdicts[("source", name)]:
            if not verdict.passed:
                problems.append(f"{name}: the judge fails the instructor solution: {verdict.message}")
        for verdict in verdicts[("release", name)]:
            if verdict.points:
                problems.append(f"{name}: the judge gives {verdict.question} points on the untouched release")
    return problems


def _judge_all(course: Course, copies: dict[str, Path], names: list[str], jobs: int) -> dict:
    """The judge's verdicts on the source and release notebooks (observers outside any sandbox: the
    instructor's own code)."""
    from concurrent.futures import ThreadPoolExecutor

    from .cell_judge import assignment_judge
    from .judge import Verdict, judge_unsandboxed, judged_cells

    reference = assignment_judge(course.source, course.grader_tests)
    env = {k: v for k, v in course.env().items() if k != "PYTHONPATH"}

    def one(job: tuple[str, str]) -> list[Verdict]:
        kind, name = job
        source_nb = nbformat.read(course.source / name, as_version=4)
        nb = nbformat.read(copies[kind] / name, as_version=4)
        questions = reference.questions(source_nb)
        return judge_unsandboxed(reference, copies[kind], judged_cells(nb, source_nb), questions,
                                 VERIFY_QUESTION_TIMEOUT, env)[0]

    jobs_list = [(kind, name) for kind in ("source", "release") for name in names]
    reference.prepare()  # before the threads share it
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(zip(jobs_list, pool.map(one, jobs_list)))


def build(course: Course, verify: bool = True, jobs: int = 2, cell_timeout: int = CELL_TIMEOUT) -> list[str]:
    """Regenerate release/ (and the Otter tests and archives) from source/; return what was checked (the
    notebooks run with `cell_timeout` seconds per cell)."""
    write_checks_codec(course)
    write_hidden_cases(course)
    write_public_expected(course)
    generate_release(course)
    try:
        requirements = write_requirements(course.release, course.assignment)
    except LookupError as error:  # an import no installed distribution provides
        raise BuildError(f"{error}.") from None
    from .otter import init_cell_problems, write_otter_artifacts  # the Otter route is built from the same checks

    written = write_otter_artifacts(course)
    report = [f"release written to {course.release.relative_to(course.root)} (what students install: "
              f"{requirements.relative_to(course.root)})"] + written
    if verify:
        problems = (check_leaks(course) + init_cell_problems(course)
                    + check_tests_decide(course, jobs=jobs, cell_timeout=cell_timeout))
        if problems:
            raise BuildError("verification failed:\n  - " + "\n  - ".join(problems))
        init_cells = ", each notebook's Otter init cell runs its own tests" if load_assignment(course).checks else ""
        report.append("verified: the solutions pass every autograded question (in the notebook and by the judge), "
                      f"the untouched release fails every one, nothing secret in release/, no outputs{init_cells}")
    return report
