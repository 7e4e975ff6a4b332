"""Every command block of the seed (claude-code-pueue-patterns.md), with `runq` for `pueue`.

Each block runs as written through bash, the real CLI and the real daemon, and every jq recipe
runs under the real /usr/bin/jq (Debian's 1.6). Where the seed names a tool this machine lacks
(`uv run pytest`) an equivalent with the same shape stands in; the comment at the spot says so.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from queue_probe import cli_wrapper, jq_json, tasks, wait_done  # noqa: E402

Bash = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """The seed's `~`: a private HOME holding ~/project."""
    home = tmp_path / "user"
    (home / "project").mkdir(parents=True)
    return home


@pytest.fixture
def bash(tmp_path: Path, user_home: Path) -> Bash:
    """Run a seed snippet under bash with `runq` on PATH; pipefail so a failing runq in a pipe shows."""
    bin_dir = cli_wrapper(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(user_home))

    def run(script: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", "-o", "pipefail", "-c", script], cwd=cwd or user_home / "project",
                                env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"snippet failed ({result.returncode}):\n{script}\n{result.stderr}"
        return result

    return run


# ---- Background Task Execution -------------------------------------------------------------------

BACKGROUND_QUEUE = r'''
# Queue and capture task ID
TASK_ID=$(runq add --print-task-id -w ~/project -- python train_model.py)
echo "Queued as task $TASK_ID"

# ... continue other work ...

# Check status via JSON (structured for AI consumption)
runq status --json | jq ".tasks[\"$TASK_ID\"]"
'''

BACKGROUND_RESULTS = r'''
# Get results when done
runq log "$TASK_ID" --full
'''

TRAIN_MODEL = "import sys\nfor epoch in range(3):\n    print(f'epoch {epoch} loss {1 / (epoch + 1):.2f}')\n" \
              "print('warning: no GPU', file=sys.stderr)\n"
TRAIN_OUTPUT = "epoch 0 loss 1.00\nepoch 1 loss 0.50\nepoch 2 loss 0.33\nwarning: no GPU\n"


def test_background_task_execution(bash: Bash, user_home: Path, daemon: Path) -> None:
    project = user_home / "project"
    (project / "train_model.py").write_text(TRAIN_MODEL)
    queued = bash(BACKGROUND_QUEUE)
    first_line, rest = queued.stdout.split("\n", 1)
    assert first_line == "Queued as task 0"
    task = json.loads(rest)
    assert task["id"] == 0
    assert task["command"] == "python train_model.py"
    assert task["path"] == str(project.resolve())
    assert list(task["status"]) in (["Queued"], ["Running"], ["Done"])
    wait_done(0)
    results = bash(BACKGROUND_RESULTS, extra_env={"TASK_ID": "0"})
    assert results.stdout == TRAIN_OUTPUT


# ---- Synchronous Wrapper Pattern -----------------------------------------------------------------

SYNC_WRAPPER = r'''
TASK_ID=$(runq add --print-task-id -w "$(pwd)" -- {command}) && \
  runq wait "$TASK_ID" --quiet && \
  runq log "$TASK_ID" --full
'''


@pytest.mark.parametrize(("command", "direct_output"), [
    ("ls", "a.txt\nb.txt\n"),
    ("python3 -c 'print(42)'", "42\n"),
    ("'echo out; echo more; echo last'", "out\nmore\nlast\n"),
    # Queued tasks write both streams through one pipe, so the log keeps their order.
    ("'echo out; echo err >&2; echo done'", "out\nerr\ndone\n"),
])
def test_synchronous_wrapper_gives_the_commands_output(bash: Bash, user_home: Path, command: str,
                                                       direct_output: str) -> None:
    project = user_home / "project"
    for name in ("a.txt", "b.txt"):
        (project / name).write_text("")
    result = bash(SYNC_WRAPPER.format(command=command))
    assert result.stdout == direct_output
    assert tasks()[0]["result"] == "Success"


# ---- Structured Monitoring via JSON --------------------------------------------------------------

ALL_TASKS = r'''runq status --json | jq '.tasks | to_entries[] | {
  id: .key,
  command: .value.command,
  status: .value.status,
  group: .value.group,
  label: .value.label
}' '''

FILTER_BY_GROUP = r'''runq status --json | jq '[.tasks | to_entries[] | select(.value.group == "mygroup")]' '''

COUNT_BY_STATUS = r'''runq status --json | jq '.tasks | to_entries | group_by(.value.status | keys[0]) | map({status: .[0].value.status | keys[0], count: length})' '''


def _monitoring_queue(bash: Bash) -> None:
    """Two done tasks, one queued behind a paused group, one stashed."""
    bash("runq group add mygroup && runq add -l build:x -- true && runq add -g mygroup -l test:y -- 'exit 2'")
    wait_done(0, 1)
    bash("runq pause -g mygroup && runq add -g mygroup -- echo later && runq add --stashed -- echo someday")


def test_monitoring_lists_every_task(bash: Bash, daemon: Path) -> None:
    _monitoring_queue(bash)
    listed = [json.loads(line) for line in bash(ALL_TASKS + " -c").stdout.splitlines()]
    assert [(t["id"], t["command"], t["group"], t["label"]) for t in listed] == [
        ("0", "true", "default", "build:x"), ("1", "exit 2", "mygroup", "test:y"),
        ("2", "echo later", "mygroup", None), ("3", "echo someday", "default", None)]
    assert listed[0]["status"]["Done"]["result"] == "Success"
    assert listed[1]["status"]["Done"]["result"] == {"Failed": 2}
    assert listed[2]["status"] == {"Queued": {"enqueued_at": listed[2]["status"]["Queued"]["enqueued_at"]}}
    assert listed[3]["status"] == {"Stashed": {"enqueue_at": None}}


def test_monitoring_filters_by_group(bash: Bash, daemon: Path) -> None:
    _monitoring_queue(bash)
    entries = json.loads(bash(FILTER_BY_GROUP).stdout)
    assert [(e["key"], e["value"]["group"]) for e in entries] == [("1", "mygroup"), ("2", "mygroup")]


def test_monitoring_counts_by_status(bash: Bash, daemon: Path) -> None:
    _monitoring_queue(bash)
    counts = json.loads(bash(COUNT_BY_STATUS + " -c").stdout)
    assert counts == [{"status": "Done", "count": 2}, {"status": "Queued", "count": 1},
                      {"status": "Stashed", "count": 1}]


# ---- Callback as Completion Signal ---------------------------------------------------------------

# The seed's pueue.yml `daemon: callback:` in runq's config format. Only the sentinel file's path
# differs (a private file under /tmp instead of the shared /tmp/pueue-completions.log).
CALLBACK_CONFIG = '[daemon]\ncallback = "echo \'{{{{id}}}}:{{{{result}}}}:{{{{exit_code}}}}\' >> {log}"\n'

POLL_SENTINEL = r'''
# Wait for specific task ID to appear in completions
while ! grep -q "^${{TASK_ID}}:" {log} 2>/dev/null; do
  sleep 1
done
RESULT=$(grep "^${{TASK_ID}}:" {log} | cut -d: -f2)
echo "$RESULT"
'''


def test_callback_sentinel_file(bash: Bash, home: Path, tmp_path: Path) -> None:
    completions = tmp_path / "runq-completions.log"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(CALLBACK_CONFIG.format(log=completions))
    ids = bash("runq add -p -- true; runq add -p -- 'exit 3'; runq add -p --after 1 -- true").stdout.split()
    assert ids == ["0", "1", "2"]
    results = [bash(POLL_SENTINEL.format(log=completions), extra_env={"TASK_ID": i}, timeout=30).stdout.strip()
               for i in ids]
    assert results == ["Success", "Failed", "DependencyFailed"]
    assert sorted(completions.read_text().splitlines()) == ["0:Success:0", "1:Failed:3", "2:DependencyFailed:None"]


# ---- Batch Test/Build Orchestration --------------------------------------------------------------

# `uv run pytest "packages/$pkg/tests/" -x` becomes `python3 -m unittest discover -s ... -f`
# (uv is not installed here): one test-runner process per package, failing fast, as in the seed.
BATCH = r'''
# Create group with parallelism limit
runq group add tests --parallel 4

# Queue test suite
for pkg in pkg-a pkg-b pkg-c pkg-d pkg-e; do
  runq add --group tests --label "test:$pkg" -w ~/project \
    -- python3 -m unittest discover -s "packages/$pkg/tests/" -f
done

# Wait for all tests
runq wait --group tests
'''

BATCH_RESULTS = r'''
# Check results
runq status --json | jq '[.tasks | to_entries[] |
  select(.value.group == "tests") |
  {label: .value.label, result: .value.status.Done.result}]'
'''

PASSING_TEST = "import unittest\n\nclass T(unittest.TestCase):\n    def test_ok(self):\n        self.assertTrue(True)\n"
FAILING_TEST = "import unittest\n\nclass T(unittest.TestCase):\n    def test_broken(self):\n        self.assertEqual(1, 2)\n"


def test_batch_test_orchestration(bash: Bash, user_home: Path, daemon: Path) -> None:
    for pkg in ("pkg-a", "pkg-b", "pkg-c", "pkg-d", "pkg-e"):
        tests = user_home / "project" / "packages" / pkg / "tests"
        tests.mkdir(parents=True)
        (tests / "test_it.py").write_text(FAILING_TEST if pkg == "pkg-c" else PASSING_TEST)
    bash(BATCH, timeout=120)
    assert all(task["status"] == "Done" for task in tasks().values())
    results = json.loads(bash(BATCH_RESULTS).stdout)
    assert results == [{"label": f"test:{pkg}", "result": {"Failed": 1} if pkg == "pkg-c" else "Success"}
                       for pkg in ("pkg-a", "pkg-b", "pkg-c", "pkg-d", "pkg-e")]


# ---- Build DAG with --after ----------------------------------------------------------------------

BUILD_DAG = r'''
runq group add build  # the seed forgets this: groups are never created implicitly

# Build dependencies first, then dependents
BUILD_A=$(runq add --print-task-id --group build -- make -C lib-a)
BUILD_B=$(runq add --print-task-id --group build -- make -C lib-b)

# App depends on both libs
runq add --group build --after "$BUILD_A" "$BUILD_B" \
  --label "build:app" -- make -C app
'''

MAKEFILES = {
    "lib-a": "all:\n\tsleep 0.2\n\techo liba > lib.out\n",
    "lib-b": "all:\n\techo libb > lib.out\n",
    "app": "all:\n\tcat ../lib-a/lib.out ../lib-b/lib.out > app.out\n",
}


def _write_makefiles(project: Path, broken: str | None = None) -> None:
    for name, text in MAKEFILES.items():
        (project / name).mkdir()
        (project / name / "Makefile").write_text("all:\n\tfalse\n" if name == broken else text)


def test_build_dag_runs_the_app_after_both_libs(bash: Bash, user_home: Path, daemon: Path) -> None:
    project = user_home / "project"
    _write_makefiles(project)
    assert bash(BUILD_DAG).stdout.splitlines()[-1] == "New task added (id 2)."
    done = wait_done(0, 1, 2)
    assert [done[i]["result"] for i in (0, 1, 2)] == ["Success"] * 3
    assert done[2]["dependencies"] == [0, 1] and done[2]["label"] == "build:app"
    assert done[2]["start"] >= max(done[0]["end"], done[1]["end"])
    assert (project / "app" / "app.out").read_text() == "liba\nlibb\n"


def test_build_dag_fails_the_app_when_a_lib_fails(bash: Bash, user_home: Path, daemon: Path) -> None:
    project = user_home / "project"
    _write_makefiles(project, broken="lib-b")
    bash(BUILD_DAG)
    done = wait_done(0, 1, 2)
    assert [done[i]["result"] for i in (0, 1, 2)] == ["Success", "Failed", "DependencyFailed"]
    assert not (project / "app" / "app.out").exists()


# ---- PreToolUse Hook Auto-Wrapping ---------------------------------------------------------------

def _pre_tool_use(bash: Bash, command: str, cwd: Path) -> str:
    payload = json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": "toolu_1",
                          "session_id": "session-1", "cwd": str(cwd), "tool_input": {"command": command}})
    return bash(f"printf '%s' {_quote(payload)} | runq hook claude").stdout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_hook_wraps_a_command_and_the_escape_hatch_skips_it(bash: Bash, user_home: Path, daemon: Path) -> None:
    pytest.importorskip("tree_sitter_bash")
    project = user_home / "project"
    (project / "populate_cache.py").write_text("import sys\nprint('phase', sys.argv[2])\n")
    escaped = "python populate_cache.py --phase 1  # PUEUE-SKIP"
    assert _pre_tool_use(bash, escaped, project) == ""
    assert bash(escaped).stdout == "phase 1\n"

    decision = json.loads(_pre_tool_use(bash, "python populate_cache.py --phase 1", project))
    rewritten = decision["hookSpecificOutput"]["updatedInput"]["command"]
    assert bash(rewritten).stdout == "phase 1\n"
    (recorded,) = tasks().values()
    assert recorded["command"] == "python populate_cache.py --phase 1" and recorded["result"] == "Success"


