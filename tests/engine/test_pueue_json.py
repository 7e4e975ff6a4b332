"""`status --json`, `log --json` and `group --json` against pueue 4's shapes (pueue-v4.md §2).

One queue holds every status variant and every result variant runq can reach; the tests read it
through the real CLI and check keys, key order, the externally tagged status, the timestamps,
and the jq recipes public pueue 4 scripts use (§2.4), under the real jq 1.6.
(`Locked` is pueue's state while `edit` runs; runq has no `edit`, so it never appears.)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from queue_probe import add, cli, jq_json, kill_home_processes, ok, task, wait_done, wait_for  # noqa: E402

PUEUE_TASK_KEYS = ["id", "created_at", "original_command", "command", "path", "envs", "group", "dependencies",
                   "priority", "label", "status"]
RUNQ_ADDED_KEYS = ["start", "end", "runq"]
STATUS_KEYS = {
    "Queued": ["enqueued_at"],
    "Stashed": ["enqueue_at"],
    "Running": ["enqueued_at", "start"],
    "Paused": ["enqueued_at", "start"],
    "Done": ["enqueued_at", "start", "end", "result"],
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# id -> (status variant, result) in the zoo below
ZOO = {
    0: ("Done", "Success"),
    1: ("Done", {"Failed": 3}),
    2: ("Done", "FailedToSpawn"),
    3: ("Done", "Killed"),
    4: ("Done", "DependencyFailed"),
    5: ("Done", "Errored"),
    6: ("Queued", None),
    7: ("Stashed", None),
    8: ("Stashed", None),
    9: ("Running", None),
    10: ("Paused", None),
}


def ordered(text: str) -> Any:
    """JSON with objects as lists of (key, value) pairs, so key order can be asserted."""
    return json.loads(text, object_pairs_hook=list)


def keys(pairs: Any) -> list[str]:
    assert isinstance(pairs, list)
    return [key for key, _ in pairs]


@pytest.fixture(scope="module")
def zoo_outputs() -> dict[str, str]:
    """Build the zoo once for the module in its own RUNQ_HOME; keep what the tests read."""
    root = Path(tempfile.mkdtemp(prefix="rqz"))
    home = root / "home"
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RUNQ_HOME", str(home))
            env.delenv("RUNQ_CONFIG", raising=False)
            return _build_zoo(root)
    finally:
        kill_home_processes(home)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def zoo(zoo_outputs: dict[str, str]) -> str:
    """`status --json` of a queue holding every variant, as printed."""
    return zoo_outputs["status"]


def _build_zoo(scratch: Path) -> dict[str, str]:
    ok(cli, "group", "add", "hold")
    ok(cli, "group", "add", "live", "-p", "0")
    ok(cli, "pause", "-g", "hold")
    assert add(cli, "true", options=("-l", "ok")) == 0
    assert add(cli, "exit 3") == 1
    gone = scratch / "gone"
    gone.mkdir()
    assert add(cli, "true", options=("-g", "hold", "-w", str(gone))) == 2
    assert add(cli, "sleep 60", options=("-g", "live")) == 3
    wait_done(0, 1)
    assert add(cli, "true", options=("--after", "1")) == 4
    assert add(cli, "sleep 60", options=("-g", "live")) == 5
    assert add(cli, "true", options=("-g", "hold")) == 6
    assert add(cli, "true", options=("--stashed",)) == 7
    assert add(cli, "true", options=("--delay", "1h")) == 8
    assert add(cli, "sleep 60", options=("-g", "live")) == 9
    assert add(cli, "sleep 60", options=("-g", "live")) == 10

    gone.rmdir()
    ok(cli, "start", "2")  # force start into a working directory that no longer exists
    for running in (3, 5, 9, 10):
        wait_for(running, "Running")
    ok(cli, "kill", "3")
    ok(cli, "pause", "10")
    os.kill(task(5)["shim_pid"], signal.SIGKILL)  # the supervisor dies: the daemon records Errored
    wait_done(2, 3, 4, 5)
    wait_for(10, "Paused")
    return {"status": ok(cli, "status", "--json").stdout,
            "status_live": ok(cli, "status", "--json", "-g", "live").stdout}


def test_status_json_top_level_shape(zoo: str) -> None:
    assert zoo.endswith("\n") and zoo.count("\n") == 1, "one compact line, as serde_json::to_string"
    state = ordered(zoo)
    assert keys(state) == ["tasks", "groups"]
    tasks = dict(state)["tasks"]
    assert keys(tasks) == [str(i) for i in range(11)], "numeric id order (10 after 9)"
    groups = dict(state)["groups"]
    assert keys(groups) == ["default", "hold", "live"]
    for _, group in groups:
        assert keys(group) == ["status", "parallel_tasks"]
    assert dict(groups)["hold"] == [("status", "Paused"), ("parallel_tasks", 1)]
    assert dict(groups)["live"] == [("status", "Running"), ("parallel_tasks", 0)]
    assert json.dumps(json.loads(zoo), ensure_ascii=False, separators=(",", ":")) + "\n" == zoo


def test_every_task_has_pueues_keys_in_order(zoo: str) -> None:
    for task_id, fields in dict(dict(ordered(zoo))["tasks"]).items():
        names = keys(fields)
        assert names[:11] == PUEUE_TASK_KEYS, task_id
        assert names[11:] == RUNQ_ADDED_KEYS, task_id
        values = dict(fields)
        assert values["id"] == int(task_id)
        assert TIMESTAMP.match(values["created_at"])
        assert isinstance(values["envs"], list) and isinstance(values["dependencies"], list)
        assert isinstance(values["priority"], int)
        assert values["label"] is None or isinstance(values["label"], str)


def test_status_is_externally_tagged_for_every_variant(zoo: str) -> None:
    tasks = dict(dict(ordered(zoo))["tasks"])
    for task_id, (variant, _) in ZOO.items():
        status = dict(tasks[str(task_id)])["status"]
        assert keys(status) == [variant], task_id
        inner = status[0][1]
        assert keys(inner) == STATUS_KEYS[variant], task_id
        for name, value in inner:
            if name == "result" or (name == "enqueue_at" and value is None):
                continue
            assert TIMESTAMP.match(value), (task_id, name, value)
    plain = json.loads(zoo)["tasks"]
    assert plain["7"]["status"] == {"Stashed": {"enqueue_at": None}}
    assert plain["8"]["status"]["Stashed"]["enqueue_at"] > plain["8"]["created_at"]


def test_every_result_variant(zoo: str) -> None:
    plain = json.loads(zoo)["tasks"]
    results = {int(i): t["status"]["Done"]["result"] for i, t in plain.items() if "Done" in t["status"]}
    assert results[0] == "Success"
    assert results[1] == {"Failed": 3}
    assert list(results[2]) == ["FailedToSpawn"] and "gone" in results[2]["FailedToSpawn"]
    assert results[3] == "Killed"
    assert results[4] == "DependencyFailed"
    assert results[5] == "Errored"
    dependency_failed = plain["4"]["status"]["Done"]
    assert dependency_failed["start"] == dependency_failed["end"] is not None
    assert plain["2"]["status"]["Done"]["start"] is not None


def test_added_fields_carry_precise_times(zoo: str) -> None:
    plain = json.loads(zoo)["tasks"]
    for task_id, fields in plain.items():
        extra = fields["runq"]
        for name in ("start", "end"):
            if extra[name] is None:
                assert fields[name] is None, task_id
            else:
                assert fields[name] == _utc_seconds(extra[name]), task_id
        assert fields["created_at"] == _utc_seconds(extra["created_at"])
    assert plain["1"]["runq"]["exit_code"] == 3
    assert plain["3"]["runq"]["signal"] == signal.SIGKILL


def _utc_seconds(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@pytest.mark.parametrize(("program", "expected"), [
    ('[.tasks[] | .status | keys[0]]',
     ["Done"] * 6 + ["Queued", "Stashed", "Stashed", "Running", "Paused"]),
    ('.tasks["1"].status.Done.result', {"Failed": 3}),
    ('[.tasks[] | .status.Done.result | select(. != null)]',
     ["Success", {"Failed": 3}, "@spawn", "Killed", "DependencyFailed", "Errored"]),
    ('.tasks["9"].status.Running.start | test("^[0-9-]+T[0-9:]+Z$")', True),
    ('[.tasks | to_entries[] | select(.value.status | keys[0] == "Running") | .key]', ["9"]),
    ('[.tasks | to_entries[] | select(.value.status | has("Running")) | .key]', ["9"]),
    ('[.tasks | to_entries[] | select(.value.status.Done.result == "Success") | .key]', ["0"]),
    ('[.tasks[] | select(.status.Done.result | type == "object" and has("Failed")) | .id]', [1]),
    ('[.tasks[] | .status.Done.start | select(. != null) | fromdate] | length', 6),
    ('[.tasks[] | select(.status | has("Stashed")) | .status.Stashed.enqueue_at]', [None, "@time"]),
    ('.groups | map_values(.parallel_tasks)', {"default": 1, "hold": 1, "live": 0}),
])
def test_pueue_4_jq_recipes(zoo: str, program: str, expected: object) -> None:
    value = jq_json(program, zoo)
    if isinstance(expected, list) and "@spawn" in expected:
        assert isinstance(value, list) and list(value[2]) == ["FailedToSpawn"]
        value[2] = "@spawn"
    if isinstance(expected, list) and "@time" in expected:
        assert isinstance(value, list) and TIMESTAMP.match(value[1])
        value[1] = "@time"
    assert value == expected


def test_status_json_group_filter_keeps_every_group(zoo_outputs: dict[str, str]) -> None:
    state = json.loads(zoo_outputs["status_live"])
    assert list(state["tasks"]) == ["3", "5", "9", "10"]
    assert list(state["groups"]) == ["default", "hold", "live"]


# ---- log --json --------------------------------------------------------------------------------

def test_log_json_shape_and_line_counts(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "other")
    add(runq, "seq 1 20")
    add(runq, "printf 'a\\nb'")
    add(runq, "true", options=("--stashed",))
    add(runq, "echo elsewhere", options=("-g", "other"))
    wait_done(0, 1, 3)

    default = ordered(ok(runq, "log", "--json").stdout)
    assert keys(default) == ["0", "1", "2"], "no ids means the default group only, every task of it"
    entry = dict(default)["0"]
    assert keys(entry) == ["task", "output"]
    task_fields = dict(entry)["task"]
    assert keys(task_fields)[:11] == PUEUE_TASK_KEYS
    assert dict(task_fields)["envs"] == [], "log --json blanks envs, as pueue does"
    outputs = {k: dict(v)["output"] for k, v in default}
    assert outputs["0"] == "\n".join(str(n) for n in range(6, 21)), "last 15 lines, no trailing newline"
    assert outputs["1"] == "a\nb"
    assert outputs["2"].startswith("(runq error)"), "a task that never ran still appears"

    full = json.loads(ok(runq, "log", "0", "--json", "--full").stdout)
    assert list(full) == ["0"] and full["0"]["output"] == "".join(f"{n}\n" for n in range(1, 21))
    lines = json.loads(ok(runq, "log", "0", "--json", "--lines", "2").stdout)
    assert lines["0"]["output"] == "19\n20"
    everything = json.loads(ok(runq, "log", "--json", "-a").stdout)
    assert list(everything) == ["0", "1", "2", "3"]
    grouped = json.loads(ok(runq, "log", "--json", "-g", "other").stdout)
    assert list(grouped) == ["3"] and grouped["3"]["output"] == "elsewhere"


# ---- group --json ------------------------------------------------------------------------------

def test_group_json_shape(runq) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "gpu", "-p", "2")
    ok(runq, "group", "add", "batch", "-p", "0")
    ok(runq, "pause", "-g", "gpu")
    text = ok(runq, "group", "--json").stdout
    assert text.count("\n") == 1
    assert ordered(text) == [
        ("batch", [("status", "Running"), ("parallel_tasks", 0)]),
        ("default", [("status", "Running"), ("parallel_tasks", 1)]),
        ("gpu", [("status", "Paused"), ("parallel_tasks", 2)]),
    ]
    assert json.loads(text) == json.loads(ok(runq, "status", "--json").stdout)["groups"]


def test_status_json_of_an_empty_queue(runq) -> None:  # type: ignore[no-untyped-def]
    assert ok(runq, "status", "--json").stdout == '{"tasks":{},"groups":{"default":{"status":"Running","parallel_tasks":1}}}\n'


def test_jq_reads_status_json_as_a_stream(runq) -> None:  # type: ignore[no-untyped-def]
    """Sanity for the recipes' plumbing: the output is one JSON document jq accepts whole."""
    add(runq, "true")
    wait_done(0)
    result = subprocess.run(["/usr/bin/jq", "-e", ".tasks[\"0\"].status.Done.result == \"Success\""],
                            input=ok(runq, "status", "--json").stdout, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "true"
