"""The walls student code runs behind (host side): a bubblewrap sandbox per grading worker, one
forked kernel per notebook inside it (forkserver.py: how consecutive notebooks are kept apart;
sandbox.py: the executor that runs a notebook there).

The trusted side (nbgrader, the notebook client, the gradebook) stays outside; only the fork
server and its kernels run inside `bwrap`, started through `prlimit`, and talk to the client over
Unix sockets (ZeroMQ ipc transport) in a folder of their own, so the sandbox needs no network.

What the kernel sees (everything else of the host does not exist for it):
  /usr, the Python installation and the venv    read-only (system libraries, numpy, torch, ...)
  a few files of /etc (ld.so.cache, fonts, ...)  read-only
  /home/student/<assignment>                     read-write tmpfs of its own size (Limits.home_mb): a
                                                 private copy of the graded notebook's folder (the
                                                 shipped helper files and the student's own extra
                                                 files), refilled before and emptied after each notebook
  /opt/hwkit-notebook                            read-only: the files that folder is filled from
  /opt/hwkit-grader                              read-only: a trusted copy of the assignment's public
                                                 checks (<assignment>_checks/, if any) and the judge's
                                                 sandbox side (hwkit_observer.py, hwkit_wire.py,
                                                 hwkit_standin_server.py); no expected value, no
                                                 reference, no test cell
  /tmp, /dev/shm                                 private tmpfs, Limits.tmp_mb each
  /dev                                           read-only: nothing can be created in it; /dev/null,
                                                 zero, full, random, urandom, tty are read-only binds
                                                 of the host's nodes (usable, but chmod, chown and
                                                 utime fail with EROFS); /dev/pts its own instance;
                                                 /dev/mqueue the sandbox's POSIX message queues
  the kernel's socket folder                     read-write, nothing else in it: on the host a tmpfs
                                                 of its own (Limits.sockets_mb, SOCKET_INODES entries)
The sandbox's root (and /home, /opt, ...) is read-only. No network (--unshare-net), own PID/IPC/UTS/cgroup
namespaces, no capabilities, a new session (no terminal injection), no nested user namespaces, no kernel
keyring calls (seccomp), and the whole sandbox dies with the grader.

Why so, for the host's objects: the kernel runs as uid 0 of a user namespace that maps it to the host's
root (bwrap maps the sandbox uid, --uid included, to the uid that started it, and hwkit grade runs as
root for the cgroups; running bwrap as an unprivileged host uid fails because the Python lives under
/root, mode 0700). Without capabilities it still owns every root-owned object it can reach, so it must
reach none writable: the device nodes bwrap binds are remounted read-only from the host after start
(`seal_devices`, nsenter into the sandbox's mount namespace: bwrap's own --remount-ro adds nodev, and
the devices could not be opened at all); /dev itself is remounted read-only; the socket folder, the one
host folder bound read-write, is a tmpfs mounted for this sandbox. Keyrings are not namespaced like
files: the host root's keyrings are reachable by id from uid 0, and a key in the user keyring would
outlive the notebook, so add_key, request_key and keyctl fail with ENOSYS (`seccomp_program`; a
notebook has no use for them). A fresh IPC namespace per notebook would need CAP_SYS_ADMIN kept in the
long-lived fork server; instead the queues are mounted and every one is removed when the notebook's
processes are gone (with System V IPC; kernel_forkserver.py).

Limits of the notebook's processes together (cgroups.py: a cgroup per notebook, made and removed by the
fork server's host side, forkserver.py): memory (swap and tmpfs files included; past it the kernel's OOM
killer kills the largest process), the number of processes and threads (past it fork fails), CPU (a
quota of Limits.cores() cores at once, the same weight as every other notebook: busy processes slow only
their own notebook) and CPU time (Limits.cpu_seconds, checked after each cell; past it the processes are
stopped). Limits of each process: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU: at most
Limits.cpu_seconds, clamped to the sandbox's hard limit MAX_CPU_SECONDS, so no --timeout and no number of
cells can make setting it fail), size of any written file (RLIMIT_FSIZE), open files, no core dumps.
Wall time per cell and output size per cell and per notebook (every kind of output message counted) and
wall time per notebook (all cells together) are enforced by `SandboxedExecute` on the trusted side,
which also asks after each cell which wall the notebook hit (a full folder, /tmp, /dev/shm or the socket
folder included): that cell fails with the limit named in the feedback and the judge does not run it
again. Grading without bubblewrap, nsenter or cgroups needs --unsandboxed (`available` says why and how
to fix it).
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

STUDENT_HOME = "/home/student"
GRADER_MOUNT = "/opt/hwkit-grader"
INBOX_MOUNT = "/opt/hwkit-notebook"  # the files the notebook folder is filled from, read-only
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "nsswitch.conf",
             "passwd", "group", "mime.types", "ssl/certs", "ca-certificates")


MAX_CPU_SECONDS = 7 * 24 * 3600  # hard RLIMIT_CPU of the sandbox: no process in it may set a higher one
SOCKET_INODES = 4096  # files and folders the socket folder may hold


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits, the one place they are set (the cell and notebook wall-time limits are
    GradingSettings.cell_timeout and .notebook_timeout)."""

    memory_mb: int = 6144       # memory of the notebook's processes together (cgroup), and RLIMIT_AS of each
                                # (torch reserves ~1.5 GB of address space)
    pids: int = 512             # processes and threads of the notebook together (cgroup)
    cpus: float | None = None   # cores the notebook's processes together may use at once (cgroup CPU quota);
                                # None: the machine's cores shared out among the grading workers
    cpu_seconds: int = 1800     # CPU time of the notebook's processes together (cgroup), and RLIMIT_CPU of each
    file_mb: int = 256          # RLIMIT_FSIZE: largest file the kernel may write
    output_bytes: int = 1_000_000  # text/data a cell may send back before it is stopped
    notebook_output_bytes: int = 5_000_000  # all cells together; past it later cells are not run
    tmp_mb: int = 512           # size of the sandbox's /tmp and /dev/shm (RAM-backed)
    home_mb: int = 512          # size of the notebook folder (RAM-backed)
    sockets_mb: int = 4         # size of the kernel's socket folder (RAM-backed, SOCKET_INODES entries)

    def cores(self, jobs: int) -> float:
        """The CPU quota of one notebook when `jobs` notebooks are graded at once."""
        return self.cpus if self.cpus else max(1.0, (os.cpu_count() or 1) / max(1, jobs))


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None if the walls can be built here (bubblewrap and cgroups), otherwise why not and how to fix it."""
    from . import cgroups

    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not on PATH: install it with `apt-get install bubblewrap`"
    if not shutil.which("nsenter") or os.uname().machine not in _KEY_SYSCALLS:
        return (f"the sandbox needs nsenter (util-linux) and an x86_64 or aarch64 machine (this is "
                f"{os.uname().machine}): install util-linux")
    probe = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
                            "true"], capture_output=True, text=True)
    if probe.returncode:
        return (f"bubblewrap cannot create a sandbox here ({probe.stderr.strip()}): install a working one with "
                "`apt-get install bubblewrap`")
    why = cgroups.available()
    if why:
        return (f"{why}: run hwkit grade as root on Linux with cgroup v2 (memory, pids and cpu controllers) or "
                "the cgroup v1 memory, pids, cpu and cpuacct hierarchies mounted")
    return None


@functools.lru_cache(maxsize=1)
def _no_nested_userns() -> tuple[str, ...]:
    """bwrap >= 0.8 can forbid user namespaces inside the sandbox (a kernel cannot build a
    private world of its own there); older versions lack the flag."""
    flags = ("--unshare-user", "--disable-userns")
    probe = subprocess.run([shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--unshare-all", *flags, "true"],
                           capture_output=True)
    return flags if probe.returncode == 0 else ()


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(roots)


def sandbox_argv(inbox: Path, grader: Path, sockets: Path, assignment: str, limits: Limits,
                 env: dict[str, str], command: list[str], seccomp_fd: int | None = None) -> list[str]:
    """prlimit + bwrap command line running `command` behind the walls described above (`seccomp_fd`:
    a descriptor holding `seccomp_program()`, which the caller passes on to bwrap)."""
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [shutil.which("prlimit") or "prlimit", f"--as={limits.memory_mb * 2**20}", f"--cpu={MAX_CPU_SECONDS}",
            f"--fsize={limits.file_mb * 2**20}", "--core=0", "--nofile=1024", "--", bwrap,
            "--unshare-all", *_no_nested_userns(), "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue",
            "--remount-ro", "/dev"]  # nothing can be created in /dev (its own mounts stay writable)
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
        elif target.exists():
            argv += ["--ro-bind", str(target), str(target)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        if not root.startswith("/usr/"):
            argv += ["--ro-bind", root, root]
    home = f"{STUDENT_HOME}/{assignment}"
    argv += ["--size", str(limits.home_mb * 2**20), "--tmpfs", home, "--ro-bind", str(inbox), INBOX_MOUNT,
             "--ro-bind", str(grader), GRADER_MOUNT,
             "--bind", str(sockets), str(sockets), "--remount-ro", "/", "--chdir", home]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv + ["--", *command]


def seal_devices(pid: int) -> None:
    """Remount the host device nodes bwrap binds into /dev of the sandbox of process `pid` (a host pid)
    read-only, keeping them usable as devices (bwrap's --remount-ro would add nodev). Raises OSError
    unless every one is read-only afterwards."""
    binds = _device_binds(pid)
    script = "".join(f"mount -o remount,bind,ro,nosuid,noexec {path} || exit 1\n" for path in binds)
    done = subprocess.run([shutil.which("nsenter") or "nsenter", "--target", str(pid), "--mount", "--", "/bin/sh",
                           "-c", script], capture_output=True, text=True)
    left = [path for path in _device_binds(pid) if "rw" in _device_binds(pid)[path]]
    if done.returncode or left:
        raise OSError(f"the sandbox's devices could not be made read-only ({done.stderr.strip()[:200]})")


def _device_binds(pid: int) -> dict[str, list[str]]:
    """Mount point -> mount options of the single-file binds under /dev in `pid`'s mount namespace."""
    binds = {}
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        root, point, options = fields[3], fields[4], fields[5].split(",")
        if point.startswith("/dev/") and root != "/":  # a bind of one host file (/null, ...), not a mount of its own
            binds[point] = options
    return binds


def seccomp_program() -> bytes:
    """A classic-BPF seccomp filter for bwrap: the kernel keyring calls (add_key, request_key, keyctl)
    fail with ENOSYS, and so does every call of another architecture's ABI (e.g. 32-bit int 0x80, whose
    numbers differ). Keyrings are not namespaced like files: the sandbox's uid 0 is the host's root, whose
    keyrings it could reach by id, and a key in the user keyring would outlive the notebook."""
    arch, numbers = _KEY_SYSCALLS[os.uname().machine]
    deny = 0x00050000 | errno.ENOSYS  # SECCOMP_RET_ERRNO
    allow = 0x7FFF0000                # SECCOMP_RET_ALLOW
    program = [(0x20, 0, 0, 4),                    # A = seccomp_data.arch
               (0x15, 0, len(numbers) + 3, arch),  # other ABI: deny
               (0x20, 0, 0, 0),                    # A = seccomp_data.nr
               (0x54, 0, 0, 0xBFFFFFFF)]           # without the x32 bit (x86_64)
    program += [(0x15, len(numbers) - i, 0, nr) for i, nr in enumerate(numbers)]  # jump to deny
    program += [(0x06, 0, 0, allow), (0x06, 0, 0, deny)]
    return b"".join(struct.pack("HBBI", *op) for op in program)


# machine -> (AUDIT_ARCH_*, the numbers of add_key, request_key, keyctl)
_KEY_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}


