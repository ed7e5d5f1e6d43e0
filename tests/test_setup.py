"""`bash setup.sh` without root or without apt, and run twice, on a stand-in machine: a copy of the
script with a fake .venv (its pip only logs) and a PATH of stand-in commands, so nothing is
installed. What it prints must say exactly what to install and how; a second run must be quick
(no pip at all)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

TOOLS = ("bash", "cat", "sha256sum", "dirname", "grep", "head", "sleep", "rm")


@pytest.fixture()
def machine(tmp_path: Path) -> Path:
    """A folder with setup.sh, pyproject.toml and a .venv whose pip logs its arguments; bin/ holds
    the commands the script may call, with `id` saying "not root" and no bwrap, chromium, apt-get."""
    for name in ("setup.sh", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    _script(venv / "pip", f'echo "$@" >> {tmp_path / "pip.log"}')
    _script(venv / "python", "exit 0")
    _script(venv / "hwkit", "exit 0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    _script(bin_dir / "id", "echo 1000")
    return tmp_path


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
    path.chmod(0o755)


def setup(machine: Path) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("bash"), "setup.sh"], cwd=machine, capture_output=True, text=True,
                          env={"PATH": str(machine / "bin"), "HOME": str(machine)}, timeout=60)


def test_without_apt_it_names_what_to_install_and_a_second_run_is_quick(machine: Path) -> None:
    first = setup(machine)
    assert first.returncode == 0, first.stderr
    assert "bubblewrap chromium missing: install them with your system's package manager" in first.stderr
    assert "installing PyTorch" in first.stdout and "ready" in first.stdout
    assert len((machine / "pip.log").read_text().splitlines()) == 2  # torch, then hwkit with its pins
    second = setup(machine)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stdout
    assert len((machine / "pip.log").read_text().splitlines()) == 2, "nothing installed again"
    assert "bubblewrap chromium missing" in second.stdout  # the reminder in the last line


def test_without_root_it_prints_the_apt_command(machine: Path) -> None:
    _script(machine / "bin" / "apt-get", "echo 'E: must be root' >&2; exit 100")
    done = setup(machine)
    assert done.returncode == 0, done.stderr
    assert "run `sudo apt-get install -y bubblewrap chromium`, then `bash setup.sh` again" in done.stderr


def test_as_root_it_waits_for_another_apt(machine: Path) -> None:
    """apt-get's lock is held twice, then free: setup.sh says it waits, asks again, and installs."""
    _script(machine / "bin" / "id", "echo 0")
    _script(machine / "bin" / "apt-get", f'''
count=$(cat {machine / "apt.count"} 2>/dev/null || echo 0); echo $((count + 1)) > {machine / "apt.count"}
echo "$@" >> {machine / "apt.log"}
if [ "$count" -lt 2 ]; then
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2; exit 100
fi''')
    script = machine / "setup.sh"
    script.write_text(script.read_text().replace("APT_WAIT_SECONDS=30", "APT_WAIT_SECONDS=0"))
    done = setup(machine)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("another apt or dpkg is running (its lock is held by process 4242 (apt-get))") == 2
    calls = (machine / "apt.log").read_text().splitlines()
    assert calls[-1].endswith("install -y -qq bubblewrap chromium") and "update -qq" in calls[-2], calls
