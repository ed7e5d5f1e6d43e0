"""The trusted executor of one notebook: nbgrader's Execute step, run against a kernel forked in the
worker's sandbox (walls.py: what the sandbox is and which limits it sets; forkserver.py: the
pre-warmed kernels and how consecutive notebooks are kept apart).

The trusted side (nbgrader, the notebook client, the gradebook) stays outside; only the fork server
and its kernels run inside `bwrap`, and talk to the client over Unix sockets (ZeroMQ ipc transport)
in a folder of their own, so the sandbox needs no network. `SandboxedExecute` enforces what only
the trusted side can: wall time per cell, output size per cell and per notebook (every kind of
output message counted) and wall time per notebook (all cells together); after each cell it asks
which wall the notebook hit (memory, processes, a full folder, /tmp or /dev/shm): that cell fails
with the limit named in the feedback, and the judge does not run it again.

Over 300 lines because the executor's hooks into nbclient (kernel, messages, time and output caps,
the per-notebook clock, the walls' reasons) share one object's state and read best together.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Instance, Integer, Unicode, default

from .settings import GradingSettings, cell_timeout_reason

if TYPE_CHECKING:
    from .forkserver import KernelForkServer


@dataclass
class RunReport:
    """What the trusted executor saw of one notebook's run."""

    stopped_at: int | None = None  # the cell where the kernel died or could not be interrupted
    interrupted: set[int] = field(default_factory=set)  # cells stopped for their time or output limit
    notes: list[str] = field(default_factory=list)  # why, per cell, for the feedback
    seconds: float = 0.0  # how long the cells ran: the judge's re-run and checks get what is left of the limit

    def note(self, index: int, cell: NotebookNode, text: str) -> None:
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
        self.notes.append(f"cell {name}: {text}")


class SandboxKernelManager(AsyncKernelManager):
    """A python kernel forked inside the worker's sandbox (forkserver.py), reached over ipc
    sockets, interrupted by message."""

    @default("context")
    def _context_default(self):
        # linger 0: a message to a kernel that is gone must never block closing the context
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.LINGER, 0)
        return context

    def configure_sandbox(self, server: KernelForkServer, cpu_seconds: int) -> None:
        """The next kernel is a fork of `server`'s pre-warmed process, with its own CPU-time limit."""
        from .forkserver import ForkServerProvisioner

        self.transport = "ipc"
        self.ip, self.connection_file = server.connection_paths()
        self._kernel_spec = KernelSpec(argv=["forked-kernel", "-f", "{connection_file}"],
                                       display_name="Python 3 (sandbox)",
                                       language="python", interrupt_mode="message", env={})
        self.kernel_id = self.kernel_id or str(uuid.uuid4())
        self.provisioner = ForkServerProvisioner(kernel_id=self.kernel_id, kernel_spec=self._kernel_spec, parent=self,
                                                 server=server, cpu_seconds=cpu_seconds)