def mount_tmpfs(path: Path, size: int, inodes: int) -> None:
    """Mount a tmpfs of `size` bytes and `inodes` files on `path` (host side, needs root)."""
    options = f"size={size},nr_inodes={inodes},mode=0755".encode()
    if _libc().mount(b"hwkit", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot mount a tmpfs on {path}: {os.strerror(code)}")


def unmount(path: Path) -> None:
    """Detach the mount on `path` (lazily: a sandbox still holding it keeps it until it is gone)."""
    _libc().umount2(str(path).encode(), MNT_DETACH)


MS_NOSUID, MS_NODEV, MS_NOEXEC, MNT_DETACH = 2, 4, 8, 2


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def kernel_env(jobs: int = 1) -> dict[str, str]:
    """The kernel's whole environment (nothing of the grader's environment gets in)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": STUDENT_HOME,
            "PYTHONPATH": GRADER_MOUNT, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore",
            "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
            "TMPDIR": "/tmp", "LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde",
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def prepare_grader_mount(course_source: Path, target: Path) -> Path:
    """The read-only folder of the grader's code that runs in the sandbox: the assignment's public checks
    (if it has a checks package) and the judge's sandbox side (observer, wire codec, stand-in server).
    Nothing of grader_tests/ (references, hidden cases) and no test cell goes in."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for module in ("observer", "wire", "standin_server"):  # the judge's side in the sandbox (standalone modules)
        shutil.copy(Path(__file__).with_name(f"{module}.py"), target / f"hwkit_{module}.py")
    from .assignment import checks_package

    checks = checks_package(course_source)
    if checks:
        shutil.copytree(course_source / checks, target / checks, ignore=ignore, dirs_exist_ok=True)
    for path in target.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    return target
