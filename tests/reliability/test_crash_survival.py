"""SIGKILL the daemon with 50 tasks in flight, start it again, and lose nothing.

pueue marks running tasks `Killed` after a daemon restart even though they still run, and pauses
every group until someone runs `start`. runq's tasks run under their own supervisors, so they must
keep running, be adopted by the next daemon and have their real end and exit code recorded.

Tasks block on a shared flock the test holds (`flock -s LOCK true`): no polling, and the lock
outlives the daemon because the test process holds it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import wait_until
from reliability_support import add, alive, call, daemon_pid, held_lock, history_rows, task_processes, tasks

SLOTS = 10
IN_FLIGHT = 50
LINES = 2000


def _blocked_command(number: int, lock: Path) -> str:
    return (f'echo "start {number}"; flock -s {lock} true; '
            f'seq 1 {LINES} | sed "s/^/{number}:/"; exit {number % 4}')


def _expected_log(number: int) -> str:
    return f"start {number}\n" + "".join(f"{number}:{line}\n" for line in range(1, LINES + 1))


def test_sigkill_with_50_tasks_in_flight_loses_nothing(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    lock = tmp_path / "lock"
    assert runq("group", "add", "g", "-p", str(SLOTS)).returncode == 0

    finished = [add(home, f"echo fin-{n}; exit {n}") for n in range(5)]
    wait_until(lambda: all(tasks(home)[i]["status"] == "Done" for i in finished))
    finished_before = {i: tasks(home)[i] for i in finished}

    with held_lock(lock):
        numbers = {add(home, _blocked_command(n, lock), group="g"): n for n in range(IN_FLIGHT)}
        run_out = tmp_path / "run.out"
        with open(run_out, "wb") as out:
            run_client = subprocess.Popen(
                [sys.executable, "-m", "runq", "run", "--", f"echo run-start; flock -s {lock} true; seq 1 5000; exit 7"],
                stdout=out, stderr=subprocess.PIPE)
        wait_out = tmp_path / "wait.out"
        with open(wait_out, "wb") as out:
            wait_client = subprocess.Popen([sys.executable, "-m", "runq", "wait", "-g", "g"],
                                           stdout=out, stderr=subprocess.PIPE, text=True)

        def running_and_logged() -> bool:
            current = tasks(home)
            running = [i for i in numbers if current[i]["status"] == "Running"]
            return len(running) == SLOTS and all(
                (home / "task_logs" / f"{i}.log").read_text().startswith("start") for i in running)

        wait_until(running_and_logged, timeout=60)
        wait_until(lambda: run_out.read_bytes() == b"run-start\n")
        wait_until(lambda: wait_out.read_text())  # the wait client is attached: it reported the running tasks
        before = tasks(home)
        running = sorted(i for i in numbers if before[i]["status"] == "Running")
        queued = sorted(i for i in numbers if before[i]["status"] == "Queued")
        assert len(running) == SLOTS and len(queued) == IN_FLIGHT - SLOTS

        old_pid = daemon_pid(home)
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: not alive(old_pid))
        crashed_at = time.time()
        for i in running:  # the tasks' own process groups outlive the daemon
            os.killpg(before[i]["pgid"], 0)

        restarted = runq("status")  # any client command starts the next daemon
        assert restarted.returncode == 0, restarted.stderr
        assert daemon_pid(home) != old_pid
        after = tasks(home)
        assert [i for i in running if after[i]["status"] != "Running"] == []
        assert [after[i]["start"] for i in running] == [before[i]["start"] for i in running]
        assert [i for i in queued if after[i]["status"] != "Queued"] == []
        assert {name: g["status"] for name, g in call(home, "groups")["groups"].items()} == \
            {"default": "Running", "g": "Running"}
        released_at = time.time()
    # The lock is released: the adopted tasks end, and the queued ones start without `runq start`.

    assert runq("wait", "-g", "g", timeout=120).returncode == 0
    final = tasks(home)
    for task_id, number in numbers.items():
        task = final[task_id]
        code = number % 4
        assert (task["status"], task["result"], task["exit_code"]) == \
            ("Done", "Success" if code == 0 else "Failed", code), task
        assert task["end"] >= released_at - 0.5, f"task {task_id} end recorded before it could end: {task}"
        log = (home / "task_logs" / f"{task_id}.log").read_text()
        assert log == _expected_log(number), f"task {task_id}: log of {len(log)} chars is incomplete"
    for task_id in running:
        assert final[task_id]["start"] < crashed_at
    for task_id, record in finished_before.items():
        assert {k: final[task_id][k] for k in ("status", "result", "exit_code", "start", "end")} == \
            {k: record[k] for k in ("status", "result", "exit_code", "start", "end")}

    # The attached clients: `run` reattached and exits with its task's status and full output;
    # `wait` reattached (saying so) and returned once the group was done.
    assert run_client.wait(timeout=60) == 7, run_client.stderr.read() if run_client.stderr else ""
    assert run_out.read_text() == "run-start\n" + "".join(f"{n}\n" for n in range(1, 5001))
    _, wait_err = wait_client.communicate(timeout=60)
    assert wait_client.returncode == 0, wait_err
    assert "reattaching" in wait_err

    # The history holds each finished task exactly once, with the state's result.
    final = tasks(home)
    rows = history_rows(home)
    assert sorted(r["task_id"] for r in rows) == sorted(final)
    assert {r["task_id"]: (r["result"], r["exit_code"]) for r in rows} == \
        {i: (t["result"], t["exit_code"]) for i, t in final.items()}


def test_task_ending_while_the_daemon_is_dead_is_recorded_not_killed(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    lock = tmp_path / "lock"
    with held_lock(lock):
        first = add(home, f"echo one; flock -s {lock} true; echo two; exit 5")
        second = add(home, "echo next")  # default group, one slot: queued behind the first
        wait_until(lambda: tasks(home)[first]["status"] == "Running" and tasks(home)[first]["pgid"])
        old_pid = daemon_pid(home)
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: not alive(old_pid))
    # The task ends with nobody listening; its supervisor leaves the exit file for the next daemon.
    exit_file = home / "task_logs" / f"{first}.exit"
    wait_until(exit_file.exists)
    ended_by = time.time()

    assert runq("wait", str(second)).returncode == 0  # starts the daemon; the queued task runs by itself
    final = tasks(home)
    assert (final[first]["result"], final[first]["exit_code"]) == ("Failed", 5)
    assert final[first]["end"] <= ended_by
    assert (home / "task_logs" / f"{first}.log").read_text() == "one\ntwo\n"
    assert final[second]["result"] == "Success"
    assert final[second]["start"] >= final[first]["end"]
    assert not exit_file.exists()


def test_end_the_daemon_received_but_never_saved_survives_its_crash(runq, daemon: Path, tmp_path: Path) -> None:
    """The worker keeps a report until the daemon confirms it saved. Stopped, the daemon cannot
    save or confirm the end it was sent; killed then, its worker must write the exit file."""
    home = daemon
    lock = tmp_path / "lock"
    with held_lock(lock):
        task = add(home, f"echo hi; flock -s {lock} true; exit 7")
        wait_until(lambda: tasks(home)[task]["status"] == "Running" and task_processes(home, task))
        pid = daemon_pid(home)
        os.kill(pid, signal.SIGSTOP)
    exit_file = home / "task_logs" / f"{task}.exit"
    try:
        wait_until(lambda: not task_processes(home, task))
        time.sleep(0.2)  # the worker sends its report to the stopped daemon, which cannot confirm it
        assert not exit_file.exists(), "the worker wrote its report to disk while the daemon lived"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: not alive(pid))
    wait_until(exit_file.exists)
    assert runq("wait", str(task)).returncode == 0  # a new daemon reads the exit file
    final = tasks(home)[task]
    assert (final["result"], final["exit_code"]) == ("Failed", 7)
    assert (home / "task_logs" / f"{task}.log").read_text() == "hi\n"
    assert not exit_file.exists()


def test_run_client_reattached_after_a_crash_still_forwards_ctrl_c(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    out = tmp_path / "run.out"
    with open(out, "wb") as handle:
        client = subprocess.Popen(
            [sys.executable, "-m", "runq", "run", "--", 'trap "echo got-int; exit 9" INT; echo ready; sleep 100 & wait'],
            stdout=handle, stderr=subprocess.STDOUT)
    wait_until(lambda: out.read_bytes() == b"ready\n")
    old_pid = daemon_pid(home)
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not alive(old_pid))
    assert runq("status").returncode == 0

    def interrupted() -> bool:
        # Until the client has reattached, a forwarded signal has nowhere to go: send it again.
        client.send_signal(signal.SIGINT)
        try:
            client.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            return False
        return True

    wait_until(interrupted, timeout=30)
    assert client.returncode == 9
    assert out.read_text() == "ready\ngot-int\n"
    task = next(iter(tasks(home).values()))
    assert (task["result"], task["exit_code"]) == ("Failed", 9)