# ---- Telemetry Query Patterns --------------------------------------------------------------------

AVERAGE_BY_PREFIX = r'''runq status --json | jq '
  [.tasks | to_entries[] |
   select(.value.status.Done) |
   {label: .value.label,
    duration_s: ((.value.status.Done.end | split(".")[0] | fromdate) -
                 (.value.start | split(".")[0] | fromdate))}] |
  group_by(.label | split(":")[0]) |
  map({prefix: .[0].label | split(":")[0],
       avg_s: (map(.duration_s) | add / length),
       count: length})' '''

FAILED_WITH_CODES = r'''runq status --json | jq '[.tasks | to_entries[] |
  select(.value.status.Done.result != "Success") |
  {id: .key, label: .value.label, result: .value.status.Done.result}]' '''


def _telemetry_queue(bash: Bash, small: str = "1", big: str = "2") -> dict[int, dict]:
    """Labelled tasks of known length, all finished. (The average recipe needs every Done task
    labelled: `null | split(":")` is an error in jq, on pueue's JSON as on runq's.)"""
    bash(f"runq group add work --parallel 0 && "
         f"runq add -g work -l train:small -- sleep {small} && runq add -g work -l train:big -- sleep {big} && "
         "runq add -g work -l test:unit -- true && runq add -g work -l test:lint -- 'exit 4' && "
         "runq add -g work -l test:gpu --after 3 -- true")
    return wait_done(0, 1, 2, 3, 4)


