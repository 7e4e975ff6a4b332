"""Helpers the reliability tests share: the daemon's pid and memory, raw socket frames, config.

Everything here talks to the real daemon: its pid file, /proc, its socket.
"""
from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runq.client.connection import connect
from runq.protocol import wire


def daemon_pid(home: Path) -> int:
    return int((home / "run" / "daemon.pid").read_text())


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (the daemon is not our child to reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def group_alive(pgid: int) -> bool:
    """True while any process of the process group exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def worker_pids(home: Path) -> list[int]:
    """The daemon's supervisor workers: its children running the daemon's own command line."""
    parent = daemon_pid(home)
    cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            if int(stat[1]) == parent and Path(f"/proc/{entry}/cmdline").read_bytes() == cmdline:
                found.append(int(entry))
        except (OSError, IndexError):
            continue
    return found


def task_processes(home: Path, task_id: int) -> list[int]:
    """Live processes of one task (found by the RUNQ_HOME and RUNQ_TASK_ID in their environment)."""
    wanted = {f"RUNQ_HOME={home}".encode(), f"RUNQ_TASK_ID={task_id}".encode()}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                if wanted <= set(Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def call(home: Path, cmd: str, **args: object) -> dict:
    """One request through runq's own client library (no autostart: the daemon must be up)."""
    with connect(str(home), autostart=False) as conn:
        return conn.call(cmd, **args)


def tasks(home: Path) -> dict[int, dict]:
    return {t["id"]: t for t in call(home, "status")["tasks"]}


def add(home: Path, command: str, **args: object) -> int:
    request = {"command": command, "cwd": args.pop("cwd", os.getcwd()), "env": dict(os.environ), **args}
    return int(call(home, "add", **request)["id"])


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "config.toml").write_text(text)


def all_done(home: Path, ids: object = None) -> bool:
    current = tasks(home)
    wanted = current.keys() if ids is None else ids
    return all(current[i]["status"] == "Done" for i in wanted)  # type: ignore[union-attr]


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """An exclusive flock the test holds: tasks running `flock -s PATH true` block in the kernel
    (no polling) until the test lets go, and tasks started later pass straight through."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def raw_socket(home: Path, timeout: float = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(home / "run" / "daemon.sock"))
    return sock


def read_frame(sock: socket.socket) -> dict | None:
    """The next reply frame, or None when the daemon hung up first."""
    header = _read_exact(sock, wire.HEADER)
    if header is None:
        return None
    body = _read_exact(sock, wire.frame_length(header, wire.MAX_REPLY))
    return None if body is None else wire.decode(body)


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def send_and_read(home: Path, payload: bytes, timeout: float = 10.0) -> dict | None:
    """Send raw bytes on a fresh connection, half-close, and return the first reply (or None)."""
    with raw_socket(home, timeout) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_frame(sock)


def header(length: int) -> bytes:
    return struct.pack(">I", length)


def integrity(db_path: Path) -> str:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def history_rows(home: Path) -> list[dict]:
    """Final attempts recorded in history.db (read-only; the telemetry schema's `attempts` table)."""
    db = sqlite3.connect(f"file:{home / 'history.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(
            "SELECT task_id, attempt, result, exit_code, signal FROM attempts WHERE final = 1 ORDER BY id")]
    finally:
        db.close()
