"""The pueue 4 command set through the real CLI: selection, scheduling, dependencies, ids,
stash/enqueue/delay, pause/start, kill, restart, remove, groups, argv and environment, bad input,
broken config, hostile clients, racing auto-starts and stale runtime files.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import wait_until  # noqa: E402
from queue_probe import (add, cli, daemon_pid, daemon_pids, groups, kill_home_processes, ok,  # noqa: E402
                         one_error_line, task, tasks, wait_done, wait_for)

from runq.client.connection import connect  # noqa: E402


def log_of(home: Path, task_id: int) -> str:
    """The task's log so far ("" before its supervisor has created it)."""
    try:
        return (home / "task_logs" / f"{task_id}.log").read_text()
    except FileNotFoundError:
        return ""


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[0].decode()


def results(*task_ids: int) -> list[object]:
    current = tasks()
    return [current[i]["result"] if current[i]["status"] == "Done" else current[i]["status"] for i in task_ids]


# ---- argv, shell strings, environment, working directory -----------------------------------------

def test_several_arguments_keep_their_argv(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    add(runq, "python3", "-c", "print(42)")
    add(runq, "printf", "%s|", "a  b", "c'd", "$HOME", "*")
    wait_done(0, 1)
    assert log_of(home, 0) == "42\n"
    assert log_of(home, 1) == "a  b|c'd|$HOME|*|"


def test_one_argument_is_a_shell_string(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    add(runq, "echo a && echo b | tr b c")
    wait_done(0)
    assert log_of(home, 0) == "a\nc\n"


def test_escape_turns_a_single_argument_into_one_word(runq) -> None:  # type: ignore[no-untyped-def]
    add(runq, "echo hi", options=("--escape",))
    assert wait_done(0)[0]["exit_code"] == 127


def test_task_gets_the_clients_environment_at_add_time(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "grp", env={"DAEMON_ONLY": "from-the-daemon"})
    script = 'echo "$CLIENT_VAR|${DAEMON_ONLY:-unset}|$PUEUE_GROUP|$PUEUE_WORKER_ID|$RUNQ_TASK_ID"'
    add(runq, script, options=("-g", "grp"), env={"CLIENT_VAR": "from-the-client"})
    wait_done(0)
    assert log_of(home, 0) == "from-the-client|unset|grp|0|0\n"


def test_an_environment_with_undecodable_bytes_is_captured_exactly(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Regression: one non-UTF-8 byte anywhere in the client's environment failed every add and run."""
    latin1 = {"LATIN1_VALUE": os.fsdecode(b"caf\xe9")}
    add(runq, 'printf %s "$LATIN1_VALUE" | od -An -tx1', env=latin1)
    wait_done(0)
    assert log_of(home, 0).split() == ["63", "61", "66", "e9"]
    ran = runq("run", "--", 'printf %s "$LATIN1_VALUE"', env=latin1, text=False)
    assert (ran.returncode, ran.stdout) == (0, b"caf\xe9")


def test_worker_id_is_the_lowest_free_slot(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "pool", "-p", "2")
    script = "echo $PUEUE_WORKER_ID; exec sleep 60"
    for _ in range(3):
        add(runq, script, options=("-g", "pool"))
    wait_for(0, "Running"), wait_for(1, "Running")
    wait_until(lambda: log_of(home, 0) and log_of(home, 1))
    assert (log_of(home, 0), log_of(home, 1)) == ("0\n", "1\n")
    ok(runq, "kill", "0")
    wait_for(2, "Running")
    wait_until(lambda: log_of(home, 2))
    assert log_of(home, 2) == "0\n"


def test_working_directory_is_the_clients_or_the_option(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    add(runq, "pwd", cwd=str(tmp_path))
    add(runq, "pwd", options=("-w", "sub"), cwd=str(tmp_path))
    wait_done(0, 1)
    assert log_of(home, 0) == f"{tmp_path.resolve()}\n"
    assert log_of(home, 1) == f"{(tmp_path / 'sub').resolve()}\n"


# ---- scheduling ----------------------------------------------------------------------------------

def test_priority_then_id_decides_the_start_order(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    order = tmp_path / "order"
    ok(runq, "group", "add", "one")
    ok(runq, "pause", "-g", "one")
    for priority in (0, 5, 0, 5, -1, 9):
        add(runq, f"echo $RUNQ_TASK_ID >> {order}", options=("-g", "one", "-o", str(priority)))
    ok(runq, "start", "-g", "one")
    ok(runq, "wait", "-g", "one", "-q")
    assert order.read_text().split() == ["5", "1", "3", "0", "2", "4"]


def test_slots_limit_running_tasks(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "two", "-p", "2")
    for _ in range(3):
        add(runq, "sleep 60", options=("-g", "two"))
    wait_for(0, "Running"), wait_for(1, "Running")
    assert task(2)["status"] == "Queued"
    ok(runq, "kill", "1")
    wait_for(2, "Running")
    assert results(0, 1, 2) == ["Running", "Killed", "Running"]


def test_parallel_zero_is_unlimited(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "wide", "-p", "0")
    for _ in range(5):
        add(runq, "sleep 60", options=("-g", "wide"))
    for task_id in range(5):
        wait_for(task_id, "Running")


def test_parallel_changes_the_limit_without_stopping_running_tasks(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "g", "-p", "2")
    for _ in range(3):
        add(runq, "sleep 60", options=("-g", "g"))
    wait_for(0, "Running"), wait_for(1, "Running")
    ok(runq, "parallel", "1", "-g", "g")
    assert groups()["g"]["parallel_tasks"] == 1
    assert results(0, 1, 2) == ["Running", "Running", "Queued"]
    ok(runq, "parallel", "3", "-g", "g")
    wait_for(2, "Running")
    ok(runq, "parallel", "4")  # no -g: the default group
    assert groups()["default"]["parallel_tasks"] == 4


def test_force_start_ignores_pause_slots_and_dependencies(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "pause", "-g", "default")
    blocker = add(runq, "sleep 60", options=("--stashed",))
    immediate = add(runq, "sleep 60", options=("--immediate", "--after", str(blocker)))
    queued = add(runq, "true")
    assert wait_for(immediate, "Running")["dependencies"] == [blocker]
    assert task(queued)["status"] == "Queued"
    started = ok(runq, "start", str(queued))
    assert started.stdout.strip() == f"Tasks are being started: {queued}"
    assert wait_done(queued)[queued]["result"] == "Success"
    ok(runq, "start", str(blocker))  # a stashed task is force-started too
    wait_for(blocker, "Running")


def test_adding_to_a_paused_group_says_so(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "pause", "-g", "default")
    added = ok(runq, "add", "--", "true")
    assert added.stdout == "New task added (id 0).\nThe group of this task is currently paused!\n"
    assert ok(runq, "add", "-p", "--", "true").stdout == "1\n"


# ---- dependencies --------------------------------------------------------------------------------

def test_a_dependent_waits_for_all_its_dependencies(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    ok(runq, "group", "add", "deps", "-p", "0")
    first = add(runq, "true", options=("-g", "deps"))
    second = add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done", options=("-g", "deps"))
    dependent = add(runq, "true", options=("-g", "deps", "--after", str(first), str(second)))
    wait_done(first)
    wait_for(second, "Running")
    assert task(dependent)["status"] == "Queued"
    gate.touch()
    assert wait_done(dependent)[dependent]["result"] == "Success"


def test_a_failed_dependency_fails_every_queued_dependent_at_once(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    ok(runq, "group", "add", "side", "-p", "0")
    root = add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 1")
    ok_dep = add(runq, "true", options=("-g", "side"))
    child = add(runq, "true", options=("--after", str(root)))
    grandchild = add(runq, "true", options=("-g", "side", "--after", str(child), str(ok_dep)))
    great = add(runq, "true", options=("--after", str(grandchild)))
    stashed = add(runq, "true", options=("--stashed", "--after", str(root)))
    wait_for(root, "Running")
    gate.touch()
    ok(runq, "wait", str(root), "-q")
    # No polling here: by the time `wait` saw the failure, every level had been marked.
    assert results(root, child, grandchild, great, stashed) == [
        "Failed", "DependencyFailed", "DependencyFailed", "DependencyFailed", "Stashed"]
    failed = task(great)
    assert failed["start"] == failed["end"] is not None


def test_dependents_in_a_paused_group_are_left_queued(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "held")
    ok(runq, "pause", "-g", "held")
    failing = add(runq, "exit 1")
    dependent = add(runq, "true", options=("-g", "held", "--after", str(failing)))
    wait_done(failing)
    ok(runq, "wait", str(failing), "-q")
    assert task(dependent)["status"] == "Queued"


def test_repeated_after_options_accumulate(runq) -> None:  # type: ignore[no-untyped-def]
    """Regression: argparse kept only the last `-a` list, silently dropping dependencies."""
    first, second, third = (add(runq, "true", options=("--stashed",)) for _ in range(3))
    dependent = add(runq, "true", options=("--stashed", "-a", str(first), "-a", str(second), str(third)))
    assert task(dependent)["dependencies"] == [first, second, third]


def test_a_dependency_is_removed_only_with_its_unfinished_dependants(runq) -> None:  # type: ignore[no-untyped-def]
    dependency = add(runq, "true", options=("--stashed",))
    dependent = add(runq, "true", options=("--after", str(dependency)))
    refused = runq("remove", str(dependency))
    assert one_error_line(refused) == f"The command failed for tasks: {dependency}"
    ok(runq, "remove", str(dependency), str(dependent))
    assert tasks() == {}


def test_a_dependency_that_no_longer_exists_counts_as_met(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "other")
    dependency = add(runq, "true", options=("-g", "other", "--stashed"))
    dependent = add(runq, "true", options=("--after", str(dependency)))
    assert task(dependent)["status"] == "Queued"
    ok(runq, "reset", "-g", "other")  # the one way to drop a task another still depends on
    assert wait_done(dependent)[dependent]["result"] == "Success"


# ---- ids -----------------------------------------------------------------------------------------

def test_ids_are_never_reused_after_clean_reset_or_a_daemon_restart(runq) -> None:  # type: ignore[no-untyped-def]
    for expected in range(3):
        assert add(runq, "true") == expected
    wait_done(0, 1, 2)
    ok(runq, "clean")
    assert tasks() == {}
    assert add(runq, "true") == 3
    ok(runq, "reset")
    assert add(runq, "true") == 4
    wait_done(4)
    ok(runq, "shutdown")
    assert add(runq, "true") == 5


# ---- stash, enqueue, delay -----------------------------------------------------------------------

def test_stash_and_enqueue(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "pause", "-g", "default")
    queued = add(runq, "true")
    stashed = add(runq, "true", options=("--stashed",))
    ok(runq, "stash", str(queued))
    assert results(queued, stashed) == ["Stashed", "Stashed"]
    assert ok(runq, "enqueue").stdout.strip() == f"Tasks are enqueued: {queued}, {stashed}"
    assert results(queued, stashed) == ["Queued", "Queued"]
    ok(runq, "stash")  # no ids: every queued task of the default group
    assert results(queued, stashed) == ["Stashed", "Stashed"]
    ok(runq, "enqueue", str(stashed))
    ok(runq, "start", "-g", "default")
    assert wait_done(stashed)[stashed]["result"] == "Success"
    assert task(queued)["status"] == "Stashed"


def test_a_delayed_task_enqueues_itself(runq) -> None:  # type: ignore[no-untyped-def]
    delayed = add(runq, "true", options=("--delay", "1"))
    record = task(delayed)
    assert record["status"] == "Stashed" and record["enqueue_at"] is not None
    assert wait_done(delayed)[delayed]["result"] == "Success"
    assert task(delayed)["start"] >= record["enqueue_at"]


def test_stash_and_enqueue_with_a_delay(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "pause", "-g", "default")
    first = add(runq, "true")
    ok(runq, "stash", str(first), "--delay", "1h")
    assert task(first)["enqueue_at"] > time.time() + 3000
    ok(runq, "enqueue", str(first), "--delay", "1")
    assert task(first)["enqueue_at"] < time.time() + 60
    ok(runq, "start", "-g", "default")
    assert wait_done(first)[first]["result"] == "Success"


# ---- pause and start -----------------------------------------------------------------------------

def test_pausing_a_group_stops_its_running_tasks_and_start_resumes_them(runq) -> None:  # type: ignore[no-untyped-def]
    running = add(runq, "sleep 60")
    queued = add(runq, "true")
    wait_for(running, "Running")
    pid = int(wait_until(lambda: task(running)["pgid"]))  # type: ignore[call-overload]
    ok(runq, "pause", "-g", "default")
    assert results(running, queued) == ["Paused", "Queued"]
    assert groups()["default"]["status"] == "Paused"
    wait_until(lambda: process_state(pid) == "T")
    ok(runq, "start", "-g", "default")
    assert results(running, queued) == ["Running", "Queued"]
    wait_until(lambda: process_state(pid) != "T")


def test_pause_wait_lets_running_tasks_finish(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    running = add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done")
    queued = add(runq, "true")
    wait_for(running, "Running")
    ok(runq, "pause", "-g", "default", "--wait")
    assert results(running, queued) == ["Running", "Queued"]
    gate.touch()
    wait_done(running)
    assert task(queued)["status"] == "Queued"


def test_pause_and_start_one_task(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "g", "-p", "0")
    first = add(runq, "sleep 60", options=("-g", "g"))
    second = add(runq, "sleep 60", options=("-g", "g"))
    wait_for(first, "Running"), wait_for(second, "Running")
    ok(runq, "pause", str(first))
    assert results(first, second) == ["Paused", "Running"]
    assert groups()["g"]["status"] == "Running"
    ok(runq, "start", str(first))
    assert results(first, second) == ["Running", "Running"]
    ok(runq, "kill", str(second))
    wait_done(second)
    # Regression: pausing a task that is not running was reported as done.
    assert one_error_line(runq("pause", str(second))) == f"The command failed for tasks: {second}"
    partial = ok(runq, "pause", str(first), str(second))
    assert partial.stdout == f"Tasks are being paused: {first}\nThe command failed for tasks: {second}\n"


def test_pause_and_start_all_groups(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "other")
    running = add(runq, "sleep 60", options=("-g", "other"))
    wait_for(running, "Running")
    ok(runq, "pause", "-a")
    assert {name: g["status"] for name, g in groups().items()} == {"default": "Paused", "other": "Paused"}
    assert task(running)["status"] == "Paused"
    ok(runq, "start", "-a")
    assert {name: g["status"] for name, g in groups().items()} == {"default": "Running", "other": "Running"}
    assert task(running)["status"] == "Running"


# ---- kill ----------------------------------------------------------------------------------------

def test_kill_is_sigkill_to_the_whole_process_group(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    killed = add(runq, "sleep 60 & echo $!; wait")
    wait_until(lambda: log_of(home, killed).strip())
    child = int(log_of(home, killed))
    ok(runq, "kill", str(killed))
    record = wait_done(killed)[killed]
    assert (record["result"], record["signal"]) == ("Killed", signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{child}") or process_state(child) == "Z")


@pytest.mark.parametrize("spelling", ["sigterm", "term", "15", "TERM"])
def test_kill_with_a_signal_lets_the_task_handle_it(runq, home: Path, spelling: str) -> None:  # type: ignore[no-untyped-def]
    trapped = add(runq, "trap 'exit 7' TERM; echo ready; sleep 60 & wait")
    wait_until(lambda: log_of(home, trapped) == "ready\n")  # the trap is set
    ok(runq, "kill", "-s", spelling, str(trapped))
    record = wait_done(trapped)[trapped]
    assert (record["result"], record["exit_code"]) == ("Failed", 7)


def test_killing_a_group_pauses_it_when_queued_work_remains(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "busy")
    ok(runq, "group", "add", "idle")
    running = add(runq, "sleep 60", options=("-g", "busy"))
    add(runq, "true", options=("-g", "busy"))
    alone = add(runq, "sleep 60", options=("-g", "idle"))
    wait_for(running, "Running"), wait_for(alone, "Running")
    ok(runq, "kill", "-g", "busy")
    ok(runq, "kill", "-g", "idle")
    wait_done(running, alone)
    assert groups()["busy"]["status"] == "Paused"
    assert groups()["idle"]["status"] == "Running"


def test_kill_all(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "other")
    first = add(runq, "sleep 60")
    second = add(runq, "sleep 60", options=("-g", "other"))
    wait_for(first, "Running"), wait_for(second, "Running")
    ok(runq, "kill", "-a")
    wait_done(first, second)
    assert results(first, second) == ["Killed", "Killed"]


# ---- restart -------------------------------------------------------------------------------------

def test_restart_adds_a_copy_without_dependencies(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    dependency = add(runq, "true")
    original = add(runq, "echo again", options=("-l", "lbl", "-o", "3", "--after", str(dependency)))
    wait_done(dependency, original)
    restarted = ok(runq, "restart", str(original))
    assert restarted.stdout.strip() == f"Restarted tasks: {original}"
    copy = wait_done(2)[2]
    assert (copy["command"], copy["label"], copy["priority"], copy["dependencies"]) == ("echo again", "lbl", 3, [])
    assert task(original)["status"] == "Done" and log_of(home, 2) == "again\n"


def test_restart_in_place_reruns_the_same_id(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    flaky = add(runq, f"if [ -e {marker} ]; then echo second; else touch {marker}; echo first; exit 1; fi")
    assert wait_done(flaky)[flaky]["result"] == "Failed"
    ok(runq, "restart", "--in-place", str(flaky))
    record = wait_done(flaky)[flaky]
    assert record["result"] == "Success" and log_of(home, flaky) == "second\n"
    assert sorted(tasks()) == [flaky]


def test_fix_and_restart_in_place_keeps_a_paused_dependant_chain(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """pueue's #147 workflow: dependants wait in a paused group while the failed step is rerun."""
    fixed = tmp_path / "fixed"
    ok(runq, "group", "add", "later")
    ok(runq, "pause", "-g", "later")
    step = add(runq, f"test -e {fixed}")
    dependant = add(runq, "true", options=("-g", "later", "--after", str(step)))
    assert wait_done(step)[step]["result"] == "Failed"
    assert task(dependant)["status"] == "Queued"
    fixed.touch()
    ok(runq, "restart", "--in-place", str(step))
    assert wait_done(step)[step]["result"] == "Success"
    ok(runq, "start", "-g", "later")
    assert wait_done(dependant)[dependant]["result"] == "Success"


def test_restart_all_failed_and_refusals(runq) -> None:  # type: ignore[no-untyped-def]
    good = add(runq, "true")
    bad = add(runq, "exit 1")
    running = add(runq, "sleep 60", options=("--immediate",))
    wait_done(good, bad)
    assert one_error_line(runq("restart", str(running))) == f"The command failed for tasks: {running}"
    ok(runq, "restart", "--all-failed")
    assert task(3)["command"] == "exit 1"
    assert sorted(tasks()) == [good, bad, running, 3]


# ---- remove, clean, reset ------------------------------------------------------------------------

def test_remove_rules(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    done = add(runq, "echo x")
    wait_done(done)
    running = add(runq, "sleep 60")
    queued = add(runq, "true")
    stashed = add(runq, "true", options=("--stashed",))
    wait_for(running, "Running")
    assert (home / "task_logs" / f"{done}.log").exists()
    partial = ok(runq, "remove", str(done), str(running), str(queued), str(stashed))
    assert partial.stdout == f"Tasks removed from list: {done}, {queued}, {stashed}\nThe command failed for tasks: {running}\n"
    assert sorted(tasks()) == [running]
    assert not (home / "task_logs" / f"{done}.log").exists()


def test_clean_successful_only_and_by_group(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "other")
    good = add(runq, "true")
    bad = add(runq, "exit 1")
    other = add(runq, "true", options=("-g", "other"))
    wait_done(good, bad, other)
    ok(runq, "clean", "--successful-only", "-g", "default")
    assert sorted(tasks()) == [bad, other]
    ok(runq, "clean")
    assert tasks() == {}


def test_clean_keeps_a_done_task_with_an_unfinished_dependant(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "held")
    ok(runq, "pause", "-g", "held")
    dependency = add(runq, "true")
    dependent = add(runq, "true", options=("-g", "held", "--after", str(dependency)))
    wait_done(dependency)
    ok(runq, "clean")
    assert sorted(tasks()) == [dependency, dependent]


def test_reset_kills_and_removes_the_tasks_but_keeps_the_groups(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "keep", "-p", "3")
    running = add(runq, "sleep 60", options=("-g", "keep"))
    add(runq, "true", options=("--stashed",))
    wait_for(running, "Running")
    pid = int(wait_until(lambda: task(running)["pgid"]))  # type: ignore[call-overload]
    ok(runq, "reset")
    assert tasks() == {}
    assert groups()["keep"] == {"status": "Running", "parallel_tasks": 3}
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or process_state(pid) == "Z")


# ---- groups --------------------------------------------------------------------------------------

def test_group_add_list_and_remove(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "gpu", "-p", "3")
    ok(runq, "group", "add", "empty")
    listing = ok(runq, "group").stdout
    assert listing.splitlines() == ['Group "default" (1 parallel): running', 'Group "empty" (1 parallel): running',
                                    'Group "gpu" (3 parallel): running']
    add(runq, "true", options=("-g", "gpu"))
    assert "still has tasks" in one_error_line(runq("group", "remove", "gpu"))
    ok(runq, "group", "remove", "empty")
    assert sorted(groups()) == ["default", "gpu"]


# ---- wait and follow -----------------------------------------------------------------------------

def test_wait_exit_codes(runq) -> None:  # type: ignore[no-untyped-def]
    failing = add(runq, "exit 3")
    assert runq("wait", str(failing), "-q").returncode == 0, "like pueue: done is done, whatever the result"
    assert runq("wait", str(failing), "-q", "--status", "success").returncode == 1
    ok(runq, "group", "add", "none")
    empty = runq("wait", "-g", "none")
    assert empty.returncode == 0 and empty.stdout == "" and "No tasks found" in empty.stderr


def test_quiet_wait_streams_the_outcome_only(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`wait -q` prints nothing, so the daemon renders no task per change for it: one frame
    when subscribed, one with the outcome, whatever the number of tasks."""
    gate = tmp_path / "gate"
    first = add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done")
    failing = add(runq, "exit 4")
    with connect() as conn:
        frames = conn.stream("wait", target="success", quiet=True)
        assert next(frames) == {"ok": True, "event": "start", "tasks": []}
        gate.touch()
        rest = list(frames)
    assert rest == [{"ok": True, "done": True, "tasks": [], "failed": failing}]
    status = json.loads(ok(runq, "status", "--json").stdout)["tasks"]
    assert status[str(first)]["status"]["Done"]["result"] == "Success"


def test_wait_reports_progress_lines(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done")
    add(runq, "exit 2")
    wait_for(0, "Running")
    waiter = subprocess.Popen([sys.executable, "-m", "runq", "wait"], stdout=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout is not None
        first = waiter.stdout.readline()  # printed once the waiter is subscribed
        add(runq, "true")  # a task added to the selection later is waited for too
        gate.touch()
        rest, _ = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
    events = [line.split(" - ", 1)[1] for line in (first + rest).splitlines()]
    assert events == ["Found active Task 0 with status Running", "New task 2 with status Queued",
                      "Task 0 succeeded with 0", "Task 1 changed from Queued to Running", "Task 1 failed with 2",
                      "Task 2 changed from Queued to Running", "Task 2 succeeded with 0"]
    assert waiter.returncode == 0


def test_follow_streams_a_running_task_until_it_ends(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    script = f"echo one; while [ ! -e {gate} ]; do sleep 0.02; done; echo two; exit 5"
    followed = add(runq, script)
    wait_for(followed, "Running")
    follower = subprocess.Popen([sys.executable, "-m", "runq", "follow", str(followed)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "one\n"
        gate.touch()
        rest, _ = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert rest == "two\n" and follower.returncode == 0


# ---- shell and callbacks -------------------------------------------------------------------------

def test_the_shell_is_configurable(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[daemon]\nshell = ["sh", "-c"]\n')
    add(runq, 'echo "${BASH_VERSION:-not bash}"')
    wait_done(0)
    assert log_of(home, 0) == "not bash\n"


def test_callback_values_cannot_inject_shell_code(runq, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sentinel, pwned = tmp_path / "callbacks", tmp_path / "pwned"
    home.mkdir(parents=True, exist_ok=True)
    template = "echo '{{id}}|{{label}}' >> SENTINEL; echo \"{{command}}\" >> SENTINEL".replace("SENTINEL", str(sentinel))
    (home / "config.toml").write_text(f"[daemon]\ncallback = {json.dumps(template)}\n")  # a JSON string is a TOML string
    label = f"x'; touch {pwned}; echo '"
    command = f"echo '$(touch {pwned})' '`touch {pwned}`' '\"; touch {pwned}; \"'"  # harmless as the task runs it
    add(runq, command, options=("-l", label))
    wait_done(0)
    wait_until(lambda: sentinel.exists() and len(sentinel.read_text().splitlines()) == 2)
    assert sentinel.read_text().splitlines() == [f"0|{label}", command]
    assert not pwned.exists()


def test_a_failing_callback_never_stops_the_queue(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[daemon]\ncallback = "exit 3; {{id}}"\n')
    for _ in range(3):
        add(runq, "true")
    done = wait_done(0, 1, 2)
    assert [done[i]["result"] for i in (0, 1, 2)] == ["Success"] * 3
    assert ok(runq, "status").returncode == 0


def test_follow_without_an_id_needs_exactly_one_running_task(runq) -> None:  # type: ignore[no-untyped-def]
    assert "no running tasks" in one_error_line(runq("follow"))
    ok(runq, "parallel", "2")
    first, second = add(runq, "sleep 60"), add(runq, "sleep 60")
    wait_for(first, "Running"), wait_for(second, "Running")
    assert f"{first}, {second}" in one_error_line(runq("follow"))


def test_log_text_puts_headers_on_stderr_and_only_output_on_stdout(runq) -> None:  # type: ignore[no-untyped-def]
    add(runq, "echo one; echo two >&2", options=("-l", "lbl"))
    add(runq, "seq 1 30")
    add(runq, "true", options=("--stashed",))
    wait_done(0, 1)
    shown = ok(runq, "log")
    assert shown.stdout == "one\ntwo\n" + "".join(f"{n}\n" for n in range(16, 31))
    assert "Task 0: Success" in shown.stderr and "Label: lbl" in shown.stderr and "Task 2" not in shown.stderr
    assert ok(runq, "log", "1", "--lines", "2").stdout == "29\n30\n"


# ---- bad input: one line, non-zero, nothing changed ----------------------------------------------

BAD_INPUT = [
    ("log", "99"), ("kill", "99"), ("remove", "99"), ("restart", "99"), ("start", "99"), ("pause", "99"),
    ("stash", "99"), ("enqueue", "99"), ("wait", "99"), ("follow", "99"),
    ("add", "-g", "nope", "--", "true"), ("add", "--after", "99", "--", "true"),
    ("add", "--after", "0", "99", "--", "true"), ("add", "-w", "/no/such/dir", "--", "true"),
    ("group", "remove", "busy"), ("group", "remove", "default"), ("group", "remove", "nope"),
    ("group", "add", "busy"), ("parallel", "2", "-g", "nope"), ("kill", "-s", "bogus", "0"),
    ("status", "-g", "nope"), ("reset", "-g", "nope"), ("clean", "-g", "nope"), ("log", "-g", "nope"),
    ("wait", "-g", "nope"), ("start", "-g", "nope"), ("pause", "-g", "nope"), ("kill", "-g", "nope"),
    ("add", "--delay", "someday", "--", "true"), ("add", "--", ""), ("add", "--"),
    ("add", "--delay", "1e15", "--", "true"), ("enqueue", "2", "--delay", "1e15"),
    ("add", "-o", str(2 ** 80), "--", "true"), ("group", "add", "huge", "-p", str(2 ** 80)),
]


def _settle(runq) -> str:  # type: ignore[no-untyped-def]
    """Done, queued (in a paused group) and stashed tasks: a state no time passing changes."""
    ok(runq, "group", "add", "busy")
    ok(runq, "pause", "-g", "busy")
    add(runq, "true")
    add(runq, "true", options=("-g", "busy"))
    add(runq, "true", options=("--stashed",))
    wait_done(0)
    return ok(runq, "status", "--json").stdout


@pytest.fixture(scope="module")
def settled_home() -> Iterator[tuple[dict[str, str], str]]:
    """One settled queue shared by the bad-input cases (none may change it): env and its JSON."""
    root = Path(tempfile.mkdtemp(prefix="rqb"))
    home = root / "home"
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RUNQ_HOME", str(home))
            env.delenv("RUNQ_CONFIG", raising=False)
            settled = _settle(cli)
        yield {"RUNQ_HOME": str(home)}, settled
    finally:
        kill_home_processes(home)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("args", BAD_INPUT, ids=" ".join)
def test_bad_input_is_one_line_and_changes_nothing(runq, settled_home: tuple[dict[str, str], str],  # type: ignore[no-untyped-def]
                                                   args: tuple[str, ...]) -> None:
    env, settled = settled_home
    line = one_error_line(runq(*args, env=env))
    assert line
    assert ok(runq, "status", "--json", env=env).stdout == settled


def test_refused_adds_do_not_use_up_ids(runq) -> None:  # type: ignore[no-untyped-def]
    _settle(runq)
    for args in BAD_INPUT:
        if args[0] == "add":
            assert runq(*args).returncode != 0
    assert add(runq, "true") == 3


def test_help_and_unknown_commands_never_show_a_traceback(runq) -> None:  # type: ignore[no-untyped-def]
    """Regression: `runq --help` crashed when a listed subcommand had no module yet."""
    helped = runq("--help")
    assert helped.returncode == 0 and "add" in helped.stdout and helped.stderr == ""
    unknown = runq("frobnicate")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


# ---- broken config -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "names"), [
    ('[daemon]\ncallback_log_lines = "ten"\n', ["daemon.callback_log_lines", "must be int"]),
    ("[daemon]\ncalback = 'x'\n", ["unknown key daemon.calback"]),
    ("[deamon]\n", ["unknown section [deamon]"]),
    ("[daemon\n", ["invalid TOML", "line 1"]),
    ('[daemon]\nshutdown_policy = "never"\n', ["daemon.shutdown_policy", "must be one of"]),
    ('[daemon]\ncallback = "echo {{nope}}"\n', ["daemon.callback", "{{nope}}"]),
    (None, ["cannot read config", "Is a directory"]),
])
def test_a_broken_config_is_one_line_naming_file_key_and_problem(runq, home: Path, text: str | None,  # type: ignore[no-untyped-def]
                                                                  names: list[str]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    if text is None:
        config.mkdir()  # unreadable: reading it fails (chmod would not stop root)
    else:
        config.write_text(text)
    line = one_error_line(runq("status"))
    assert str(config) in line
    for name in names:
        assert name in line
    assert daemon_pids(home) == []


# ---- hostile clients, racing starts, stale files -------------------------------------------------

def _raw(home: Path, payload: bytes, read: bool = True) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(home / "run" / "daemon.sock"))
        sock.sendall(payload)
        if not read:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


GARBAGE = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    _frame(b"not json at all"),
    _frame(b"[1, 2, 3]"),
    _frame(b"\xff\xfe\x00"),
    _frame(b'{"no_cmd": true}'),
    _frame(b'{"cmd": "frobnicate"}'),
    _frame(b'{"cmd": "add", "command": 5, "cwd": "/"}'),
    _frame(b'{"cmd": "add", "command": "true", "cwd": "/", "env": "PATH"}'),
    _frame(b'{"cmd": "add", "command": "true", "cwd": "/", "after": "1"}'),
    _frame(b'{"cmd": "add", "command": "true", "cwd": "/", "priority": 1e999}'),
    _frame(b'{"cmd": "kill", "ids": [true]}'),
    _frame(b'{"cmd": "wait", "ids": [0], "target": "never"}'),
    _frame(b'{"cmd": "group_add", "name": {"a": 1}}'),
    _frame(b'{"cmd": "reset", "groups": "default"}'),
    _frame(b'{"cmd": "status", "group": ["x"]}'),
    b"\x00\x00",
]


def test_garbage_from_a_client_never_takes_the_daemon_down(runq, daemon: Path) -> None:  # type: ignore[no-untyped-def]
    pid = daemon_pid(daemon)
    for payload in GARBAGE:
        reply = _raw(daemon, payload)
        if len(reply) >= 4:
            body = json.loads(reply[4: 4 + int.from_bytes(reply[:4], "big")])
            assert body["ok"] is False and body["error"], payload
    # Hang up mid-request: half a header, a header promising more than is sent, a huge length.
    _raw(daemon, b"\x00", read=False)
    _raw(daemon, (1000).to_bytes(4, "big") + b'{"cmd": "add", "comm', read=False)
    _raw(daemon, (1 << 31).to_bytes(4, "big"), read=False)
    with connect(autostart=False) as conn:
        assert conn.call("ping")["pid"] == pid
    assert add(runq, "true") == 0
    assert wait_done(0)[0]["result"] == "Success"


def test_far_future_times_never_crash_the_daemon(runq, daemon: Path) -> None:  # type: ignore[no-untyped-def]
    """Regression: `add -d 1e15` overflowed the loop's epoll timeout, killing the daemon on every start."""
    pid = daemon_pid(daemon)
    far = add(runq, "true", options=("--timeout", "1e300"))
    assert one_error_line(runq("add", "--delay", "1e15", "--", "true")).endswith("year 9999")
    reply = _raw(daemon, _frame(b'{"cmd": "add", "command": "true", "cwd": "/", "delay_until": 1e300}'))
    assert json.loads(reply[4:])["ok"] is False
    assert wait_done(far)[far]["result"] == "Success"
    assert daemon_pid(daemon) == pid and daemon_pids(daemon) == [pid]


def test_a_client_that_disconnects_while_waiting_leaves_the_daemon_serving(runq, daemon: Path) -> None:  # type: ignore[no-untyped-def]
    running = add(runq, "sleep 0.3")
    for _ in range(5):
        _raw(daemon, _frame(json.dumps({"cmd": "wait", "ids": [running]}).encode()), read=False)
        _raw(daemon, _frame(b'{"cmd": "watch"}'), read=False)
    assert wait_done(running)[running]["result"] == "Success"
    assert ok(runq, "status").returncode == 0


def test_racing_auto_starts_end_with_one_daemon(home: Path) -> None:
    clients = [subprocess.Popen([sys.executable, "-m", "runq", "group"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outcomes = [client.communicate(timeout=60) + (client.returncode,) for client in clients]
    assert all(code == 0 for _, _, code in outcomes), outcomes
    survivors = wait_until(lambda: (pids := daemon_pids(home)) and len(pids) == 1 and pids)
    assert survivors == [daemon_pid(home)]


def test_stale_socket_and_pid_file_of_a_crashed_daemon_are_recovered(runq, daemon: Path) -> None:  # type: ignore[no-untyped-def]
    add(runq, "true")
    wait_done(0)
    crashed = daemon_pid(daemon)
    os.kill(crashed, signal.SIGKILL)
    wait_until(lambda: crashed not in daemon_pids(daemon))
    assert (daemon / "run" / "daemon.sock").exists() and (daemon / "run" / "daemon.pid").exists()
    assert add(runq, "true") == 1
    assert daemon_pid(daemon) != crashed
    wait_done(0, 1)
    assert results(0, 1) == ["Success", "Success"]


def test_leftover_runtime_files_without_any_daemon_are_recovered(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    run_dir = home / "run"
    run_dir.mkdir(parents=True, mode=0o700)
    (run_dir / "daemon.sock").write_text("not a socket")
    gone = subprocess.Popen(["true"])
    gone.wait()
    (run_dir / "daemon.pid").write_text(f"{gone.pid}\n")
    assert add(runq, "true") == 0
    assert wait_done(0)[0]["result"] == "Success"


def test_the_daemon_leaves_the_directory_it_was_started_from(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Auto-started from a directory that is later deleted (an agent's scratch dir), the daemon
    must not hold it open, and must keep serving with a relative RUNQ_HOME given at the start."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    home = Path(os.environ["RUNQ_HOME"])
    relative_home = os.path.relpath(home, scratch)
    env = dict(os.environ, RUNQ_HOME=relative_home)
    started = subprocess.run([sys.executable, "-m", "runq", "add", "-p", "--", "echo first"], cwd=scratch, env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    pid = daemon_pid(home)
    assert os.readlink(f"/proc/{pid}/cwd") == str(home.resolve())
    shutil.rmtree(scratch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-m", "runq", "run", "--", "pwd"], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"{elsewhere}\n"), result.stderr
    assert daemon_pid(home) == pid
