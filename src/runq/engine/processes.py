"""The process seam of the daemon: fork a shim per task, read its reports, signal task groups."""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from runq.engine.shim import ShimSpec, run_shim
from runq.protocol import fastjson


@dataclass
class ShimHandle:
    task_id: int
    pid: int
    pidfd: int
    control_fd: int | None  # None for a shim adopted from a previous daemon
    start_ticks: int | None
    task_pid: int | None = None
    report: dict | None = None
    buffer: bytes = field(default=b"")


def fork_shim(spec: ShimSpec) -> ShimHandle:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        os.close(read_end)
        run_shim(spec, write_end)
    os.close(write_end)
    os.set_blocking(read_end, False)
    return ShimHandle(spec.task_id, pid, os.pidfd_open(pid), read_end, process_start_ticks(pid))


def adopt_shim(task_id: int, pid: int, start_ticks: int | None) -> ShimHandle | None:
    """Reattach to a shim a previous daemon started, if that very process still runs."""
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
    return ShimHandle(task_id, pid, pidfd, None, start_ticks)


def read_control(handle: ShimHandle) -> bool:
    """Consume what the shim wrote; False once the pipe is closed."""
    assert handle.control_fd is not None
    while True:
        try:
            chunk = os.read(handle.control_fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        handle.buffer += chunk
        while b"\n" in handle.buffer:
            line, handle.buffer = handle.buffer.split(b"\n", 1)
            if line.startswith(b"P "):
                handle.task_pid = int(line[2:])
            elif line.startswith(b"E "):
                handle.report = fastjson.loads(line[2:].decode())


def read_exit_file(path: str) -> dict | None:
    try:
        with open(path, "rb") as handle:
            return fastjson.loads(handle.read().decode())
    except (OSError, ValueError):
        return None


def close_handle(handle: ShimHandle) -> None:
    for fd in (handle.pidfd, handle.control_fd):
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    if handle.control_fd is not None:
        try:
            os.waitpid(handle.pid, os.WNOHANG)
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


def process_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot: with the pid, a unique identity."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
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
