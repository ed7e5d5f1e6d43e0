"""The kernel fork server: runs *inside* a grading worker's sandbox and forks one IPython kernel
per notebook from a process that has already imported what every notebook needs.

Started by `hwkit.forkserver.KernelForkServer` as `python -c <this file>` (the sandbox cannot see
the hwkit package). Requests and replies are JSON lines on stdin/stdout, which only the grading
worker holds: kernels get /dev/null and none of the server's file descriptors. Standard library
only, besides the modules it preloads.

Requests:  {"op": "spawn", "connection_file", "cwd", "inbox", "arguments", "rlimits": {"RLIMIT_CPU": n}}
                                                a reset, the notebook folder `cwd` filled afresh from
                                                `inbox` (read-only), then a forked kernel there
           {"op": "observe", "socket", "mount", "checks", "cwd", "inbox", "rlimits"}   the judge's
                                                observer (hwkit/observer.py) instead of a kernel
           {"op": "poll"}      exit status of the current kernel, or null while it runs
           {"op": "signal", "signum"}
           {"op": "reset", "wipe": [folders]}   kill every process of the sandbox but this one
                                                (kernel, its children, anything left behind), reap
                                                them, remove System V IPC objects and POSIX message
                                                queues, empty the given folders (/tmp, /dev/shm,
                                                the notebook folder)
           {"op": "free", "folders": [...]}     bytes left in each folder's file system
Replies:   {"ok": true, ...} or {"ok": false, "error": "..."}; the first line, once started:
           {"ok": true, "ready": true, "pid": its pid in the sandbox, ...}
"""
import ctypes
import importlib
import json
import os
import random
import resource
import shutil
import signal
import sys
import time
from typing import NoReturn

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def preload(modules: list[str]) -> list[str]:
    """Import the heavy libraries once; later kernels get them for the price of a fork."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional library: the kernel imports it (or fails) itself
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    if "matplotlib.font_manager" in sys.modules:
        _ = sys.modules["matplotlib.font_manager"].fontManager  # the font list, built once (a lazy attribute)
    return failed


def detach(request: dict) -> None:
    """In a forked child: drop everything of the server (session, signals, descriptors), apply the
    notebook's limits, reseed the random generators."""
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):  # banners and crash messages: nobody reads them
        os.dup2(null, fd)
    os.closerange(3, 65536)  # the control pipes above all
    os.chdir(request["cwd"])
    for name, value in request.get("rlimits", {}).items():
        which = getattr(resource, name)
        hard = resource.getrlimit(which)[1]  # no process may raise it: never ask for more
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))
    random.seed()
    if "numpy" in sys.modules:  # a fresh interpreter would seed numpy from the OS
        sys.modules["numpy"].random.seed()


def become_observer(request: dict) -> NoReturn:
    """In the forked child: the sandbox side of the judge (hwkit_observer, from the grader mount)."""
    code = 0
    try:
        detach(request)
        sys.path[0:0] = [request["mount"], os.getcwd()]
        import hwkit_observer

        hwkit_observer.serve(request["socket"], request["checks"])
    except BaseException:
        code = 1
    os._exit(code)


def become_kernel(request: dict) -> NoReturn:
    """In the forked child: drop everything of the server, then run an ordinary IPython kernel."""
    try:
        detach(request)
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"], *request.get("arguments", [])]
        sys.path[0] = os.getcwd()  # as `python -m ipykernel_launcher` would have it
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=sys.argv[1:])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    os._exit(code)  # never return into the server's loop


IPC_RMID = 0
MQUEUE = "/dev/mqueue"


