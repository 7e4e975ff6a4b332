"""`--rerun-failed`: only what failed or never ran in the last run of the file, from the history;
and Ctrl-C (SIGINT to `runq dag run`): cancel what was queued, kill what started, summary."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import wait_until
from dag_support import by_name, daemon_tasks, fast_engine, run_json, write_dag  # noqa: F401

RERUN_DAG = """
[tasks.a]
cmd = "true"

[tasks.b]
cmd = "test -e fixed"
after = ["a"]

[tasks.c]
cmd = "true"
after = ["b"]

[tasks.d]
cmd = "true"
after = ["a"]
"""


def results(document: dict) -> dict[str, str]:
    return {name: row["result"] for name, row in by_name(document).items()}


def test_rerun_failed_runs_only_what_failed_or_never_ran(runq, tmp_path):
    path = write_dag(tmp_path, RERUN_DAG)
    _, first = run_json(runq, path)
    assert results(first) == {"a": "Success", "b": "Failed", "c": "DependencyFailed", "d": "Success"}

    (tmp_path / "fixed").touch()
    result, second = run_json(runq, path, "--rerun-failed")
    assert result.returncode == 0
    assert results(second) == {"b": "Success", "c": "Success"}
    assert second["skipped"] == ["a", "d"]
    assert second["run_id"].endswith(".rerun") and second["run_id"].split(".")[0] == first["run_id"].split(".")[0]
    c = next(t for t in daemon_tasks() if t["dag_run"] == second["run_id"] and t["dag_task"] == "c")
    b = next(t for t in daemon_tasks() if t["dag_run"] == second["run_id"] and t["dag_task"] == "b")
    assert c["dependencies"] == [b["id"]]  # the order between re-run tasks is kept

    result, third = run_json(runq, path, "--rerun-failed")
    assert result.returncode == 0
    assert third["tasks"] == [] and third["skipped"] == ["a", "b", "c", "d"]
    text = runq("dag", "run", str(path), "--rerun-failed")
    assert text.stdout == f"Nothing to run: all 4 task(s) succeeded in an earlier run of {path}\n"

    # a plain run starts a new chain: everything runs again
    _, fourth = run_json(runq, path)
    assert sorted(results(fourth)) == ["a", "b", "c", "d"]


def test_rerun_failed_without_history_runs_everything(runq, tmp_path):
    path = write_dag(tmp_path, '[tasks.a]\ncmd = "true"\n[tasks.b]\ncmd = "true"\n')
    result, document = run_json(runq, path, "--rerun-failed")
    assert result.returncode == 0
    assert sorted(results(document)) == ["a", "b"]
    assert "no earlier run" in result.stderr


def test_runs_of_another_file_do_not_count(runq, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_dag(tmp_path / "one", '[tasks.a]\ncmd = "false"\n')
    second = write_dag(tmp_path / "two", '[tasks.a]\ncmd = "true"\n')
    run_json(runq, first)
    run_json(runq, second)
    _, document = run_json(runq, first, "--rerun-failed")
    assert results(document) == {"a": "Failed"}


INTERRUPT_DAG = """
[groups.one]
parallel = 1

[tasks.slow]
cmd = "if [ -e ok ]; then exit 0; fi; touch started; sleep 60"
group = "one"

[tasks.queued]
cmd = "true"
group = "one"

[tasks.dependent]
cmd = "true"
after = ["slow"]
"""


def test_ctrl_c_cancels_queued_kills_running_then_summarizes(runq, tmp_path):
    path = write_dag(tmp_path, INTERRUPT_DAG)
    process = subprocess.Popen([sys.executable, "-m", "runq", "dag", "run", str(path), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # `slow` created the file: it runs, so the runner has submitted and handles SIGINT itself
        wait_until(lambda: (tmp_path / "started").exists() or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    document = json.loads(out)
    assert document["interrupted"] is True and document["ok"] is False
    assert results(document) == {"slow": "Killed", "queued": "Cancelled", "dependent": "Cancelled"}
    left = daemon_tasks()
    assert [t["dag_task"] for t in left] == ["slow"]
    assert left[0]["status"] == "Done"

    # the interrupted run is what --rerun-failed continues: all three run now
    (tmp_path / "ok").touch()
    result, again = run_json(runq, path, "--rerun-failed")
    assert result.returncode == 0
    assert results(again) == {"slow": "Success", "queued": "Success", "dependent": "Success"}


def test_ctrl_c_plain_mode_prints_the_summary(runq, tmp_path):
    path = write_dag(tmp_path, INTERRUPT_DAG)
    process = subprocess.Popen([sys.executable, "-m", "runq", "dag", "run", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (tmp_path / "started").exists() or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Interrupted: cancelling queued tasks" in out
    assert "CANCEL   queued" in out and "KILLED   slow" in out
    assert "Interrupted: 1 killed, 2 cancelled" in out


def test_a_group_paused_by_a_failure_is_reported_and_ctrl_c_still_ends_the_run(runq, home, tmp_path):
    (home / "config.toml").write_text((home / "config.toml").read_text() + "pause_group_on_failure = true\n")
    path = write_dag(tmp_path, """
[groups.line]
parallel = 1

[tasks.bad]
cmd = "exit 1"
group = "line"

[tasks.next]
cmd = "true"
group = "line"
""")
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "runq", "dag", "run", str(path)], stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: "is paused after a failure" in log.read_text() or process.poll() is not None)
        assert "group 'line' is paused after a failure" in log.read_text()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert re.search(r"^next\s+Cancelled", log.read_text(), re.MULTILINE)
