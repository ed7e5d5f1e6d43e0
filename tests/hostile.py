"""A corpus of hostile and broken Planar_MLP submissions, built from the release notebook.

Each entry: student id -> (how to make the submission folder, which questions it loses, a
word that must appear in its reasons). Notebooks are the release with the instructor's
answers typed in (hwkit.demo.filled_release) plus one planted fault.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

from hwkit.course import Course
from hwkit.demo import filled_release
from hwkit.walls import Limits

PLANAR = "Planar_MLP.ipynb"


def prepend(grade_id: str, code: str) -> Callable[[str, str], str]:
    """An edit for filled_release: `code` runs at the start of the solution cell `grade_id`."""
    def edit(cell_id: str, text: str) -> str:
        return f"{code}\n{text}" if cell_id == grade_id else text
    return edit


def replaced(grade_id: str, old: str, new: str) -> Callable[[str, str], str]:
    """An edit for filled_release: `old` becomes `new` in the solution cell `grade_id`."""
    def edit(cell_id: str, text: str) -> str:
        return text.replace(old, new) if cell_id == grade_id else text
    return edit


def tests_from(course: Course, grade_id: str) -> set[str]:
    """The test cells at or after the solution cell `grade_id` (a kernel that dies there loses them)."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(course.release / PLANAR, 4).cells]
    later = ids[ids.index(grade_id):]
    return {i for i in later if i and i.startswith("q4_")}


def without_test_cell(course: Course, grade_id: str) -> nbformat.NotebookNode:
    nb = filled_release(course, PLANAR)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def with_edited_test(course: Course) -> nbformat.NotebookNode:
    """A wrong layer_sizes and a test cell rewritten to claim success: the test is restored."""
    def edit(cell_id: str, text: str) -> str:
        return text.replace("n_h = 4", "n_h = 7") if cell_id == "layer_sizes" else text
    nb = filled_release(course, PLANAR, edit)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q4_layer_sizes":
            cell.source = 'print("all tests passed")'
    return nb


def snooper(course: Course) -> str:
    """Code that tries to read what it must not: instructor notebooks, hidden tests, the gradebook,
    other students' work (by absolute and by relative paths). It records what it could read."""
    root = str(course.root)
    targets = [f"{root}/source/hw1/{PLANAR}", f"{root}/source/hw1/hw1_checks/__init__.py",
               f"{root}/grader_tests/hw1_hidden/planar_mlp.py", f"{root}/grader_tests/hw1/q4_layer_sizes.py",
               f"{root}/gradebook.db", f"{root}/nbgrader_config.py",
               f"{root}/submitted/reference/hw1/{PLANAR}", f"{root}/autograded/reference/hw1/{PLANAR}",
               f"../../../source/hw1/{PLANAR}", "../../../gradebook.db", f"../../reference/hw1/{PLANAR}",
               f"../../../submitted/reference/hw1/{PLANAR}", "/etc/shadow", "/root/.bash_history"]
    return ("import glob as _glob\n_leaks = []\n"
            f"for _p in {targets!r}:\n"
            "    try:\n        open(_p, 'rb').read(16); _leaks.append(_p)\n    except OSError:\n        pass\n"
            "for _top in ('/home', '/tmp', '/opt', '/var', '/root', '/run', '/mnt', '/srv', '/work'):\n"
            "    _leaks += [p for p in _glob.glob(_top + '/**/*.ipynb', recursive=True) if '/.venv/' not in p]\n"
            "    _leaks += _glob.glob(_top + '/**/gradebook.db', recursive=True)\n"
            "print('LEAKS:', _leaks)")


