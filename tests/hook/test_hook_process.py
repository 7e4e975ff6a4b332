"""`runq hook claude` as Claude Code runs it: a fresh `python -I -S fastpath.py` process per call."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_until

from runq.hook import activity, rewrite

HOOK = [sys.executable, "-I", "-S", rewrite.fastpath_script(), "hook", "claude"]


def payload(command: str, event: str = "PreToolUse", **tool_input: object) -> dict:
    return {"session_id": "sess-1", "prompt_id": "prompt-1", "transcript_path": "/dev/null", "cwd": os.getcwd(),
            "permission_mode": "default", "hook_event_name": event, "tool_name": "Bash",
            "tool_input": {"command": command, "description": "run it", **tool_input},
            "tool_use_id": "toolu_01"}


@pytest.fixture
def claude_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME, so the user's real ~/.claude rules never leak into a test."""
    home = tmp_path / "claude-home"
    (home / ".claude").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in ("CLAUDE_PROJECT_DIR", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def run_hook(data: dict | bytes) -> subprocess.CompletedProcess:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return subprocess.run(HOOK, input=raw, capture_output=True, timeout=30, check=False)


def test_wraps_a_build_and_keeps_every_other_field(daemon: Path, claude_home: Path) -> None:
    done = run_hook(payload("pytest -q 2>&1 | tail -3", timeout=600000, run_in_background=False, extra_field=1))
    assert done.returncode == 0 and done.stderr == b""
    output = json.loads(done.stdout)["hookSpecificOutput"]
    assert output["hookEventName"] == "PreToolUse"
    assert "permissionDecision" not in output  # no allow rule: Claude Code asks as it would have
    updated = output["updatedInput"]
    assert {k: v for k, v in updated.items() if k != "command"} == {
        "description": "run it", "timeout": 600000, "run_in_background": False, "extra_field": 1}
    assert updated["command"].startswith(f"{sys.executable} -I -S {rewrite.fastpath_script()} run ")
    assert updated["command"].endswith("-- 'pytest -q 2>&1 | tail -3'")
    assert "--session-id sess-1 --tool-use-id toolu_01 --prompt-id prompt-1" in updated["command"]


def test_allow_only_when_the_users_rules_allow_the_original(daemon: Path, claude_home: Path) -> None:
    (claude_home / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Bash(pytest:*)"]}}))
    output = json.loads(run_hook(payload("pytest -q")).stdout)["hookSpecificOutput"]
    assert output["permissionDecision"] == "allow"
    output = json.loads(run_hook(payload("pytest -q && make")).stdout)["hookSpecificOutput"]
    assert "permissionDecision" not in output


def test_deny_and_ask_rules_leave_the_command_to_claude_code(daemon: Path, claude_home: Path) -> None:
    rules = {"permissions": {"deny": ["Bash(make deploy:*)"], "ask": ["Bash(npm publish *)"], "allow": ["Bash"]}}
    (claude_home / ".claude" / "settings.json").write_text(json.dumps(rules))
    for command in ("make deploy", "timeout 60 make deploy --prod", "npm publish --tag next", "pytest && npm publish"):
        done = run_hook(payload(command))
        assert done.returncode == 0 and done.stdout == b"", command


def test_project_allow_rules_count_only_in_a_trusted_workspace(daemon: Path, claude_home: Path,
                                                               tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Bash(pytest:*)"]}}))
    data = {**payload("pytest -q"), "cwd": str(project)}
    assert "permissionDecision" not in json.loads(run_hook(data).stdout)["hookSpecificOutput"]
    (claude_home / ".claude.json").write_text(json.dumps({"projects": {str(project): {"hasTrustDialogAccepted": True}}}))
    assert json.loads(run_hook(data).stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Bash"}).encode(),
    json.dumps({**payload("make"), "tool_name": "Write"}).encode(),
    json.dumps(payload("make", run_in_background=True)).encode(),
    json.dumps(payload('echo "unterminated')).encode(),
    json.dumps(payload("ls -la")).encode(),
])
def test_anything_else_prints_nothing_and_exits_zero(data: bytes, daemon: Path, claude_home: Path) -> None:
    done = run_hook(data)
    assert (done.returncode, done.stdout) == (0, b"")


def test_a_daemon_that_is_down_gets_started_and_the_command_passes(home: Path, claude_home: Path) -> None:
    done = run_hook(payload("make test"))
    assert (done.returncode, done.stdout) == (0, b"")
    socket_path = str(home / "run" / "daemon.sock")

    def accepts() -> bool:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(socket_path)
            return True
        except OSError:
            return False
        finally:
            sock.close()

    wait_until(accepts)
    assert json.loads(run_hook(payload("make test")).stdout)["hookSpecificOutput"]["updatedInput"]


def test_config_patterns_steer_the_decision(daemon: Path, home: Path, claude_home: Path) -> None:
    (home / "config.toml").write_text('[hook]\nnever_wrap = ["make *"]\nalways_wrap = ["ls"]\n')
    assert run_hook(payload("make test")).stdout == b""
    assert json.loads(run_hook(payload("ls -la")).stdout)["hookSpecificOutput"]["updatedInput"]


def test_post_tool_use_records_drops(daemon: Path, home: Path, claude_home: Path, runq) -> None:
    rewritten = json.loads(run_hook(payload("make test")).stdout)["hookSpecificOutput"]["updatedInput"]["command"]
    assert run_hook(payload(rewritten, event="PostToolUse")).stdout == b""
    second = {**payload("make lint"), "tool_use_id": "toolu_02"}
    run_hook(second)
    # another plugin's hook replaced our answer: the original ran instead of the rewrite
    dropped = {**payload("make lint", event="PostToolUseFailure"), "tool_use_id": "toolu_02"}
    run_hook(dropped)
    posts = [r for r in activity.read_recent(str(home), 50) if r["event"] == "post"]
    assert [(r["tool_use_id"], r["matched"]) for r in posts] == [("toolu_01", True), ("toolu_02", False)]
    status = runq("hook", "status", env={"HOME": str(claude_home)})
    assert status.returncode == 0
    assert "1 dropped" in status.stdout and "DROP" in status.stdout and "toolu_02" in status.stdout


def test_hook_start_imports_no_heavy_modules(daemon: Path, claude_home: Path) -> None:
    probe = (
        "import sys, io, json; sys.argv = ['fastpath.py', 'hook', 'claude'];"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(rewrite.fastpath_script()))!r});"
        f"sys.stdin = io.TextIOWrapper(io.BytesIO({json.dumps(payload('ls -la')).encode()!r}));"
        "import runq.client.main as m; m.main(['hook', 'claude']);"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=30,
                          check=False)
    loaded = set(done.stderr.split())
    assert "runq.hook.bashparse" in loaded
    assert not loaded & {"argparse", "subprocess", "socket", "typing", "dataclasses", "shlex", "tomllib", "asyncio"}
