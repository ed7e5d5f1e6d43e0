"""What a student installs, and what runs without it: the release's requirements file, the sentence
that points to it in each notebook's first cell, and the guard that makes Otter's self-check optional.

`StudentSetup` is an nbgrader preprocessor of generate_assignment (nbgrader_config.py puts it before
LockCells): it runs wherever nbgrader builds the release, in `hwkit build` and in `hwkit grade`'s scratch
course alike, so the gradebook's copy of every locked cell, its checksum and the release agree. It adds
the install sentence to the first cell, and wraps each code cell that imports otter in a `try` that lets
the notebook run on without otter-grader ("Restart & Run All" runs every cell); grading is unaffected (the
cell is tagged `otter_ignore` for Otter's grading, and otter is importable in hwkit's sandbox).

`hwkit build` then writes `release/<assignment>/requirements.txt` (`write_requirements`) from what the
release imports: every third-party module of its notebooks and helper modules, mapped to its distribution
with the pin of this package's own dependencies (else the installed version); an import that only a guard
reaches (otter) is listed as optional, commented out. PyTorch comes from its CPU index: the plain index
gives Linux a multi-GB CUDA build. The Gradescope archive (otter.py) installs the same CPU build, on the same
Python (`python_version`).
"""
from __future__ import annotations

import ast
import io
import sys
import tokenize
from importlib import metadata
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS_FILE = "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
FRONT_END = "jupyter"  # the notebooks need a Jupyter to open them in, whatever they import
OPTIONAL_MODULE = "otter"  # Otter's self-check: the one import a student may leave out
SETUP_MARK = "**Before you start**"  # the install sentence begins with it (and is added once)


def python_version() -> str:
    """The Python the course is tested with: the lower bound of this package's `requires-python`."""
    bound = metadata.metadata("hwkit")["Requires-Python"] or f">={sys.version_info[0]}.{sys.version_info[1]}"
    return bound.split(",")[0].lstrip(">=~ ")


def setup_sentence(optional_otter: bool) -> str:
    text = (f"{SETUP_MARK}: this homework needs Python {python_version()} and the packages in "
            f"`{REQUIREMENTS_FILE}` beside this notebook: run `pip install -r {REQUIREMENTS_FILE}` (in a fresh "
            "virtual environment; it installs the CPU build of PyTorch).")
    if optional_otter:
        text += (" Otter's self-check cell (`grader.check`) is optional: without `otter-grader` installed it "
                 "says so and every other cell runs.")
    return text


# --- the guard around Otter's cells -------------------------------------------------------------

GUARD_END = f'''except ModuleNotFoundError as _missing:  # added by `hwkit build`: otter-grader is optional
    if _missing.name != "{OPTIONAL_MODULE}":
        raise
    print("Otter's self-check is off (otter-grader is not installed); every other cell works without it.")'''


def _top_imports(tree: ast.Module) -> set[str]:
    """Top-level module names imported outside any `try` (module level and in bodies of if/with/def)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def guard_optional_import(source: str) -> str:
    """`source` (a code cell) wrapped in a `try` that tolerates a missing otter, if it imports otter
    unguarded; else unchanged. Leading comments stay above the `try`; lines inside multi-line strings
    are not indented (their text must not change)."""
    try:
        if OPTIONAL_MODULE not in _top_imports(ast.parse(source)):
            return source
    except SyntaxError:  # magics and the like: not an Otter cell of ours
        return source
    lines = source.splitlines()
    head = 0
    while head < len(lines) and (not lines[head].strip() or lines[head].lstrip().startswith("#")):
        head += 1
    body = "\n".join(lines[head:])
    inside_strings = set()
    for token in tokenize.generate_tokens(io.StringIO(body).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            inside_strings.update(range(token.start[0] + 1, token.end[0] + 1))
    indented = [line if not line.strip() or number in inside_strings else "    " + line
                for number, line in enumerate(body.splitlines(), start=1)]
    return "\n".join([*lines[:head], "try:", *indented, GUARD_END])


class StudentSetup(NbGraderPreprocessor):  # enabled by default, unlike nbconvert's Preprocessor
    """nbgrader preprocessor (generate_assignment): the install sentence in the first cell, and
    Otter's cells guarded (see the module docstring)."""

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict) -> tuple[nbformat.NotebookNode, dict]:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = guard_optional_import(cell.source)
        sentence = setup_sentence(any(cell.cell_type == "code" and GUARD_END in cell.source for cell in nb.cells))
        if nb.cells and nb.cells[0].cell_type == "markdown":
            first = nb.cells[0]
            if SETUP_MARK not in first.source:
                first.source = first.source.rstrip("\n") + "\n\n" + sentence
        else:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(sentence))
        return nb, resources