class SandboxedExecute(Execute):
    """nbgrader's Execute, with the kernel in a sandbox; a dead, stuck or flooding kernel costs
    only the cells it affects (later cells get an error output and score 0)."""

    grader_mount = Unicode("", help="folder with the trusted checks and the observer (prepare_grader_mount)"
                           ).tag(config=True)
    assignment = Unicode("").tag(config=True)
    grading = Instance(GradingSettings, args=(), help="the grading settings (settings.py), whole: the per-notebook "
                       "time limit and every wall (walls.Limits); the judge's side of the worker gets the same "
                       "object, so both use one sandbox").tag(config=True)
    jobs = Integer(1, help="notebooks graded at once (they share the cores)").tag(config=True)
    kill_grace = Integer(5, help="seconds an interrupted cell gets to stop before the kernel is killed"
                         ).tag(config=True)

    # notebook name -> how its run went, for the student being graded (the judge runs the notebook's
    # code again and uses this: where the run stopped, which cells had to be stopped). Kept on the
    # trusted side, not in the notebook, whose outputs the kernel fills.
    runs: dict[str, RunReport] = {}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    @staticmethod
    def _key(resources: dict) -> str:
        return str(resources.get("unique_key"))

    # --- kernel ----------------------------------------------------------------------------
    def create_kernel_manager(self) -> SandboxKernelManager:
        km = SandboxKernelManager(config=self.config)
        km.configure_sandbox(self._server, cpu_seconds=max(600, (self.timeout or 60) * (1 + len(self.nb.cells))))
        self.km = self._sandbox_km = km  # nbclient forgets self.km when it cleans up
        return km

    def _worker_server(self):
        from .forkserver import worker_server

        return worker_server(Path(self.grader_mount), self.assignment, self.grading.limits, self.jobs)

    # --- output caps -----------------------------------------------------------------------
    def process_message(self, msg: dict, cell: NotebookNode, cell_index: int) -> NotebookNode | None:
        """Every message that can add data to the notebook is counted against the cell's and the
        notebook's cap before nbclient stores anything: outputs, display updates (which nbclient
        writes into every earlier output with that display id, in any cell), clear_output and
        widget/comm messages (their state goes to the notebook's widget metadata), and any
        `execution_count` a message carries. Past a cap nothing more is stored, and a cell that goes
        on sending is interrupted (one that sent a single oversized result or error just ends: an
        interrupt would land in the kernel's own code as it finishes the cell)."""
        flooded = cell_index in self._flooded
        if self._within_caps(msg, cell_index):
            return super().process_message(msg, cell, cell_index)
        if flooded and msg["msg_type"] != "status" and cell_index not in self._interrupted:
            self._interrupted.add(cell_index)  # now, before nbclient can start the next cell
            self.kc.control_channel.send(self.kc.session.msg("interrupt_request", {}))
        if msg["msg_type"] == "status":  # the cell must still end; nothing else of the message is kept
            state = msg["content"].get("execution_state") if isinstance(msg["content"], dict) else None
            return super().process_message({**msg, "content": {"execution_state": state}}, cell, cell_index)
        return None

    def _within_caps(self, msg, cell_index: int) -> bool:
        content = msg["content"]
        if cell_index in self._flooded or not isinstance(content, dict):
            return False
        limits = self.grading.limits
        output_bytes, notebook_output_bytes = limits.output_bytes, limits.notebook_output_bytes
        size = OUTPUT_FRAME + _json_size(content, notebook_output_bytes) + sum(
            4 * -(-memoryview(b).nbytes // 3) for b in msg.get("buffers") or ())  # stored base64-encoded
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id and msg["msg_type"] in ("display_data", "execute_result", "update_display_data"):
            copies = sum(map(len, self._display_id_map.get(display_id, {}).values()))
            size *= max(1, copies + (msg["msg_type"] != "update_display_data"))
        cell_total, total = self._sizes.get(cell_index, 0) + size, self._total + size
        if cell_total > output_bytes:
            self._flooded[cell_index] = (f"the cell sent more than {output_bytes} bytes of output (printed, "
                                         "displayed, display updates, widget messages) and was stopped; the rest "
                                         "of its output was cut")
        elif total > notebook_output_bytes:
            self._notebook_full = True
            self._flooded[cell_index] = (f"the notebook sent more than {notebook_output_bytes} bytes of output "
                                         "in all; this cell was stopped, the rest of its output was cut and later "
                                         "cells were not run")
        else:
            self._sizes[cell_index], self._total = cell_total, total
            return True
        return False

    def on_cell_executed(self, **kwargs: Any) -> None:
        """nbgrader copies the error of the execute reply (shell channel, not IOPub) into the outputs
        when no error output of that name arrived, e.g. because it was cut: it counts like an output,
        and past a cap it is left out (the cell then fails with OutputLimitExceeded)."""
        reply, content = kwargs["execute_reply"], kwargs["execute_reply"]["content"]
        if content.get("status") == "error":
            error = {key: content.get(key) for key in ("ename", "evalue", "traceback")}
            if not self._within_caps({"msg_type": "error", "content": error}, kwargs["cell_index"]):
                kwargs["execute_reply"] = {**reply, "content": {**content, "status": "ok"}}
        return super().on_cell_executed(**kwargs)

    # --- the notebook ------------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: Any = None) -> tuple[NotebookNode, dict]:
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._sizes: dict[int, int] = {}
        self._total, self._notebook_full = 0, False
        self._flooded: dict[int, str] = {}  # cell index -> what was cut
        self._interrupted: set[int] = set()
        self._timed_out: set[int] = set()
        self._deadline: float | None = None  # set when the kernel is ready: its start-up does not count
        self._cut_by_notebook_limit: NotebookNode | None = None  # the cell whose time limit is the notebook's
        source = Path(resources.get("metadata", {}).get("path") or ".")
        self._sandbox_km = None
        self.shutdown_kernel = "immediate"  # everything in the sandbox is killed anyway
        stopped: str | None = None
        self._server = None
        report = self.runs[self._key(resources)] = RunReport()
        try:
            self._server = self._worker_server()
            self._server.prepare(source)
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                cells_started = time.monotonic()
                notebook_timeout = self.grading.notebook_timeout
                if notebook_timeout > 0:
                    self._deadline = cells_started + notebook_timeout
                over = (f"the notebook ran longer than its limit of {notebook_timeout} s in all "
                        "(raise --notebook-timeout if it is just slow)")
                for index, cell in enumerate(self.nb.cells):
                    if not stopped and cell.cell_type == "code" and self._deadline is not None \
                            and time.monotonic() >= self._deadline:
                        stopped = f"not run: {over}"
                        report.stopped_at = index
                        report.note(index, cell,
                                    f"NotebookTimeout: {over}; this cell and the cells after it did not run")
                    if stopped:
                        _fail(cell, "NotRun", stopped)
                        continue
                    try:
                        self.preprocess_cell(cell, resources, index)
                    except DeadKernelError:
                        stopped = "not run: the kernel died in an earlier cell"
                        report.stopped_at = index
                        why = ("the kernel died while running this cell (it exited, crashed or ran out of memory; "
                               f"the limit is {self.grading.limits.memory_mb} MB)")
                        report.note(index, cell, f"DeadKernelError: {why}; the cells after it did not run")
                        _fail(cell, "DeadKernelError", why)
                    except CellTimeoutError:
                        stopped = "not run: an earlier cell did not stop after its time limit"
                        report.stopped_at = index
                        why = f"{cell_timeout_reason(self.timeout)}; it did not stop when interrupted"
                        report.note(index, cell, f"CellTimeoutError: {why}; the cells after it did not run")
                        _fail(cell, "CellTimeoutError", why + "; the kernel was stopped")
                    for wall in self._server.walls_hit(stalled=index in self._timed_out):  # the processes hit a limit
                        report.interrupted.add(index)
                        report.note(index, cell, f"{wall.name}: {wall.reason}")
                        _fail(cell, wall.name, wall.reason)
                    if index in self._timed_out and stopped is None and cell is self._cut_by_notebook_limit:
                        stopped = f"not run: {over}"
                        report.stopped_at = index
                        report.interrupted.add(index)
                        report.note(index, cell, f"NotebookTimeout: {over}; this cell was stopped and the cells "
                                    "after it did not run")
                        _fail(cell, "NotebookTimeout", f"{over}; this cell was stopped")
                    if index in self._timed_out and stopped is None:
                        report.interrupted.add(index)
                        report.note(index, cell, f"CellTimeoutError: {cell_timeout_reason(self.timeout)}")
                    if index in self._flooded:
                        report.interrupted.add(index)
                        report.note(index, cell, f"OutputLimitExceeded: {self._flooded[index]}")
                        _fail(cell, "OutputLimitExceeded", self._flooded[index])
                        if self._notebook_full and stopped is None:
                            stopped = (f"not run: the notebook's output passed its limit of "
                                       f"{self.grading.limits.notebook_output_bytes} bytes in an earlier cell")
                            report.stopped_at = index
                report.seconds = time.monotonic() - cells_started
        except Exception as exc:  # the kernel could not start, or died between cells
            if stopped is None:
                report.stopped_at = report.stopped_at or 0
                reason = f"the notebook could not be executed ({type(exc).__name__}: {str(exc)[:200]})"
                for cell in self.nb.cells:
                    if cell.cell_type == "code" and not cell.get("outputs"):
                        _fail(cell, "KernelError", reason)
        finally:
            km = getattr(self, "_sandbox_km", None)
            self._sandbox_km = None
            if km is not None and getattr(km, "_created_context", False) and not km.context.closed:
                km.context.destroy(linger=0)
            if self._server is not None:
                self._server.finish()
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _get_timeout(self, cell):
        """The cell's time limit, or what is left of the notebook's when that is shorter."""
        timeout = super()._get_timeout(cell)
        if cell is None or self._deadline is None:
            return timeout
        left = max(0.1, self._deadline - time.monotonic())
        if timeout is None or left < timeout:
            self._cut_by_notebook_limit = cell
            return left
        return timeout

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out.update(i for i, c in enumerate(self.nb.cells) if c is cell)
        reply = await super()._async_handle_timeout(timeout, cell)
        # an interrupted cell must go idle soon, or the kernel is stopped (signal ignored, C loop)
        self.iopub_timeout = self.kill_grace
        return reply

    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self.iopub_timeout = 4


OUTPUT_FRAME = 64  # bytes around each output in the notebook file (output_type, indentation): many tiny ones add up


def _json_size(content, limit: int) -> int:
    """Characters `content` takes in the notebook's JSON; a message whose strings alone pass `limit`
    is not copied to be measured."""
    chars, todo = 0, [content]
    while todo:  # a loop, not recursion: the kernel chooses the nesting depth
        item = todo.pop()
        chars += len(item) if isinstance(item, str) else 1
        if isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            todo += item
    if chars > limit:
        return chars
    try:
        return len(json.dumps(content, ensure_ascii=False, default=str))
    except (RecursionError, ValueError):
        return limit + 1


def _fail(cell: NotebookNode, ename: str, evalue: str) -> None:
    if cell.cell_type != "code":
        return
    cell.setdefault("outputs", []).append(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                                       traceback=[f"{ename}: {evalue}"]))