def vandal(course: Course) -> str:
    """Code that tries to write grade files and other people's files; it records what it could write."""
    root = str(course.root)
    targets = [f"{root}/gradebook.db", f"{root}/grades.csv", f"{root}/autograded/reference/hw1/{PLANAR}",
               f"{root}/submitted/reference/hw1/{PLANAR}", f"{root}/submitted/vandal/hw1/{PLANAR}",
               f"{root}/source/hw1/planted.py", f"{root}/hacked.txt", "../../../gradebook.db",
               "../../../grades.csv", "/opt/hwkit-grader/hw1_hidden/__init__.py", "/usr/planted.txt"]
    return ("_wrote = []\n"
            f"for _p in {targets!r}:\n"
            "    try:\n        open(_p, 'ab').write(b'0 points for everybody'); _wrote.append(_p)\n"
            "    except OSError:\n        pass\n"
            "open('scratch_note.txt', 'w').write('my own folder is writable')\n"
            "print('WROTE:', _wrote)")


# Output that nbclient stores without passing it through its `output` hook (issue 13): display
# updates rewrite earlier outputs, widget (comm) state and buffers go to the notebook's metadata.
DISPLAY_UPDATE_FLOOD = ("from IPython.display import display\n_h = display('x', display_id=True)\n"
                        "for _i in range(10**6):\n    _h.update('u' * 100_000 + str(_i))")
WIDGET_FLOOD = ("from ipykernel.comm import Comm\n"
                "_c = Comm(target_name='jupyter.widget', data={'state': {'_model_module': 'm', '_model_name': 'M'}, "
                "'buffer_paths': []})\nfor _i in range(10**6):\n"
                "    _c.send({'method': 'update', 'state': {f'k{_i}': 'w' * 1000}, 'buffer_paths': [['b']]}, "
                "buffers=[bytes(100_000)])")


def notebook_flood(cell_id: str, text: str) -> str:
    flooded = ("layer_sizes", "initialize_parameters", "forward_propagation", "compute_cost", "backward_propagation",
               "update_parameters")
    return f"print('n' * 950_000)\n{text}" if cell_id in flooded else text


SABOTEUR = r"""
import os, signal, time
known = {p for p in os.listdir('/proc') if p.isdigit()}
startup = '/tmp/ipython/profile_default/startup'
deadline = time.time() + 600
while time.time() < deadline:
    for pid in {p for p in os.listdir('/proc') if p.isdigit()} - known - {str(os.getpid())}:
        try:
            os.kill(int(pid), signal.SIGKILL)  # any kernel started after this one
        except OSError:
            pass
    try:
        os.makedirs(startup, exist_ok=True)
        open(startup + '/00-sabotage.py', 'w').write('import os\nos._exit(1)\n')
        open('planar_utils.py', 'w').write('raise SystemExit("sabotaged")\n')
        open('/dev/shm/sabotage', 'w').write('x')
    except OSError:
        pass
    time.sleep(0.05)
"""


def saboteur(course: Course) -> str:
    """Code that leaves a detached process behind (new session, double fork) to kill the kernels of
    the notebooks graded after it and to plant files in their folder and /tmp (an IPython start-up
    file that exits the kernel): the worker's sandbox must be clean before the next notebook."""
    program = f"import os\nif os.fork() == 0:\n    os.setsid()\n    exec({SABOTEUR!r})\n"
    return ("import subprocess as _sp, sys as _sys\n"
            f"_sp.Popen([_sys.executable, '-c', {program!r}], start_new_session=True,"
            " stdout=_sp.DEVNULL, stderr=_sp.DEVNULL).wait()")