# --- requirements --------------------------------------------------------------------------------

def _code_of(path: Path) -> list[str]:
    """The Python of a module, or of a notebook's code cells (IPython syntax made plain Python)."""
    if path.suffix == ".py":
        return [path.read_text()]
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    nb = nbformat.read(path, as_version=4)
    return [transform(cell.source) for cell in nb.cells if cell.cell_type == "code"]


def release_imports(release: Path, skip: tuple[str, ...] = ("tests",)) -> tuple[set[str], set[str]]:
    """(modules the release needs, modules only a guard reaches): third-party top-level names imported by
    its notebooks and helper modules (the Otter self-check files in `skip` are Otter's own)."""
    local = {p.stem for p in release.iterdir()}
    needed, everything = set(), set()
    for path in sorted(release.rglob("*")):
        if path.suffix not in (".py", ".ipynb") or path.relative_to(release).parts[0] in skip:
            continue
        for code in _code_of(path):
            tree = ast.parse(code)
            needed |= _top_imports(tree)
            everything |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            everything |= {n.module.split(".")[0] for n in ast.walk(tree)
                           if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    third_party = everything - local - set(sys.stdlib_module_names) - {"__future__"}
    return needed & third_party, third_party - needed


def runtime_requirements() -> list[str]:
    """This package's own runtime dependencies, as pinned in pyproject.toml (its test extras left out)."""
    return [r for r in metadata.requires("hwkit") or [] if "extra ==" not in r]


def pins() -> dict[str, Requirement]:
    """runtime_requirements by canonical distribution name."""
    return {canonicalize_name(r.name): r for r in map(Requirement, runtime_requirements())}


def distribution(module: str) -> str:
    names = metadata.packages_distributions().get(module)
    if not names:
        raise LookupError(f"the release imports {module}, which is not installed here: install it so that "
                          f"{REQUIREMENTS_FILE} can name it")
    return names[0]


def pinned(name: str) -> str:
    """A distribution with this package's own pin, else the installed version."""
    pin = pins().get(canonicalize_name(name))
    return str(pin) if pin else f"{name}=={metadata.version(name)}"


def student_requirements(release: Path, assignment: str) -> str:
    """The text of release/<assignment>/requirements.txt."""
    needed, optional = release_imports(release)
    required = sorted({pinned(distribution(m)) for m in needed} | {pinned(FRONT_END)}, key=str.lower)
    lines = [f"# What {assignment}'s notebooks need, with Python {python_version()}: "
             f"pip install -r {REQUIREMENTS_FILE}",
             "# Written by `hwkit build` from what the notebooks import; do not edit."]
    if any(Requirement(r).name == "torch" for r in required):
        lines += ["# PyTorch's CPU build (from the plain index, Linux would get a multi-GB CUDA build):",
                  f"--extra-index-url {TORCH_CPU_INDEX}"]
    lines += required
    for module in sorted(optional):
        lines += [f"# Optional ({module}): the notebooks run without it; install it to use its cells:",
                  f"# {pinned(distribution(module))}"]
    return "\n".join(lines) + "\n"


def write_requirements(release: Path, assignment: str) -> Path:
    target = release / REQUIREMENTS_FILE
    target.write_text(student_requirements(release, assignment))
    return target


def grading_requirements(requirements: list[str]) -> list[str]:
    """A grading container's requirements (Linux): torch pinned to its CPU build, from the CPU index."""
    out = []
    for line in requirements:
        requirement = Requirement(line)
        spec = next(iter(requirement.specifier), None)
        if requirement.name == "torch" and spec is not None and spec.operator == "==" and "+" not in spec.version:
            line = f"torch=={spec.version}+cpu"
        out.append(line)
    return ([f"--extra-index-url {TORCH_CPU_INDEX}"] if any(r.startswith("torch==") for r in out) else []) + out
