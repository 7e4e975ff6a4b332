"""Hostile task input: huge commands, control characters and escapes, unicode everywhere, bad
working directories, and 5 GB of output against a small log cap."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runq as runq_package
from conftest import wait_until
from reliability_support import add, call, daemon_pid, open_fds, rss_kb, tasks, worker_pids, write_config

# Anything a terminal could act on: C0 controls except newline, DEL, and C1 controls (CSI is \x9b).
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")


def _no_raw_controls(text: str) -> None:
    found = RAW_CONTROL.findall(text)
    assert not found, f"raw control characters reached the terminal: {sorted(set(found))!r}"


# ---- size ---------------------------------------------------------------------------------------


def test_1mb_command_is_kept_whole_and_ends_with_a_clear_result(runq, daemon: Path) -> None:
    home = daemon
    pid = daemon_pid(home)
    rss_before = rss_kb(pid)
    # Ten arguments of ~100 KB each: what a CLI can pass (one argv string is capped at 128 KiB),
    # joined by `add` into one command string of 1 MB.
    words = [f"w{n}" + "x" * 104_856 for n in range(10)]
    result = runq("add", "-p", "--", "echo", *words)
    assert result.returncode == 0, result.stderr
    task_id = int(result.stdout)
    assert runq("wait", str(task_id)).returncode == 0
    task = tasks(home)[task_id]
    assert len(task["command"]) > 1_000_000
    assert task["command"] == "echo " + " ".join(words)
    # Linux caps one exec argument at 128 KiB (MAX_ARG_STRLEN), so `bash -c <1 MB>` cannot be
    # spawned as such: the task must either run it whole or say so plainly, never hang, crash or
    # run a truncated command.
    if task["result"] == "FailedToSpawn":
        assert "Argument list too long" in task["spawn_error"], task["spawn_error"]
    else:
        assert task["result"] == "Success", task
        assert (home / "task_logs" / f"{task_id}.log").read_text() == " ".join(words) + "\n"
    table = runq("status")
    assert table.returncode == 0 and max(len(line) for line in table.stdout.splitlines()) < 400
    pueue = json.loads(runq("status", "--json").stdout)
    assert pueue["tasks"][str(task_id)]["command"] == task["command"]
    assert rss_kb(pid) - rss_before < 64 * 1024


def test_command_of_100kb_runs_exactly(daemon: Path, runq) -> None:
    payload = "é" * 50_000  # 100 KB of UTF-8 in one shell word
    task_id = add(daemon, f"printf '%s' '{payload}' | wc -c")
    assert runq("wait", str(task_id)).returncode == 0
    assert tasks(daemon)[task_id]["result"] == "Success"
    assert (daemon / "task_logs" / f"{task_id}.log").read_text().strip() == "100000"


# ---- control characters and unicode ----------------------------------------------------------------

HOSTILE_LABEL = "evil\x1b[2J\x1b[31mred\nsecond line\rCR\x07bell\x9b31m\x7fdel\ttab"
HOSTILE_COMMAND = "printf 'ok\\n' # \x1b]0;pwned\x07 \x1b[1;1H\nprintf 'two\\n' # \r\x08\x1b[K"


def test_control_characters_in_labels_and_commands_render_harmlessly(runq, daemon: Path) -> None:
    home = daemon
    result = runq("add", "-p", "-l", HOSTILE_LABEL, "--", HOSTILE_COMMAND)
    assert result.returncode == 0, result.stderr
    task_id = int(result.stdout)
    api_id = add(home, "true", label="nul\x00inside\x1b[0m")
    assert runq("wait", "-a").returncode == 0
    assert (home / "task_logs" / f"{task_id}.log").read_text() == "ok\ntwo\n"

    table = runq("status")
    assert table.returncode == 0
    _no_raw_controls(table.stdout)
    rows = [line for line in table.stdout.splitlines() if re.match(r"\d+ ", line)]
    assert [row.split()[0] for row in rows] == [str(task_id), str(api_id)]  # one line per task
    assert "\\x1b[2J" in table.stdout  # the escapes are shown, visibly, not executed

    log = runq("log", str(task_id))
    _no_raw_controls(log.stderr)  # the header (command, label) is for a terminal too

    pueue = json.loads(runq("status", "--json").stdout)
    assert pueue["tasks"][str(task_id)]["label"] == HOSTILE_LABEL
    assert pueue["tasks"][str(task_id)]["command"] == HOSTILE_COMMAND
    assert pueue["tasks"][str(api_id)]["label"] == "nul\x00inside\x1b[0m"


def test_unicode_everywhere_round_trips(runq, daemon: Path, tmp_path: Path) -> None:
    home = daemon
    workdir = tmp_path / "dïr ✓ 🚀 日本"
    workdir.mkdir()
    raw_dir = Path(os.fsdecode(bytes(tmp_path) + b"/raw-\xff\xfe-bytes"))  # not UTF-8 at all
    raw_dir.mkdir()
    group = "grüppe-✓"
    assert runq("group", "add", group, "-p", "2").returncode == 0
    first = runq("add", "-p", "-g", group, "-l", "日本語 🚀", "-w", str(workdir), "--",
                 'printf "%s|%s|%s\\n" "ünïcødé 🚀" "$(basename "$PWD")" "$RQ_VALUE"',
                 env={"RQ_VALUE": "välue ✓"})
    assert first.returncode == 0, first.stderr
    second = runq("add", "-p", "-g", group, "--", "pwd", cwd=str(raw_dir))
    assert second.returncode == 0, second.stderr
    first_id, second_id = int(first.stdout), int(second.stdout)
    assert runq("wait", "-g", group).returncode == 0

    assert (home / "task_logs" / f"{first_id}.log").read_text() == "ünïcødé 🚀|dïr ✓ 🚀 日本|välue ✓\n"
    assert (home / "task_logs" / f"{second_id}.log").read_bytes() == os.fsencode(raw_dir) + b"\n"
    current = tasks(home)
    assert current[first_id]["label"] == "日本語 🚀" and current[first_id]["group"] == group
    assert current[second_id]["path"] == str(raw_dir)
    table = runq("status")
    assert table.returncode == 0 and "日本語 🚀" in table.stdout and "grüppe-✓" in table.stdout
    _no_raw_controls(table.stdout)
    pueue = json.loads(runq("status", "--json").stdout)
    assert pueue["tasks"][str(first_id)]["path"] == str(workdir)
    log = runq("log", str(first_id))
    assert "ünïcødé 🚀" in log.stdout


# ---- working directories -----------------------------------------------------------------------------


def test_missing_working_directory_is_refused_at_add(runq, daemon: Path, tmp_path: Path) -> None:
    result = runq("add", "-w", str(tmp_path / "nope"), "--", "true")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "working directory does not exist" in result.stderr
    assert tasks(daemon) == {}


def test_add_from_a_deleted_current_directory_gives_one_clear_line(runq, daemon: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f'cd "{gone}" && rmdir "{gone}" && exec "$@"'
    # -I: `python -m` with PYTHONPATH would first print the interpreter's own complaint about
    # the missing directory; runq's fast path (what the hook runs) is an absolute script.
    runq_script = Path(runq_package.__file__).parent / "fastpath.py"
    result = subprocess.run(["bash", "-c", script, "bash", sys.executable, "-I", str(runq_script), "add", "--", "true"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "directory" in result.stderr, result.stderr
    assert tasks(daemon) == {}


def test_working_directory_gone_after_add_fails_to_spawn_clearly_without_leaking(runq, daemon: Path, tmp_path: Path) -> None:
    # As root, mode 000 does not stop chdir, so "cannot enter" is made honestly: the directory is
    # removed, or replaced by a file, between add and start.
    home = daemon
    assert runq("pause").returncode == 0
    removed, replaced = tmp_path / "removed\x1b[2J", tmp_path / "replaced"
    removed.mkdir()
    replaced.mkdir()
    first = add(home, "echo never", cwd=str(removed))
    second = add(home, "echo never", cwd=str(replaced))
    removed.rmdir()
    replaced.rmdir()
    replaced.write_text("a file now")
    assert runq("start").returncode == 0
    assert runq("wait", str(first), str(second)).returncode == 0
    current = tasks(home)
    assert current[first]["result"] == "FailedToSpawn"
    assert current[first]["spawn_error"] == f"cannot enter working directory {removed}: No such file or directory"
    assert current[second]["spawn_error"] == f"cannot enter working directory {replaced}: Not a directory"
    header = runq("log", str(first))
    _no_raw_controls(header.stderr)

    # The supervisor workers are long-lived: a failed spawn must not leave descriptors behind.
    assert runq("pause").returncode == 0
    fds_before = sum(open_fds(pid) for pid in worker_pids(home))
    doomed = tmp_path / "doomed"
    ids = []
    for _ in range(30):
        doomed.mkdir()
        ids.append(add(home, "true", cwd=str(doomed)))
        doomed.rmdir()
        call(home, "start", ids=[ids[-1]])
        assert runq("wait", str(ids[-1])).returncode == 0
    assert {tasks(home)[i]["result"] for i in ids} == {"FailedToSpawn"}
    fds_after = sum(open_fds(pid) for pid in worker_pids(home))
    assert fds_after <= fds_before + 4, f"30 failed spawns left {fds_after - fds_before} descriptors open in the supervisors"


# ---- output volume ------------------------------------------------------------------------------------


def _dir_size(path: Path) -> int:
    total = 0
    for entry in os.scandir(path):
        try:
            total += entry.stat().st_size
        except FileNotFoundError:
            pass  # the tail rotates under us
    return total


@pytest.mark.slow
def test_5gb_of_output_keeps_the_log_cap_and_the_pace(runq, home: Path) -> None:
    cap = 1024 * 1024
    write_config(home, f"[logs]\nmax_bytes = {cap}\n")
    assert runq("group").returncode == 0
    free_before = shutil.disk_usage(home).free
    started = time.monotonic()
    task_id = add(home, "head -c 5G /dev/zero; echo tail-marker")
    logs = home / "task_logs"
    peak = 0

    def finished() -> bool:
        nonlocal peak
        peak = max(peak, _dir_size(logs))
        return tasks(home)[task_id]["status"] == "Done"

    wait_until(finished, timeout=180, interval=0.05)
    elapsed = time.monotonic() - started
    task = tasks(home)[task_id]
    assert task["result"] == "Success"
    assert task["stdout_bytes"] == 5 * 1024 ** 3 + len("tail-marker\n")
    log = logs / f"{task_id}.log"
    size = log.stat().st_size
    assert cap <= size <= cap + 200, size
    with open(log, "rb") as handle:
        handle.seek(-200, os.SEEK_END)
        assert handle.read().endswith(b"\0\0tail-marker\n")
    assert b"output cut here" in log.read_bytes()
    # The disk never held more than the head, two tail segments and a chunk in flight.
    assert peak < 4 * cap + 2 * 1024 * 1024, f"task logs peaked at {peak} bytes"
    assert free_before - shutil.disk_usage(home).free < 64 * 1024 * 1024
    assert elapsed < 120, f"5 GB took {elapsed:.0f} s"
    call(home, "ping")