def remove_sysv_ipc() -> None:
    """Remove every System V shared memory segment, message queue and semaphore set of the sandbox's
    IPC namespace (it lives as long as the worker: a segment left by one notebook could be read by the
    next, and pins its memory)."""
    libc = ctypes.CDLL(None, use_errno=True)
    removers = {"shm": lambda ident: libc.shmctl(ident, IPC_RMID, None),
                "msg": lambda ident: libc.msgctl(ident, IPC_RMID, None),
                "sem": lambda ident: libc.semctl(ident, 0, IPC_RMID)}
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def _wipe(folder):
    """Empty `folder`, also of entries a kernel made unreadable (it may chmod, not chattr), without
    recursion whatever the depth a kernel chose: what a folder holds is moved up into `folder`, then
    the folder is removed. Mount points (the worker's socket folder under /tmp: the worker empties it)
    and the folders that hold them stay."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        top = os.open(folder, flags)
    except PermissionError:
        os.chmod(folder, 0o700)
        top = os.open(folder, flags)
    except FileNotFoundError:
        return
    device, kept, serial = os.fstat(top).st_dev, set(), 0
    try:
        while True:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(top) if e.name not in kept]
            if not names:
                return
            for name, is_dir in names:
                if not is_dir:
                    os.unlink(name, dir_fd=top)
                    continue
                if os.stat(name, dir_fd=top, follow_symlinks=False).st_dev != device:
                    kept.add(name)
                    continue
                os.chmod(name, 0o700, dir_fd=top)
                inner = os.open(name, flags, dir_fd=top)
                try:
                    for entry in [e.name for e in os.scandir(inner)]:
                        if os.stat(entry, dir_fd=inner, follow_symlinks=False).st_dev != device:
                            kept.add(name)
                            continue
                        serial += 1
                        os.rename(entry, f".hwkit-{serial}", src_dir_fd=inner, dst_dir_fd=top)
                finally:
                    os.close(inner)
                if name not in kept:
                    os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)


def remove_message_queues() -> None:
    """Remove every POSIX message queue of the sandbox's IPC namespace (mounted on /dev/mqueue by bwrap;
    it lives as long as the worker). With every process of the sandbox gone, nothing holds one open."""
    for name in os.listdir(MQUEUE):
        os.unlink(os.path.join(MQUEUE, name))


class Server:
    def __init__(self):
        self.kernel = None
        self.status = None

    def reap(self, block: bool) -> None:
        """Collect exited children (kernels and orphans: this process is their subreaper)."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.kernel:
                self.status = os.waitstatus_to_exitcode(status)

    def op_spawn(self, request: dict) -> dict:
        return self._fork(become_kernel, request)

    def op_observe(self, request: dict) -> dict:
        return self._fork(become_observer, request)

    def _fork(self, become, request):
        """A fresh sandbox (nothing of the last notebook alive, its folder filled from the inbox), then
        `become(request)` in a child."""
        self.op_reset({"wipe": [request["cwd"]]})
        shutil.copytree(request["inbox"], request["cwd"], dirs_exist_ok=True)
        self.status = None
        pid = os.fork()
        if pid == 0:
            become(request)
        self.kernel = pid
        return {"pid": pid}

    def op_poll(self, request: dict) -> dict:
        self.reap(block=False)
        return {"status": self.status if self.kernel else 0, "running": self.kernel is not None and self.status is None}

    def op_signal(self, request: dict) -> dict:
        if self.kernel and self.status is None:
            os.kill(self.kernel, int(request["signum"]))
        return {}

    def op_free(self, request: dict) -> dict:
        free = {}
        for folder in request["folders"]:
            stat = os.statvfs(folder)
            free[folder] = stat.f_bavail * stat.f_frsize
        return {"free": free}

    def op_reset(self, request: dict) -> dict:
        # kill(-1) reaches every process of the sandbox's PID namespace but this one and its init,
        # atomically, so nothing a kernel started (double-forked, setsid, ...) survives.
        for _ in range(100):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
            self.reap(block=True)
        else:
            raise RuntimeError("processes survive SIGKILL")
        if self.kernel and self.status is None:
            self.status = -signal.SIGKILL
        remove_sysv_ipc()
        remove_message_queues()
        for folder in request.get("wipe", []):
            _wipe(folder)
        return {}


def main() -> None:
    # The protocol owns the original stdin/stdout; stray prints of libraries go to /dev/null.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # kernels (same uid) cannot ptrace or read this process
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    os.chdir("/")
    started = time.monotonic()
    failed = preload(json.loads(os.environ.pop("HWKIT_PRELOAD", "[]")))
    server = Server()

    def reply(message: dict) -> None:
        replies.write(json.dumps(message).encode() + b"\n")

    reply({"ok": True, "ready": True, "pid": os.getpid(), "seconds": round(time.monotonic() - started, 3),
           "failed": failed})
    for line in requests:
        try:
            request = json.loads(line)
            answer = getattr(server, "op_" + request["op"])(request)
            reply({"ok": True, **answer})
        except Exception as exc:
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    os._exit(0)


if __name__ == "__main__":
    main()
