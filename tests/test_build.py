"""`hwkit build`: the committed release is the build's output, and verification can fail."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from hwkit.build import HIDDEN_CASES_FILE, BuildError, check_leaks, check_tests_decide, write_hidden_cases
from hwkit.course import Course, copy_course_files


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("assignment", ["hw1", "hw0"])
def test_committed_release_is_exactly_the_build_output(built_course: Course, assignment: str) -> None:
    assert _files(REPO / "release" / assignment) == _files(built_course.root / "release" / assignment)


@pytest.mark.parametrize("assignment", ["hw1", "hw0"])
def test_committed_generated_files_match_the_build(built_course: Course, assignment: str) -> None:
    """The Otter tests (from hw1's checks, from hw0's test cells), hw1's generated checks files and hidden cases."""
    assert _files(REPO / "grader_tests" / assignment) == _files(built_course.grader_tests / assignment)
    for path in ("source/hw1/hw1_checks/public_expected.json", "source/hw1/hw1_checks/_wire.py",
                 f"grader_tests/hw1_hidden/{HIDDEN_CASES_FILE}"):
        assert (REPO / path).read_text() == (built_course.root / path).read_text(), path


def test_committed_hidden_cases_are_the_notebooks_hidden_blocks(tmp_path: Path) -> None:
    """hw1_hidden's hidden cases are what the instructor notebooks' hidden blocks say (the build's first step)."""
    copy_course_files(REPO, tmp_path, ("source", "grader_tests"))
    course = Course(tmp_path, "hw1")
    (course.grader_tests / "hw1_hidden" / HIDDEN_CASES_FILE).unlink()
    write_hidden_cases(course)
    committed = (REPO / "grader_tests" / "hw1_hidden" / HIDDEN_CASES_FILE).read_text()
    assert (course.grader_tests / "hw1_hidden" / HIDDEN_CASES_FILE).read_text() == committed
    assert '"q4_predict": [' in committed and '{"flower": true, "seed": 33, "n_h": 4}' in committed


def _tiny_course(root: Path, test_cell: str) -> Course:
    """An assignment `hwx` with one test cell, an (empty) checks package and its (empty) hidden package."""
    (root / "source" / "hwx" / "hwx_checks").mkdir(parents=True)
    (root / "source" / "hwx" / "hwx_checks" / "__init__.py").write_text("")
    (root / "grader_tests" / "hwx_hidden").mkdir(parents=True)
    (root / "grader_tests" / "hwx_hidden" / "__init__.py").write_text("")
    meta = {"nbgrader": {"grade": True, "grade_id": "q_x", "points": 1, "solution": False, "locked": True,
                         "schema_version": 3}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(test_cell, metadata=meta)])
    nbformat.write(nb, root / "source" / "hwx" / "x.ipynb")
    return Course(root, "hwx")


@pytest.mark.parametrize(("block", "error"), [
    ("check_hidden('q_x', globals(), cases=[{'n': 3}, {'n': 4, 'label': 'odd'}])", None),
    ("check_hidden('q_x', globals())", "needs exactly one `check_hidden(question, globals(), cases=[...])` call"),
    ("assert x == 1", "needs exactly one `check_hidden(question, globals(), cases=[...])` call"),
    ("check_hidden('q_x', globals(), cases=[{'n': 2 ** 3}])", "must be plain literals"),
    ("check_hidden('q_x', globals(), cases=[{'n': 3}]", "is not valid Python"),
])
def test_hidden_cases_are_read_from_the_hidden_block(tmp_path: Path, block: str, error: str | None) -> None:
    course = _tiny_course(tmp_path, f"assert x == 1\n### BEGIN HIDDEN TESTS\n{block}\n### END HIDDEN TESTS")
    target = course.grader_tests / "hwx_hidden" / HIDDEN_CASES_FILE
    if error is None:
        write_hidden_cases(course)
        assert target.read_text() == '{\n "q_x": [\n  {"n": 3},\n  {"n": 4, "label": "odd"}\n ]\n}\n'
        return
    with pytest.raises(BuildError) as raised:
        write_hidden_cases(course)
    assert error in str(raised.value) and "x.ipynb, cell q_x" in str(raised.value)
    assert str(raised.value).count(". ") == 0 and not target.exists()  # one sentence, nothing written


def test_release_notebooks_are_clean_and_stubbed(built_course: Course) -> None:
    for name in built_course.notebook_names():
        nb = nbformat.read(built_course.release / name, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        assert any("raise NotImplementedError()" in c.source for c in nb.cells)
        assert not any("BEGIN HIDDEN TESTS" in c.source for c in nb.cells)


def _copy(course: Course, target: Path) -> Course:
    shutil.copytree(course.root, target, ignore=shutil.ignore_patterns("__pycache__", "autograded"))
    return Course.at(target)


def test_leak_check_finds_solution_hidden_tests_and_outputs(built_course: Course, tmp_path: Path) -> None:
    course = _copy(built_course, tmp_path / "course")
    assert check_leaks(course) == []
    path = course.release / "Planar_MLP.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("dW1 = dZ1 @ X.T / m"))
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, path)
    (course.release / "notes.py").write_text("from hw1_hidden import check_hidden\n")
    problems = "\n".join(check_leaks(course))
    assert "dW1 = dZ1 @ X.T / m" in problems
    assert "carries outputs" in problems
    assert "notes.py contains 'hw1_hidden'" in problems


