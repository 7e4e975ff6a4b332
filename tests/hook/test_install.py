"""`runq hook install | uninstall | status` against real settings files in a temp project."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from runq.hook import install, rewrite


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "deep" / "er").mkdir(parents=True)
    return root


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "user-home"
    home.mkdir()
    return home


def cli(runq, project: Path, user_home: Path, *args: str):
    return runq("hook", *args, cwd=str(project / "deep" / "er"), env={"HOME": str(user_home)})


EXISTING = {
    "permissions": {"allow": ["Bash(ls:*)"]},
    "model": "opus",
    "hooks": {"PreToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "echo guard"}]}],
              "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]},
}


def test_install_merges_keeps_everything_else_and_is_idempotent(runq, project: Path, user_home: Path) -> None:
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(EXISTING))
    first = cli(runq, project, user_home, "install", "--project")
    assert first.returncode == 0, first.stderr
    data = json.loads(settings.read_text())
    assert data["permissions"] == EXISTING["permissions"] and data["model"] == "opus"
    assert data["hooks"]["Stop"] == EXISTING["hooks"]["Stop"]
    assert data["hooks"]["PreToolUse"][0] == EXISTING["hooks"]["PreToolUse"][0]
    ours = data["hooks"]["PreToolUse"][-1]
    assert ours["matcher"] == "Bash"
    assert ours["hooks"] == [{"type": "command", "command": sys.executable, "timeout": 10,
                              "args": ["-I", "-S", rewrite.fastpath_script(), "hook", "claude"]}]
    assert set(install.installed_events(data)) == {"PreToolUse", "PostToolUse", "PostToolUseFailure"}
    text = settings.read_text()
    again = cli(runq, project, user_home, "install", "--project")
    assert "already installed" in again.stdout and settings.read_text() == text


def test_reinstall_moves_runq_after_hooks_added_later(runq, project: Path, user_home: Path) -> None:
    cli(runq, project, user_home, "install", "--local")
    settings = project / ".claude" / "settings.local.json"
    data = json.loads(settings.read_text())
    data["hooks"]["PreToolUse"].append({"matcher": "Bash", "hooks": [{"type": "command", "command": "other-rewriter"}]})
    settings.write_text(json.dumps(data))
    assert "may drop its rewrite" in cli(runq, project, user_home, "status").stdout
    cli(runq, project, user_home, "install", "--local")
    groups = json.loads(settings.read_text())["hooks"]["PreToolUse"]
    assert groups[0]["hooks"][0]["command"] == "other-rewriter" and install.is_runq_handler(groups[-1]["hooks"][0])


def test_dry_run_shows_the_change_and_writes_nothing(runq, project: Path, user_home: Path) -> None:
    done = cli(runq, project, user_home, "install", "--user", "--dry-run", "--timeout", "5")
    assert done.returncode == 0
    assert '+            "timeout": 5' in done.stdout and "dry run" in done.stdout
    assert not (user_home / ".claude" / "settings.json").exists()


def test_user_scope_and_shell_form(runq, project: Path, user_home: Path) -> None:
    assert cli(runq, project, user_home, "install", "--shell-form").returncode == 0
    data = json.loads((user_home / ".claude" / "settings.json").read_text())
    handler = data["hooks"]["PreToolUse"][0]["hooks"][0]
    assert "args" not in handler and handler["command"].endswith("fastpath.py hook claude")
    status = cli(runq, project, user_home, "status", "--json")
    scopes = {s["scope"]: s for s in json.loads(status.stdout)["scopes"]}
    assert scopes["user"]["events"] and not scopes["project"]["events"]


def test_uninstall_removes_only_runq(runq, project: Path, user_home: Path) -> None:
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(EXISTING))
    cli(runq, project, user_home, "install", "--project")
    cli(runq, project, user_home, "install", "--user")
    done = cli(runq, project, user_home, "uninstall")
    assert done.returncode == 0 and done.stdout.count("removed") == 2
    assert json.loads(settings.read_text()) == EXISTING
    assert json.loads((user_home / ".claude" / "settings.json").read_text() or "{}") == {}
    assert "no runq hook found" in cli(runq, project, user_home, "uninstall").stdout


def test_a_broken_settings_file_is_one_clear_error(runq, project: Path, user_home: Path) -> None:
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("{not json,}")
    done = cli(runq, project, user_home, "install", "--project")
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "not valid JSON" in done.stderr
    assert settings.read_text() == "{not json,}"


def test_hook_without_subcommand_is_a_usage_error(runq, project: Path, user_home: Path) -> None:
    done = cli(runq, project, user_home)
    assert done.returncode == 2 and "subcommand" in done.stderr
