"""Find and run the real Claude Code CLI (npm package @anthropic-ai/claude-code) offline.

Lookup order: $RUNQ_E2E_CLAUDE, then the checkout's .e2e-node/node_modules/.bin/claude (where
.ci/run installs it), then `claude` on PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from scripted_api import Script, ScriptedApi, ToolResult

REPO = Path(__file__).resolve().parents[2]
LOCAL_CLI = REPO / ".e2e-node" / "node_modules" / ".bin" / "claude"


def find_claude() -> str | None:
    explicit = os.environ.get("RUNQ_E2E_CLAUDE")
    if explicit:
        return explicit
    if LOCAL_CLI.exists():
        return str(LOCAL_CLI)
    return shutil.which("claude")


def claude_env(api: ScriptedApi, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANTHROPIC_", "CLAUDE_", "OTEL_"))}
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(home), "TMPDIR": str(tmp), "CLAUDE_CODE_TMPDIR": str(tmp),
        "ANTHROPIC_API_KEY": "sk-ant-offline-test", "ANTHROPIC_BASE_URL": api.url,
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
    })
    env.update(extra or {})
    return env


def run_claude(cli: str, api: ScriptedApi, project: Path, home: Path, commands: list[str],
               args: list[str] | None = None, env: dict[str, str] | None = None,
               timeout: float = 300) -> tuple[list[ToolResult], subprocess.CompletedProcess]:
    """Run one `claude -p` session that calls Bash once per command, in order."""
    api.script = Script(list(commands))
    completed = subprocess.run(
        [cli, "-p", "Run the scripted commands.", "--output-format", "stream-json", "--verbose", *(args or [])],
        cwd=project, env=claude_env(api, home, env), stdin=subprocess.DEVNULL, capture_output=True, check=False,
        text=True, timeout=timeout)
    return list(api.script.results), completed


def trust_workspace(home: Path, project: Path) -> None:
    """Mark `project` trusted in Claude Code's global state, so project allow rules apply in -p mode."""
    import json

    state_file = home / ".claude.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    state.setdefault("projects", {}).setdefault(str(project), {})["hasTrustDialogAccepted"] = True
    state_file.write_text(json.dumps(state))
