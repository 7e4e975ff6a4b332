"""Signals to `runq run`, its disappearance, timeouts, and a daemon that cannot be reached.

The task of a `runq run` lives in its own process group under a pooled supervisor, so the
tests find its processes through /proc (every task carries RUNQ_TASK_ID and this test's
RUNQ_HOME in its environment) and check they are really gone, not only that the queue says so.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until

SRC = Path(__file__).resolve().parents[2] / "src"
FASTPATH = [sys.executable, "-I", "-S", str(SRC / "runq" / "fastpath.py")]


def start_run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([*FASTPATH, "run", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def task_record(runq, task_id: int = 0) -> dict | None:  # type: ignore[no-untyped-def]
    result = runq("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["tasks"].get(str(task_id))


def status_name(record: dict | None) -> str | None:
    if record is None:
        return None
    status = record["status"]
    return status if isinstance(status, str) else next(iter(status))


def task_pids(home: Path, task_id: int = 0, program: bytes | None = None) -> list[int]:
    """Live (non-zombie) processes of one task of this RUNQ_HOME, optionally only those running `program`."""
    markers = {f"RUNQ_HOME={home}".encode(), f"RUNQ_TASK_ID={task_id}".encode()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = set(handle.read().split(b"\0"))
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if markers <= environ and state != b"Z" and (program is None or argv[0] == program):
            found.append(int(entry))
    return found


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, bytes, bytes]:
    stdout, stderr = proc.communicate(timeout=timeout)
    return proc.returncode, stdout, stderr


@pytest.fixture
def sleeping(home: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`runq run -- sleep 100`, returned once the sleep itself runs."""
    procs = []

    def launch(*options: str) -> subprocess.Popen:
        proc = start_run(*options, "--", "sleep 100", cwd=tmp_path)
        procs.append(proc)
        wait_until(lambda: task_pids(home, program=b"sleep"))
        return proc

    yield launch
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_to_run_stops_the_task_and_exits_like_it(sig: int, code: int, sleeping, runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    proc = sleeping()
    proc.send_signal(sig)
    assert finish(proc) == (code, b"", b"")
    assert task_pids(home) == []
    record = task_record(runq)
    assert status_name(record) == "Done" and record is not None
    assert record["status"]["Done"]["result"] == "Killed"
    assert record["runq"]["signal"] == sig


def test_sigint_reaches_a_task_that_traps_it(home: Path, tmp_path: Path) -> None:
    """The signal goes to the task, which decides: here it cleans up and exits 3, so runq run exits 3."""
    gate = tmp_path / "gate"
    command = f"trap 'echo cleaning up; exit 3' INT; touch '{gate}'; while :; do sleep 0.05; done"
    proc = start_run("--", command, cwd=tmp_path)
    wait_until(gate.exists)
    proc.send_signal(signal.SIGINT)
    assert finish(proc) == (3, b"cleaning up\n", b"")
    assert task_pids(home) == []


def test_sigkill_of_run_makes_the_daemon_kill_the_task(sleeping, runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    proc = sleeping()
    (sleeper,) = task_pids(home, program=b"sleep")
    proc.kill()
    proc.wait()
    wait_until(lambda: not task_pids(home))
    assert not os.path.exists(f"/proc/{sleeper}") or sleeper not in task_pids(home)
    wait_until(lambda: status_name(task_record(runq)) == "Done")
    assert task_record(runq)["status"]["Done"]["result"] == "Killed"  # type: ignore[index]


def test_detach_keeps_the_task_running_after_run_is_killed(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate, ready = tmp_path / "gate", tmp_path / "ready"
    command = f"touch '{ready}'; while [ ! -e '{gate}' ]; do sleep 0.05; done; echo finished"
    proc = start_run("--detach", "--", command, cwd=tmp_path)
    wait_until(ready.exists)
    proc.kill()
    proc.wait()
    # A status round trip after the client is dead: the daemon has seen the hang-up by then
    # (its EOF was pending before this connection existed).
    assert status_name(task_record(runq)) == "Running"
    assert task_pids(home)
    gate.touch()
    wait_until(lambda: status_name(task_record(runq)) == "Done")
    assert task_record(runq)["status"]["Done"]["result"] == "Success"  # type: ignore[index]
    log = runq("log", "0", "--full")
    assert "finished" in log.stdout


def test_timeout_exits_124_and_stops_the_task(sleeping, runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    proc = sleeping("--timeout", "1")
    assert finish(proc) == (124, b"", b"")
    assert task_pids(home) == []
    record = task_record(runq)
    assert record is not None and record["runq"]["timed_out"] is True
    assert record["runq"]["signal"] == signal.SIGTERM  # sleep obeyed the TERM: no SIGKILL was needed


def test_timeout_escalates_to_sigkill_after_the_grace_period(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[daemon]\nkill_grace = 1\n")
    proc = start_run("--timeout", "1", "--", "trap '' TERM; sleep 100", cwd=tmp_path)
    assert finish(proc) == (124, b"", b"")
    assert task_pids(home) == []
    record = task_record(runq)
    assert record is not None and record["runq"]["timed_out"] is True
    assert record["runq"]["signal"] == signal.SIGKILL


def test_sigint_while_waiting_for_a_group_slot(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A task still queued is never started once its caller is interrupted."""
    gate = tmp_path / "gate"
    assert runq("group", "add", "narrow", "--parallel", "1").returncode == 0
    assert runq("add", "-g", "narrow", "--", f"while [ ! -e '{gate}' ]; do sleep 0.05; done").returncode == 0
    wait_until(lambda: status_name(task_record(runq, 0)) == "Running")
    marker = tmp_path / "ran"
    proc = start_run("-g", "narrow", "--", f"touch '{marker}'", cwd=tmp_path)
    try:
        wait_until(lambda: status_name(task_record(runq, 1)) == "Queued")
        proc.send_signal(signal.SIGINT)
        assert finish(proc) == (130, b"", b"")
        gate.touch()
        wait_until(lambda: status_name(task_record(runq, 0)) == "Done")
        assert status_name(task_record(runq, 1)) == "Done"
        assert not marker.exists()
    finally:
        gate.touch()


def test_output_and_status_survive_a_daemon_crash(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The supervisor writes to the caller directly and outlives the daemon; runq run reattaches."""
    gate, ready = tmp_path / "gate", tmp_path / "ready"
    command = f"echo first; touch '{ready}'; while [ ! -e '{gate}' ]; do sleep 0.05; done; echo second; exit 5"
    proc = start_run("--", command, cwd=tmp_path)
    wait_until(ready.exists)
    daemon_pid = int((home / "run" / "daemon.pid").read_text())
    os.kill(daemon_pid, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{daemon_pid}") or _is_zombie(daemon_pid))
    gate.touch()
    assert finish(proc) == (5, b"first\nsecond\n", b"")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


# ---- a daemon that cannot be reached or started --------------------------------------------------

def _unreachable(tmp_path: Path, runq_home: str) -> tuple[int, bytes, bytes]:
    marker = tmp_path / "ran"
    env = {**os.environ, "RUNQ_HOME": runq_home}
    result = subprocess.run([*FASTPATH, "run", "--", f"touch '{marker}'"], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert not marker.exists(), "the command ran although runq reported a failure"
    return result.returncode, result.stdout, result.stderr


def _one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert "Traceback" not in text
    return text


def test_home_under_a_regular_file_exits_125_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    code, stdout, stderr = _unreachable(tmp_path, str(blocker / "home"))
    assert (code, stdout) == (125, b"")
    line = _one_line(stderr)
    assert line.startswith("runq: ") and str(blocker) in line


def test_socket_path_too_long_exits_125_with_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    code, stdout, stderr = _unreachable(tmp_path, str(deep))
    assert (code, stdout) == (125, b"")
    line = _one_line(stderr)
    assert line.startswith("runq: ") and "too long" in line


def test_sigint_right_as_the_task_starts_is_not_lost(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C the moment the task is Running (its pid may not be known to the daemon yet)."""
    for task_id in range(3):
        proc = start_run("--", "sleep 100", cwd=tmp_path)
        wait_until(lambda: status_name(task_record(runq, task_id)) == "Running")
        proc.send_signal(signal.SIGINT)
        assert finish(proc) == (130, b"", b"")
        wait_until(lambda: not task_pids(home, task_id))
        assert status_name(task_record(runq, task_id)) == "Done"