# Per-notebook walls (issue 13): each process alone stays under its rlimits, the notebook's processes
# together do not. Bounded, so that even without the wall they cannot take the machine down.
MEMORY_HOGS = """import subprocess as _sp, sys as _sys, time as _time
_hog = 'import sys; x = b"1" * (1900 * 2**20); sys.stdin.read()'  # 4 x 1.9 GB: more than the notebook's 6 GB
_hogs = [_sp.Popen([_sys.executable, '-c', _hog], stdin=_sp.PIPE) for _ in range(4)]
try:
    while all(_p.poll() is None for _p in _hogs):  # until the wall kills one
        _time.sleep(0.1)
finally:
    for _p in _hogs:
        _p.kill()
print([_p.wait() for _p in _hogs])"""
FORK_BOMB = r"""
import os, signal
kids = []
try:
    while len(kids) < 3000:
        pid = os.fork()
        if pid == 0:
            signal.pause()
        kids.append(pid)
except OSError as exc:
    print('forked', len(kids), exc)
for pid in kids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""
# a small process forks (a fork of the kernel copies its page tables: thousands would cost gigabytes)
FORK_BOMB_CELL = f"import subprocess as _sp, sys as _sys\n_sp.run([_sys.executable, '-c', {FORK_BOMB!r}])"
DISK_FILLER = "for _i in range(4):  # 4 x 200 MB: each under the 256 MB file limit, together more than the folder\n" \
              "    open(f'filler{_i}.bin', 'wb').write(b'0' * (200 * 2**20))"


# ---- cheating: the untouched release (no answer at all) plus code that tries to take the points anyway.
# Each route was shown to give full marks while the hidden checks ran inside the student's kernel
# (issue 11); with the judge outside, each must score exactly what the untouched release scores.
CHEATS: dict[str, str] = {
    "cheat_patched_checks": """
import sys, hw1_checks
_passed = lambda *args, **kwargs: "all cases passed"
for _module in list(sys.modules.values()):
    for _name in ("check", "check_hidden", "judge_observed", "run_local"):
        if hasattr(_module, _name) and "check" in getattr(_module, "__name__", ""):
            setattr(_module, _name, _passed)
check = _passed
""",
    "cheat_shadow_packages": """
import importlib, os, sys
for _package in ("hw1_hidden", "hw1_checks", "_hwkit_trusted_checks", "hwkit_observer"):
    os.makedirs(_package, exist_ok=True)
    with open(os.path.join(_package, "__init__.py"), "w") as _file:
        _file.write("def check(*a, **k):\n    return 'passed'\ncheck_hidden = check\n")
    sys.modules.pop(_package, None)
importlib.invalidate_caches()
from hw1_checks import check
""",
    "cheat_input_transformer": """
def _skip_tests(lines):
    return ["pass\n"] if any("check(" in line for line in lines) else lines
get_ipython().input_transformers_post.append(_skip_tests)
""",
    "cheat_fake_result": """
_kernel = get_ipython().kernel
def _full_marks(info):
    _kernel.session.send(_kernel.iopub_socket, "execute_result",
                         {"data": {"text/plain": "'all tests passed'"}, "metadata": {}, "execution_count": 1},
                         parent=_kernel.get_parent("shell"))
get_ipython().events.register("pre_run_cell", _full_marks)
get_ipython().input_transformers_post.append(lambda lines: ["pass\n"] if any("check(" in l for l in lines) else lines)
""",
    "cheat_frame_reader": """
import gc, sys
def _steal(*keys):
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and all(key in value for key in keys):
                return value
        frame = frame.f_back
    for value in gc.get_objects():
        if isinstance(value, dict) and all(key in value for key in keys):
            return value
    raise LookupError("nothing to steal")
def layer_sizes(X, Y):
    return tuple(_steal("sizes")["sizes"])
def initialize_parameters(n_x, n_h, n_y):
    found = _steal("W1", "b1", "W2", "b2")
    return {key: found[key] for key in ("W1", "b1", "W2", "b2")}
def forward_propagation(X, parameters):
    found = _steal("Z1", "A1", "Z2", "A2")
    return found["A2"], {key: found[key] for key in ("Z1", "A1", "Z2", "A2")}
def compute_cost(A2, Y, parameters):
    return float(_steal("cost")["cost"])
def backward_propagation(parameters, cache, X, Y):
    found = _steal("dW1", "db1", "dW2", "db2")
    return {key: found[key] for key in ("dW1", "db1", "dW2", "db2")}
""",
    "cheat_reference_reuse": """
