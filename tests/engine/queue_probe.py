"""Looking at a test's queue: tasks through the real client connection, pueue JSON, and jq.

State is read in-process over the daemon's socket (cheap enough to poll); the behaviour under
test is always driven through the real CLI by the tests themselves.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import wait_until

from runq.client.connection import connect

JQ = "/usr/bin/jq"
SRC = Path(__file__).resolve().parents[2] / "src"
FASTPATH = str(SRC / "runq" / "fastpath.py")
RunqCli = Callable[..., subprocess.CompletedProcess]


def tasks() -> dict[int, dict]:
    """Every task's internal record (protocol.md's shape), by id."""
    with connect() as conn:
        return {t["id"]: t for t in conn.call("status")["tasks"]}


def task(task_id: int) -> dict:
    return tasks()[task_id]


def groups() -> dict[str, dict]:
    with connect() as conn:
        return conn.call("groups")["groups"]


def wait_for(task_id: int, *statuses: str, timeout: float = 30.0) -> dict:
    """Wait until the task is in one of `statuses`; return its record."""
    def reached() -> dict | None:
        record = tasks().get(task_id)
        return record if record is not None and record["status"] in statuses else None

    return wait_until(reached, timeout=timeout, interval=0.02)  # type: ignore[return-value]


def wait_done(*task_ids: int, timeout: float = 30.0) -> dict[int, dict]:
    def all_done() -> dict[int, dict] | None:
        current = tasks()
        return current if all(current[i]["status"] == "Done" for i in task_ids) else None

    return wait_until(all_done, timeout=timeout, interval=0.02)  # type: ignore[return-value]


def add(runq: RunqCli, *command: str, options: tuple[str, ...] = (), **kwargs: object) -> int:
    """`runq add -p OPTIONS -- COMMAND...` through the CLI; the new id."""
    result = runq("add", "-p", *options, "--", *command, **kwargs)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def ok(runq: RunqCli, *args: str, **kwargs: object) -> subprocess.CompletedProcess:
    result = runq(*args, **kwargs)
    assert result.returncode == 0, f"runq {' '.join(args)} -> {result.returncode}: {result.stderr}"
    return result


def pueue_status(runq: RunqCli, *args: str) -> dict:
    return json.loads(ok(runq, "status", "--json", *args).stdout)


def jq(program: str, text: str, *options: str) -> str:
    """Run the real jq (Debian's 1.6) on `text`; jq failing fails the test."""
    result = subprocess.run([JQ, *options, program], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"jq {program!r} failed: {result.stderr}"
    return result.stdout


def jq_json(program: str, text: str) -> object:
    return json.loads(jq(program, text, "-c"))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """A refused command: non-zero exit, one line on stderr, no traceback, nothing on stdout."""
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


def cli_wrapper(bin_dir: Path) -> Path:
    """A `runq` (and `python`) on PATH for shell snippets: the real CLI through its fast launcher."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    runq = bin_dir / "runq"
    runq.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S {FASTPATH} \"$@\"\n")
    runq.chmod(0o755)
    python = bin_dir / "python"
    if not python.exists():
        python.symlink_to(sys.executable)
    return bin_dir


def daemon_pid(home: Path) -> int:
    return int((home / "run" / "daemon.pid").read_text())


def daemon_pids(home: Path) -> list[int]:
    """Live runq daemon processes serving this RUNQ_HOME.

    Task supervisors are forks of the daemon, with its command line, that lead their own session
    (and outlive a crashed daemon); the daemon itself never leads one.
    """
    marker = f"RUNQ_HOME={home}".encode()
    found: dict[int, tuple[int, int]] = {}  # pid -> (parent, session)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if marker in environ and b"runq.engine.daemon" in cmdline and fields[0] != b"Z":
            found[int(entry)] = (int(fields[1]), int(fields[3]))
    return sorted(pid for pid, (parent, session) in found.items() if session != pid and parent not in found)


def kill_home_processes(home: Path) -> None:
    """SIGKILL the daemon, supervisors and tasks of a RUNQ_HOME that no per-test fixture owns."""
    marker = f"RUNQ_HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker not in handle.read().split(b"\0"):
                    continue
            os.kill(int(entry), 9)
        except OSError:
            continue


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI for fixtures wider than one test (the `runq` fixture is per test)."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run([sys.executable, "-m", "runq", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