def test_average_runtime_by_label_prefix(bash: Bash, daemon: Path) -> None:
    done = _telemetry_queue(bash)
    averages = json.loads(bash(AVERAGE_BY_PREFIX + " -c").stdout)
    # The recipe reads whole seconds, so each duration is the difference of the truncated epochs.
    seconds = {i: int(done[i]["end"]) - int(done[i]["start"]) for i in done}
    assert averages == [
        {"prefix": "test", "avg_s": (seconds[2] + seconds[3] + seconds[4]) / 3, "count": 3},
        {"prefix": "train", "avg_s": (seconds[0] + seconds[1]) / 2, "count": 2},
    ]
    assert seconds[0] >= 1 and seconds[1] >= 2 and seconds[4] == 0  # sleeps cannot be shorter
    # Every timestamp runq writes parses the recipe's way.
    parsed = jq_json('[.tasks[] | .created_at, .start, .end, (.status.Done | .enqueued_at, .start, .end)'
                     ' | split(".")[0] | fromdate]', bash("runq status --json").stdout)
    assert isinstance(parsed, list) and len(parsed) == 5 * 6


def test_failed_tasks_with_exit_codes(bash: Bash, daemon: Path) -> None:
    _telemetry_queue(bash, small="0", big="0")
    failed = json.loads(bash(FAILED_WITH_CODES + " -c").stdout)
    assert failed == [{"id": "3", "label": "test:lint", "result": {"Failed": 4}},
                      {"id": "4", "label": "test:gpu", "result": "DependencyFailed"}]
