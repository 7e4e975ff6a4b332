"""`runq dag run` through the real CLI and a real daemon: dependencies, failures, fail-fast,
timeouts, retries, the plain-line view, the summary, and the examples."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dag_support import (  # noqa: F401
    EXAMPLES,
    by_name,
    daemon_tasks,
    fast_engine,
    run_json,
    write_dag,
)

DIAMOND = """
[groups.diamond]
parallel = 2

[tasks.root]
cmd = "echo root"
group = "diamond"

[tasks.left]
cmd = "echo left is broken; exit 3"
group = "diamond"
after = ["root"]

[tasks.right]
cmd = "echo right > right.out"
group = "diamond"
after = ["root"]

[tasks.join]
cmd = "echo join"
group = "diamond"
after = ["left", "right"]

[tasks.tail]
cmd = "echo tail"
after = ["join"]

[tasks.solo]
cmd = "echo solo > solo.out"
label = "independent"
"""
EVENT_LINE = re.compile(r"^\[\s*\d+/\d+\] (start|ok|FAILED|DEP-FAIL|RETRY|TIMEOUT|KILLED|CANCEL)\s+\S")


def test_diamond_with_a_failing_branch(runq, tmp_path):
    path = write_dag(tmp_path, DIAMOND)
    result, document = run_json(runq, path)
    assert result.returncode == 1
    rows = by_name(document)
    assert {name: row["result"] for name, row in rows.items()} == {
        "root": "Success", "left": "Failed", "right": "Success", "join": "DependencyFailed",
        "tail": "DependencyFailed", "solo": "Success"}
    assert rows["left"]["exit_code"] == 3
    assert "left is broken" in Path(rows["left"]["log_path"]).read_text()
    assert rows["join"]["attempts"] == 0 and rows["join"]["log_path"] is None
    assert (tmp_path / "right.out").read_text() == "right\n"
    assert (tmp_path / "solo.out").exists()
    assert document["ok"] is False and document["fail_fast"] is False
    assert document["counts"] == {"Success": 3, "Failed": 1, "DependencyFailed": 2}
    # the tasks carry the run into the daemon (and so into the history)
    records = {t["dag_task"]: t for t in daemon_tasks()}
    assert {r["dag_run"] for r in records.values()} == {document["run_id"]}
    assert {r["origin"] for r in records.values()} == {"dag"}
    assert records["solo"]["label"] == "independent" and records["root"]["label"] == "root"
    assert records["join"]["dependencies"] == sorted([records["left"]["id"], records["right"]["id"]])
    assert records["root"]["group"] == "diamond"


def test_plain_lines_one_per_event_then_the_summary(runq, tmp_path):
    path = write_dag(tmp_path, DIAMOND)
    result = runq("dag", "run", str(path))
    assert result.returncode == 1
    assert "\x1b" not in result.stdout
    events, _, summary = result.stdout.partition("\nTask ")
    lines = events.splitlines()
    assert all(EVENT_LINE.match(line) for line in lines), lines
    finished = [line for line in lines if not re.match(r"^\[\s*\d+/\d+\] start ", line)]
    assert len(finished) == 6  # one line per task end
    assert any(re.search(r"FAILED\s+left: exit code 3 after .* log: .+/task_logs/\d+\.log$", line) for line in lines)
    assert any(re.search(r"DEP-FAIL\s+join", line) for line in lines)
    assert lines[-1].startswith("[6/6] ")
    assert re.search(r"^left\s+Failed\s+3\s+\S+\s+1$", summary, re.MULTILINE)
    assert re.search(r"^join\s+Dependency failed\s+-\s+-$", summary, re.MULTILINE)
    assert "Logs of failed tasks:\n  left: " in summary
    assert "Some tasks did not succeed: 3 succeeded, 1 failed, 2 dependency failed" in summary


def test_fail_fast_kills_running_tasks_and_cancels_the_rest(runq, tmp_path):
    path = write_dag(tmp_path, """
[groups.pair]
parallel = 2

[tasks.slow]
cmd = "touch started; sleep 60"
group = "pair"

[tasks.bad]
cmd = "while [ ! -e started ]; do sleep 0.01; done; exit 1"
group = "pair"

[tasks.next_in_line]
cmd = "sleep 60"
group = "pair"

[tasks.waiting]
cmd = "sleep 60"
group = "pair"

