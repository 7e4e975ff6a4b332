"""The process seam of the daemon: supervisor workers, their reports, signals to task groups."""
from __future__ import annotations

import array
import os
import signal
import socket
from dataclasses import dataclass, field

from runq.engine.shim import CONFIRMED, ShimSpec, encode_spec, worker_main
from runq.protocol import fastjson


@dataclass
class ShimHandle:
    """A task supervisor: a pooled worker of this daemon, or one adopted from a previous daemon."""

    pid: int
    pidfd: int
    channel: socket.socket | None  # None for a worker adopted from a previous daemon
    start_ticks: int | None
    task_id: int | None = None
    task_pid: int | None = None
    report: dict | None = None
    buffer: bytes = field(default=b"")


class WorkerPool:
    """Long-lived supervisor workers, forked on demand and reused for task after task."""

    def __init__(self, max_idle: int = 8) -> None:
        self.idle: list[ShimHandle] = []
        self.max_idle = max_idle

    def acquire(self) -> tuple[ShimHandle, bool]:
        """A worker to run the next task, and whether it was just forked."""
        while self.idle:
            worker = self.idle.pop()
            if worker.pidfd >= 0:
                return worker, False
        return _fork_worker(), True

    def assign(self, worker: ShimHandle, spec: ShimSpec) -> None:
        assert worker.channel is not None
        data = encode_spec(spec)
        worker.task_id, worker.task_pid, worker.report, worker.buffer = spec.task_id, None, None, b""
        worker.channel.setblocking(True)
        try:
            fds = list(spec.caller_fds or ())
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
            sent = worker.channel.sendmsg([data], ancillary)
            if sent < len(data):
                worker.channel.sendall(data[sent:])
        finally:
            worker.channel.setblocking(False)

    def release(self, worker: ShimHandle) -> bool:
        """Return a worker after its task; False when the pool is full (the caller retires it)."""
        worker.task_id = None
        if len(self.idle) < self.max_idle:
            self.idle.append(worker)
            return True
        return False

    def discard(self, worker: ShimHandle) -> None:
        if worker in self.idle:
            self.idle.remove(worker)


def _fork_worker() -> ShimHandle:
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        parent_end.close()
        worker_main(child_end.detach())
    child_end.close()
    parent_end.setblocking(False)
    return ShimHandle(pid, os.pidfd_open(pid), parent_end, process_start_ticks(pid))


def adopt_shim(pid: int, start_ticks: int | None, task_id: int) -> ShimHandle | None:
    """Reattach to a worker a previous daemon started, if that very process still runs."""
    if start_ticks is None or process_start_ticks(pid) != start_ticks:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    # The process may have ended between the two checks, its pid taken by another.
    if process_start_ticks(pid) != start_ticks:
        os.close(pidfd)
        return None
    return ShimHandle(pid, pidfd, None, start_ticks, task_id=task_id)


def task_pid_of(worker_pid: int) -> int | None:
    """The task a worker supervises is its only child: find it through /proc."""
    try:
        with open(f"/proc/{worker_pid}/task/{worker_pid}/children") as handle:
            children = handle.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def read_control(handle: ShimHandle) -> bool:
    """Consume what the worker wrote; False once its channel is closed."""
    assert handle.channel is not None
    while True:
        try:
            chunk = handle.channel.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not chunk:
            return False
        handle.buffer += chunk
        parse_lines(handle)


def parse_lines(handle: ShimHandle) -> None:
    while b"\n" in handle.buffer:
        line, handle.buffer = handle.buffer.split(b"\n", 1)
        if line.startswith(b"P "):
            handle.task_pid = int(line[2:])
        elif line.startswith(b"E "):
            handle.report = fastjson.loads(line[2:].decode())


def confirm_report(worker: ShimHandle, task_id: int) -> None:
    """Tell a worker that a task's report is durable; until then it would write the report to an
    exit file if this daemon died."""
    if worker.channel is None:
        return
    try:
        worker.channel.send(CONFIRMED.to_bytes(4, "big") + task_id.to_bytes(8, "big"))
    except OSError:
        pass  # gone or retired: at worst it leaves an exit file the next clean removes


def read_exit_file(path: str) -> dict | None:
    try:
        with open(path, "rb") as handle:
            return fastjson.loads(handle.read().decode())
    except (OSError, ValueError):
        return None


def close_pidfd(handle: ShimHandle) -> None:
    try:
        os.close(handle.pidfd)
    except OSError:
        pass
    handle.pidfd = -1


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def signal_group(pgid: int | None, sig: int) -> bool:
    if not pgid:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_orphaned_task(pgid: int | None, task_id: int) -> bool:
    """SIGKILL a task whose supervisor is gone, but only if that process group is still this task.

    The recorded group id may be stale (the task ended long ago and pids wrap around): signal it
    only when the group's leader still carries the task's RUNQ_TASK_ID in its environment.
    """
    if not pgid:
        return False
    try:
        with open(f"/proc/{pgid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        return False
    if b"RUNQ_TASK_ID=%d" % task_id not in environ:
        return False
    return signal_group(pgid, signal.SIGKILL)


def process_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot: with the pid, a unique identity."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    rest = stat[stat.rindex(b")") + 2:].split()
    return int(rest[19])


SIGNALS_BY_NAME = {
    "INT": signal.SIGINT, "KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "CONT": signal.SIGCONT,
    "STOP": signal.SIGSTOP, "HUP": signal.SIGHUP, "QUIT": signal.SIGQUIT, "USR1": signal.SIGUSR1,
    "USR2": signal.SIGUSR2,
}


def parse_signal(text: str) -> int:
    """Accept pueue's spellings: sigint, int, 2 (case-insensitive), plus the other common names."""
    value = text.strip().upper()
    if value.isdigit():
        number = int(value)
        if 0 < number < signal.NSIG:
            return number
        raise ValueError(f"unknown signal {text!r}")
    value = value.removeprefix("SIG")
    if value in SIGNALS_BY_NAME:
        return int(SIGNALS_BY_NAME[value])
    raise ValueError(f"unknown signal {text!r}")