import importlib, sys
sys.path[:0] = ["/opt/hwkit-grader", "../../../grader_tests"]
try:
    _reference = importlib.import_module("hw1_hidden.planar_mlp")
    forward_propagation = _reference.forward_propagation
    compute_cost = lambda A2, Y, parameters: _reference.compute_cost(A2, Y)
    TorchMLP = _reference.TorchMLP
except Exception as exc:
    print("no reference:", type(exc).__name__)
""",
    "cheat_asarray_swap": """
import numpy as np
def compute_cost(A2, Y, parameters):
    np.asarray = lambda value, *args, **kwargs: np.array(0.5)  # every later comparison sees 0.5
    np.allclose = np.isclose = lambda *a, **k: True
    return 0.5
def forward_propagation(X, parameters):
    np.ndarray.__eq__ = lambda self, other: True
    return np.zeros((1, X.shape[1])), {}
""",
    "cheat_observer_lies": """
import sys
def _lie(question, env, inputs, helpers):
    return {"sizes": {"value": (5, 4, 2)}}  # the public case's answer: all a liar without an implementation knows
for _name, _module in list(sys.modules.items()):
    if _name.endswith("_judging") and hasattr(_module, "observe_safely"):
        _module.observe_safely = _lie
""",
}


def untouched_with(code: str) -> Maker:
    """The untouched release with `code` in a cell of its own after the first solution cell (hooks act on
    every later cell) and again at the end (its definitions replace the release's)."""
    def write(course: Course, folder: Path) -> None:
        nb = nbformat.read(course.release / PLANAR, 4)
        first = next(i for i, c in enumerate(nb.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "layer_sizes")
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(code))
        nb.cells.append(nbformat.v4.new_code_cell(code))
        nbformat.write(nb, folder / PLANAR)
    return write


ALL = "all"  # marker: every question of the notebook is lost
ANY = "any"  # marker: the submission's own score is not checked (it sabotages its own judging)

# student -> (maker(course, folder) writing the submission, lost questions (set, ALL or a callable), reason word)
Maker = Callable[[Course, Path], None]


def notebook(make: Callable[[Course], nbformat.NotebookNode], name: str = PLANAR) -> Maker:
    def write(course: Course, folder: Path) -> None:
        nbformat.write(make(course), folder / name)
    return write


def raw(content: bytes, name: str = PLANAR) -> Maker:
    def write(course: Course, folder: Path) -> None:
        (folder / name).write_bytes(content)
    return write


def planted(grade_id: str, code: str | Callable[[Course], str]) -> Maker:
    return notebook(lambda c: filled_release(c, PLANAR, prepend(grade_id, code(c) if callable(code) else code)))


LAYER_SIZES_LOST = {"q4_layer_sizes"}  # questions are isolated: nn_model is checked with stand-in helpers
# An exception message a terminal would act on: clear the screen, set the clipboard (OSC 52), back to the
# line's start (CR) and a forged score line (tests/test_console_inert.py reads the console).
TERMINAL_ESCAPES = "\x1b[2J\x1b]52;c;cHduZWQ=\x07\rterminal_escapes  30/30 (full marks)"

CORPUS: dict[str, tuple[Maker, object, str]] = {
    "endless_loop": (planted("layer_sizes", "while True:\n    pass"), LAYER_SIZES_LOST, "CellTimeoutError"),
    "ignores_interrupt": (planted("predict", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                             "while True:\n    time.sleep(0.1)"),
                          lambda c: tests_from(c, "predict"), "did not stop"),
    "os_exit": (planted("predict", "import os\nos._exit(1)"), lambda c: tests_from(c, "predict"), "kernel died"),
    "sys_exit": (planted("layer_sizes", "import sys\nsys.exit(3)"), LAYER_SIZES_LOST, "SystemExit"),
    "terminal_escapes": (planted("layer_sizes", f"raise ValueError({TERMINAL_ESCAPES!r})"), LAYER_SIZES_LOST,
                         "ValueError"),
    # an answer that raises costs its own question only: nn_model and predict are checked with stand-ins
    "raises_in_forward": (notebook(lambda c: filled_release(c, PLANAR, replaced(
        "forward_propagation", 'parameters["W1"]', 'parameters["W3"]'))), {"q4_forward_propagation"}, "KeyError"),
    "huge_allocation": (planted("layer_sizes", "_hog = bytearray(8 * 2**30)  # fine without a limit (lazy pages), "
                                               "refused under RLIMIT_AS"), LAYER_SIZES_LOST, "MemoryError"),
    "output_flood": (planted("layer_sizes", "for _i in range(10**8):\n    print('flood', _i, 'x' * 100)"),
                     LAYER_SIZES_LOST, "OutputLimitExceeded"),
    "display_update_flood": (planted("layer_sizes", DISPLAY_UPDATE_FLOOD), LAYER_SIZES_LOST, "OutputLimitExceeded"),
    "widget_flood": (planted("layer_sizes", WIDGET_FLOOD), LAYER_SIZES_LOST, "OutputLimitExceeded"),
    # 950 kB (under the cell's 1 MB) in each of six solution cells: the sixth passes the notebook's 5 MB
    "notebook_output_flood": (notebook(lambda c: filled_release(c, PLANAR, notebook_flood)),
                              lambda c: tests_from(c, "update_parameters"), "OutputLimitExceeded"),
    "deleted_test_cell": (notebook(lambda c: without_test_cell(c, "q4_layer_sizes")), set(), ""),
    "edited_test_cell": (notebook(with_edited_test), {"q4_layer_sizes"}, "q4_layer_sizes"),
    "renamed_notebook": (notebook(lambda c: filled_release(c, PLANAR), "Planar_MLP (1).ipynb"), set(), "renamed"),
    "invalid_json": (raw(b'{"cells": [ not json'), ALL, "not valid JSON"),
    "empty_file": (raw(b""), ALL, "empty"),
    "not_a_notebook": (raw(b'{"hello": "world"}'), ALL, "not a Jupyter notebook"),
    "binary_file": (raw(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"), ALL, "not text"),
    "wrong_name": (notebook(lambda c: filled_release(c, PLANAR), "homework.txt"), ALL, "missing"),
    "snooper": (planted("layer_sizes", snooper), set(), ""),
    "vandal": (planted("layer_sizes", vandal), set(), ""),
    # graded first (sorted ids), so later notebooks of its worker would suffer if it survived; its own
    # questions are judged while its code runs again in the observer, killing whatever starts after it
    "background_saboteur": (planted("layer_sizes", saboteur), ANY, ""),
    # Touching 6 GB at the notebook's one-core quota can outlast the 20 s cell limit on a busy machine (twice in
    # CI): the question is lost either way; the reason names the memory wall (reached, or stalled at) or the
    # clock. The memory wall's own reason is asserted exactly in test_forkserver and test_cgroups.
    "memory_hogs": (planted("layer_sizes", MEMORY_HOGS), LAYER_SIZES_LOST,
                    (f"more than {Limits.memory_mb} MB", "CellTimeoutError: the cell ran longer")),
    "fork_bomb": (planted("layer_sizes", FORK_BOMB_CELL), LAYER_SIZES_LOST, f"more than {Limits.pids} (threads"),
    "disk_filler": (planted("layer_sizes", DISK_FILLER), LAYER_SIZES_LOST, f"at most {Limits.home_mb} MB"),
    **{name: (untouched_with(code), ALL, "") for name, code in CHEATS.items()},
}

# Not a notebook fault: the grading worker that takes this (honest) student dies, as an OOM-killed
# worker would (hwkit.worker.CRASH_FOR_ENV); it is retried once on a fresh worker, then reported as
# not graded, never 0 points (issue 13, item 4).
WORKER_CRASH = "worker_killed"