[tasks.dependent]
cmd = "true"
after = ["slow"]
""")
    result, document = run_json(runq, path, "--fail-fast")
    assert result.returncode == 1
    assert document["fail_fast"] is True
    results = {name: row["result"] for name, row in by_name(document).items()}
    # The daemon fills the slot `bad` frees in the same instant it records the failure, before
    # the runner hears of it: that task is killed if it started, cancelled if not.
    assert results.pop("next_in_line") in ("Killed", "Cancelled")
    assert results == {"slow": "Killed", "bad": "Failed", "waiting": "Cancelled", "dependent": "Cancelled"}
    remaining = {t["dag_task"]: t for t in daemon_tasks()}
    assert {"waiting", "dependent"}.isdisjoint(remaining)  # cancelled tasks were removed from the queue
    assert all(t["status"] == "Done" for t in remaining.values())


def test_without_fail_fast_independent_work_goes_on(runq, tmp_path):
    path = write_dag(tmp_path, '[tasks.bad]\ncmd = "exit 1"\n[tasks.good]\ncmd = "true"\nafter = []\n')
    result, document = run_json(runq, path)
    assert result.returncode == 1
    assert by_name(document)["good"]["result"] == "Success"


def test_a_timeout_fires(runq, tmp_path):
    path = write_dag(tmp_path, """
[tasks.hangs]
cmd = "sleep 60"
timeout = 0.5

[tasks.next]
cmd = "true"
after = ["hangs"]
""")
    result, document = run_json(runq, path)
    assert result.returncode == 1
    rows = by_name(document)
    assert rows["hangs"]["result"] == "TimedOut"
    assert rows["next"]["result"] == "DependencyFailed"
    text = runq("dag", "run", str(path))
    assert re.search(r"TIMEOUT\s+hangs: timed out \(limit 0.5 s\)", text.stdout)
    assert re.search(r"^hangs\s+Timed out", text.stdout, re.MULTILINE)


def test_a_task_that_succeeds_on_its_second_attempt(runq, tmp_path):
    path = write_dag(tmp_path, """
[tasks.flaky]
cmd = "if [ -e tried ]; then echo second; else touch tried; exit 1; fi"
retries = 2

[tasks.hopeless]
cmd = "exit 4"
retries = 1

[tasks.after_flaky]
cmd = "true"
after = ["flaky"]
""")
    result = runq("dag", "run", str(path))
    assert result.returncode == 1
    assert re.search(r"RETRY\s+flaky: attempt 1 failed; attempt 2 of 3 follows", result.stdout)
    assert re.search(r"^flaky\s+Success\s+0\s+\S+\s+2$", result.stdout, re.MULTILINE)
    assert re.search(r"^hopeless\s+Failed\s+4\s+\S+\s+2$", result.stdout, re.MULTILINE)
    assert re.search(r"^after_flaky\s+Success", result.stdout, re.MULTILINE)


def test_json_summary_shape(runq, tmp_path):
    path = write_dag(tmp_path, '[tasks.one]\ncmd = "true"\n')
    result, document = run_json(runq, path)
    assert result.returncode == 0
    assert set(document) == {"file", "run_id", "ok", "interrupted", "fail_fast", "counts", "skipped", "tasks"}
    assert document["file"] == str(path) and document["ok"] is True
    (row,) = document["tasks"]
    assert set(row) == {"name", "id", "result", "exit_code", "duration", "attempts", "log_path"}
    assert row["result"] == "Success" and row["exit_code"] == 0 and row["attempts"] == 1


def test_groups_are_created_and_their_limit_set(runq, tmp_path):
    assert runq("group", "add", "existing", "-p", "1").returncode == 0
    path = write_dag(tmp_path, """
[groups.existing]
parallel = 3
[groups.fresh]
parallel = 0
[groups.default]

[tasks.a]
cmd = "true"
group = "fresh"
[tasks.b]
cmd = "true"
group = "existing"
""")
    result, _ = run_json(runq, path)
    assert result.returncode == 0
    listing = runq("group", "--json")
    assert '"existing"' in listing.stdout
    from runq.client.connection import connect

    with connect(autostart=False) as conn:
        groups = conn.call("groups")["groups"]
    assert groups["existing"]["parallel_tasks"] == 3
    assert groups["fresh"]["parallel_tasks"] == 0
    assert groups["default"]["parallel_tasks"] == 1


def test_example_build_dag(runq, tmp_path):
    folder = tmp_path / "build-dag"
    shutil.copytree(EXAMPLES / "build-dag", folder, ignore=shutil.ignore_patterns("out"))
    result = runq("dag", "run", str(folder / "build.toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (folder / "app" / "out" / "app.txt").read_text() == "A SAYS HELLO\nB SAYS HELLO\n"
    lines = result.stdout.splitlines()
    assert lines.index(next(line for line in lines if re.search(r"start\s+app$", line))) > max(
        lines.index(next(line for line in lines if re.search(rf"ok\s+{lib} ", line))) for lib in ("lib-a", "lib-b"))


def test_example_test_batch(runq, tmp_path):
    folder = tmp_path / "test-batch"
    shutil.copytree(EXAMPLES / "test-batch", folder, ignore=shutil.ignore_patterns("__pycache__"))
    result, document = run_json(runq, folder / "tests.toml", timeout=180)
    assert result.returncode == 0, document
    assert sorted(by_name(document)) == [f"test:pkg-{p}" for p in "abcde"]
    labels = {t["label"] for t in daemon_tasks()}
    assert labels == {f"test:pkg-{p}" for p in "abcde"}
