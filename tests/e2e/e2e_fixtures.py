"""Fixtures for driving the real Claude Code CLI offline (see claude_cli.py and scripted_api.py).

Without the CLI these tests skip, except under CI (env CI set), where a missing CLI fails.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from claude_cli import find_claude
from scripted_api import ScriptedApi

STUB = """#!/bin/sh
# a stand-in program for e2e tests: reports its argv, writes to stderr, fails on request
echo "$(basename "$0") $*"
case "$*" in *--fail*) echo "$(basename "$0"): failing as asked" >&2; exit 3;; esac
"""


@pytest.fixture(scope="session")
def claude_cli() -> str:
    cli = find_claude()
    if cli is None or not os.access(cli, os.X_OK):
        message = ("Claude Code CLI not found: install it with `npm install --prefix .e2e-node --no-save "
                   "@anthropic-ai/claude-code` or set RUNQ_E2E_CLAUDE")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return cli


@pytest.fixture(scope="session")
def scripted_api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as api:
        yield api


@pytest.fixture
def stub_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH directory with stub programs `mytool` and `tool2`, first on PATH."""
    directory = tmp_path / "stubs"
    directory.mkdir()
    for name in ("mytool", "tool2"):
        path = directory / name
        path.write_text(STUB)
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory
