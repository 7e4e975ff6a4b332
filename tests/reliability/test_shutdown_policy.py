"""`runq shutdown` and SIGTERM follow daemon.shutdown_policy, never pueue's silent kill.

detach (default): running tasks keep running and the next daemon adopts them.
wait: no new task starts, the daemon exits once the running ones end.
kill: running tasks are killed and recorded as Killed.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import wait_until
from reliability_support import add, alive, call, daemon_pid, group_alive, held_lock, tasks, write_config


def _running(home: Path, task_id: int) -> dict | None:
    task = tasks(home)[task_id]
    return task if task["status"] == "Running" and task["pgid"] else None



def test_shutdown_default_detaches_running_task_and_next_daemon_adopts_it(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    lock = tmp_path / "lock"
    with held_lock(lock):
        task_id = add(home, f"echo up; flock -s {lock} true; echo down; exit 3")
        pgid = wait_until(lambda: _running(home, task_id))["pgid"]
        old_pid = daemon_pid(home)
        result = runq("shutdown")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: not alive(old_pid))
        assert group_alive(pgid), "shutdown killed a running task under the detach policy"
        assert runq("status").returncode == 0
        assert tasks(home)[task_id]["status"] == "Running"
        released_at = time.time()
    assert runq("wait", str(task_id)).returncode == 0
    task = tasks(home)[task_id]
    assert (task["result"], task["exit_code"]) == ("Failed", 3)
    assert task["end"] >= released_at
    assert (home / "task_logs" / f"{task_id}.log").read_text() == "up\ndown\n"


def test_shutdown_kill_tasks_kills_and_records_killed(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    with held_lock(tmp_path / "lock"):
        task_id = add(home, f"flock -s {tmp_path / 'lock'} true")
        pgid = wait_until(lambda: _running(home, task_id))["pgid"]
        old_pid = daemon_pid(home)
        assert runq("shutdown", "--kill-tasks").returncode == 0
        wait_until(lambda: not alive(old_pid))
        assert not group_alive(pgid)
    assert runq("status").returncode == 0
    task = tasks(home)[task_id]
    assert (task["status"], task["result"], task["signal"]) == ("Done", "Killed", signal.SIGKILL)


def test_shutdown_wait_tasks_starts_nothing_new_and_exits_when_running_ones_end(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    lock = tmp_path / "lock"
    with held_lock(lock):
        running = add(home, f"flock -s {lock} true; echo finished")
        queued = add(home, "echo must-wait-for-the-next-daemon")
        wait_until(lambda: _running(home, running))
        old_pid = daemon_pid(home)
        assert runq("shutdown", "--wait-tasks").returncode == 0
        assert alive(old_pid)  # still serving its running task
        refused = runq("add", "--", "true")
        assert refused.returncode != 0 and "shutting down" in refused.stderr
        assert tasks(home)[queued]["status"] == "Queued"
    wait_until(lambda: not alive(old_pid))
    # The queued task did not run during the drain: its log does not exist yet.
    assert not (home / "task_logs" / f"{queued}.log").exists()
    assert runq("wait", str(queued)).returncode == 0
    final = tasks(home)
    assert final[running]["result"] == "Success"
    assert final[queued]["result"] == "Success"
    assert final[queued]["start"] >= final[running]["end"]


def test_sigterm_to_daemon_detaches_by_default(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    lock = tmp_path / "lock"
    with held_lock(lock):
        task_id = add(home, f"flock -s {lock} true; exit 4")
        pgid = wait_until(lambda: _running(home, task_id))["pgid"]
        old_pid = daemon_pid(home)
        os.kill(old_pid, signal.SIGTERM)
        wait_until(lambda: not alive(old_pid))
        assert group_alive(pgid)
        assert not (home / "run" / "daemon.sock").exists()  # a clean exit removes its socket
    assert runq("wait", str(task_id)).returncode == 0
    assert (tasks(home)[task_id]["result"], tasks(home)[task_id]["exit_code"]) == ("Failed", 4)


def test_sigterm_to_daemon_follows_kill_policy_from_config(runq, home: Path, tmp_path: Path) -> None:
    write_config(home, '[daemon]\nshutdown_policy = "kill"\n')
    lock = tmp_path / "lock"
    with held_lock(lock):
        assert runq("group").returncode == 0
        task_id = add(home, f"flock -s {lock} true")
        pgid = wait_until(lambda: _running(home, task_id))["pgid"]
        old_pid = daemon_pid(home)
        os.kill(old_pid, signal.SIGTERM)
        wait_until(lambda: not alive(old_pid))
        assert not group_alive(pgid)
    assert runq("status").returncode == 0
    assert tasks(home)[task_id]["result"] == "Killed"


def test_sigterm_to_daemon_follows_wait_policy_from_config(runq, home: Path, tmp_path: Path) -> None:
    write_config(home, '[daemon]\nshutdown_policy = "wait"\n')
    lock = tmp_path / "lock"
    with held_lock(lock):
        assert runq("group").returncode == 0
        task_id = add(home, f"flock -s {lock} true")
        wait_until(lambda: _running(home, task_id))
        old_pid = daemon_pid(home)
        os.kill(old_pid, signal.SIGTERM)
        # Draining: it still answers, refuses new work, and stays up while the task runs.
        wait_until(lambda: "shutting down" in runq("add", "--", "true").stderr)
        assert alive(old_pid)
        assert call(home, "ping")["pid"] == old_pid
    wait_until(lambda: not alive(old_pid))
    assert runq("status").returncode == 0
    assert tasks(home)[task_id]["result"] == "Success"