def test_verification_fails_when_a_test_fails_on_the_solution(built_course: Course, tmp_path: Path) -> None:
    course = _copy(built_course, tmp_path / "course")
    for name in course.notebook_names():
        if name != "Planar_MLP.ipynb":
            (course.source / name).unlink()
            (course.release / name).unlink()
    path = course.source / "Planar_MLP.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "layer_sizes")
    cell.source = cell.source.replace("n_h = 4", "n_h = 5")
    nbformat.write(nb, path)
    problems = check_tests_decide(course)
    assert any("q4_layer_sizes fails on the instructor solution" in p for p in problems), problems
    assert not any("passes on the untouched release" in p for p in problems), problems


def test_otter_archive_holds_everything_a_grading_container_needs(built_course: Course) -> None:
    with zipfile.ZipFile(built_course.dist / "hw1-autograder.zip") as archive:
        names = set(archive.namelist())
        requirements = archive.read("environment.yml").decode()  # Otter folds requirements.txt in here
    for required in ("run_autograder", "setup.sh", "otter_config.json", "tests/q4_backward_propagation.py",
                     "files/planar_utils.py", "files/hw1_checks/__init__.py", "files/hw1_checks/public_expected.json",
                     "files/hw1_hidden/__init__.py", "files/hw1_hidden/planar_mlp.py",
                     f"files/hw1_hidden/{HIDDEN_CASES_FILE}"):
        assert required in names, required
    assert "otter-grader==7.0.0" in requirements
    assert not any(n.endswith(".ipynb") for n in names)


@pytest.mark.parametrize("archive", ["hw1-autograder.zip", "hw0-Warmup-autograder.zip"])
def test_gradescope_environment_is_the_tested_one(built_course: Course, archive: str) -> None:
    """Python 3.11 (pyproject's requires-python, what CI runs) and PyTorch's CPU build from its CPU index: on
    the plain index `torch==2.13.0` is a multi-GB CUDA build, and `+cpu` exists on the CPU index only."""
    import yaml

    with zipfile.ZipFile(built_course.dist / archive) as zf:
        environment = yaml.safe_load(zf.read("environment.yml"))
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip
    assert [r for r in pip if r.startswith("torch")] == ["torch==2.13.0+cpu"]


@pytest.mark.parametrize("assignment", ["hw1", "hw0"])
def test_release_says_what_to_install(built_course: Course, assignment: str) -> None:
    """release/<assignment>/requirements.txt, from what the notebooks import, and a sentence pointing to it in
    each notebook's first cell; otter-grader optional (commented out) where an Otter cell is guarded."""
    release = built_course.root / "release" / assignment
    lines = (release / "requirements.txt").read_text().splitlines()
    required = [line for line in lines if line and not line.startswith("#")]
    assert required[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert {"torch==2.13.0", "numpy<3,>=1.26", "jupyter>=1.0"} <= set(required)
    assert ("matplotlib>=3.8" in required) == (assignment == "hw1")  # hw0 does not plot
    assert not [line for line in required if line.startswith("otter")]
    assert ("# otter-grader==7.0.0" in lines) == (assignment == "hw1")
    for path in sorted(release.glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source
        assert "Python 3.11" in first and "`pip install -r requirements.txt`" in first, path.name
        assert ("otter-grader" in first) == (assignment == "hw1"), path.name


def test_only_public_cases_reach_students(built_course: Course) -> None:
    public = sorted((built_course.release / "tests").rglob("*.py"))
    assert public, "release/hw1/tests/<notebook>/ holds the Otter self-check files"
    assert {p.parent.name for p in public} == {Path(n).stem for n in built_course.notebook_names()}
    for path in public:
        text = path.read_text()
        assert "hidden=False" in text and "hidden=True" not in text and "hw1_hidden" not in text
    full = (built_course.grader_tests / "hw1" / "q4_backward_propagation.py").read_text()
    assert "hidden=True" in full and "all_or_nothing = True" in full


@pytest.mark.parametrize("marker",
                         ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "MARK SCHEME", "hw1_hidden", "check_hidden"])
def test_nothing_secret_anywhere_in_the_committed_release(marker: str) -> None:
    for path in (REPO / "release").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert marker not in path.read_text(errors="replace"), path


def test_points_add_up_to_the_handout() -> None:
    from hwkit.notebooks import grade_cells, read_notebook

    course = Course.at(REPO)
    totals = {name: sum(c.points for c in grade_cells(read_notebook(course.source / name)))
              for name in course.notebook_names()}
    assert totals == {"Planar_MLP.ipynb": 30, "Problem1_Softmax_CrossEntropy.ipynb": 15,
                      "Problem2_Decision_Regions.ipynb": 25, "Problem3_Siamese_Nets.ipynb": 30}
    assert sum(totals.values()) == 100


def test_students_self_check_public_cases_with_otter(built_course: Course, tmp_path: Path) -> None:
    """In the release folder, the notebook's own Otter init cell gives a `grader` whose check(q) runs the
    public cases and says what failed, and leaves no log file beside the notebook."""
    from nbclient import NotebookClient

    from hwkit.demo import filled_release

    folder = tmp_path / "student"
    shutil.copytree(built_course.release, folder)

    def wrong(grade_id: str, text: str) -> str:
        return text.replace("n_h = 4", "n_h = 5") if grade_id == "layer_sizes" else text

    nb = filled_release(built_course, "Planar_MLP.ipynb", wrong)
    nb.cells = [c for c in nb.cells if c.get("id") in ("setup", "otter_init", "layer_sizes", "initialize_parameters")]
    nb.cells.append(nbformat.v4.new_code_cell(
        'print(grader.check("q4_layer_sizes"))\nprint(grader.check("q4_initialize_parameters"))'))
    NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert "layer_sizes returned (5, 5, 2)" in text and "The hidden layer has n_h = 4 units" in text
    assert "q4_initialize_parameters passed!" in text or "All test cases passed" in text, text
    assert not (folder / ".OTTER_LOG").exists()
