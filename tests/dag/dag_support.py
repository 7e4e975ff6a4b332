"""Shared pieces of the DAG tests: a fast engine config, writing DAG files, running them, and
reading the daemon's view of the tasks (in-process, over the real socket)."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runq.client.connection import connect

RunqCli = Callable[..., subprocess.CompletedProcess]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Small backoff and kill grace keep retries and cancellations quick; the behaviour is the same.
FAST_CONFIG = "[daemon]\nretry_backoff = 0.05\nkill_grace = 0.3\n"


@pytest.fixture(autouse=True)
def fast_engine(home: Path) -> None:
    """Written before any daemon starts, which is when the config is read."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(FAST_CONFIG)


def write_dag(folder: Path, text: str, name: str = "dag.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run_json(runq: RunqCli, path: Path, *flags: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, dict]:
    result = runq("dag", "run", str(path), "--json", *flags, timeout=timeout)
    assert result.stdout.strip(), result.stderr
    return result, json.loads(result.stdout)


def by_name(document: dict) -> dict[str, dict]:
    return {row["name"]: row for row in document["tasks"]}


def daemon_tasks() -> list[dict]:
    with connect(autostart=False) as conn:
        return conn.call("status")["tasks"]
