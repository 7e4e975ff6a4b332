"""Replay tests/hook/permission_table.py against the installed Claude Code CLI, without the hook.

This keeps the table (and so the hook's permission logic, tested against it in
tests/hook/test_permissions.py) honest about what Claude Code itself decides.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "hook"))

from claude_cli import run_claude, trust_workspace
from permission_table import ROWS, RULESETS
from scripted_api import ToolResult

PROMPT_MARKERS = ("requires approval", "require approval", "needs approval", "was blocked",
                  "can't be checked", "cannot be auto-allowed", "require explicit approval")


def outcome(result: ToolResult) -> str:
    text = result.content
    if "has been denied" in text:
        return "deny"
    if "haven't granted it yet" in text:
        return "ask"
    if any(marker in text for marker in PROMPT_MARKERS):
        return "prompt"
    return "allow"


@pytest.mark.parametrize("ruleset", sorted(RULESETS))
def test_claude_code_decides_as_the_table_says(ruleset: str, claude_cli: str, scripted_api, stub_bin: Path,
                                               tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / "sub").mkdir()
    home.mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": RULESETS[ruleset]}))
    trust_workspace(home, project)
    rows = [(command, expected) for name, command, expected in ROWS if name == ruleset]
    results, completed = run_claude(claude_cli, scripted_api, project, home, [command for command, _ in rows])
    assert len(results) == len(rows), completed.stdout[-3000:] + completed.stderr[-3000:]
    seen = {result.command: outcome(result) for result in results}
    mismatches = [(command, expected, seen[command], next(r.content for r in results if r.command == command))
                  for command, expected in rows if seen[command] != expected]
    assert not mismatches
