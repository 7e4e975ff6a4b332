"""Building daemon-shaped history records for tests, and generating a varied, seeded set of them."""
from __future__ import annotations

import random
from typing import Any

# (command, the signature a person reading it would give)
COMMANDS = [
    ("pytest -x tests/test_a.py", "pytest"),
    ("uv run pytest packages/a -q", "uv run pytest"),
    ("python -m pytest tests", "python -m pytest"),
    ("cargo test -p core", "cargo test"),
    ("cd web && npm run build 2>&1 | tail -5", "npm run build"),
    ("GIT_PAGER=cat git commit -m 'x y'", "git commit"),
    ("sudo -u ci make -j4 test", "make test"),
    ("time go test ./...", "go test"),
]
LABELS = ["test:a", "test:b", "build:web", "lint", "tests:x", None, None]
GROUPS = ["default", "tests", "build"]
ORIGINS = ["cli", "run", "claude-hook", "dag"]
SESSIONS = ["sess-1", "sess-2", "sess-3", None]
RESULTS = ["Success"] * 6 + ["Failed", "Failed", "Killed", "TimedOut", "Errored", "FailedToSpawn", "DependencyFailed"]


def record(**overrides: Any) -> dict[str, Any]:
    """One attempt in the shape the daemon passes to HistoryStore.record."""
    rec: dict[str, Any] = {
        "id": 1, "attempt": 1, "command": "true", "cwd": "/tmp", "group": "default", "label": None,
        "origin": "cli", "session_id": None, "tool_use_id": None, "prompt_id": None, "agent_id": None,
        "dag_run": None, "dag_task": None, "priority": 0, "dependencies": [],
        "enqueued_at": 1_700_000_000.0, "started_at": 1_700_000_000.5, "ended_at": 1_700_000_002.0,
        "result": "Success", "exit_code": 0, "signal": None, "user_cpu": 0.01, "sys_cpu": 0.0,
        "max_rss_kb": 1024, "stdout_bytes": 0, "stderr_bytes": 0, "log_path": None,
        "env": {"PATH": "/usr/bin"}, "final": True,
    }
    rec.update(overrides)
    return rec


def generated(count: int, now: float, seed: int = 5) -> list[dict[str, Any]]:
    """Varied attempts that ended between 1 and 48 hours before `now`, never within 10 minutes of a
    whole hour back from `now`, so `--since 2h` style filters have no borderline rows."""
    rng = random.Random(seed)
    records = []
    for task_id in range(1, count + 1):
        command, _ = rng.choice(COMMANDS)
        result = rng.choice(RESULTS)
        ended = now - rng.randrange(1, 48) * 3600 - rng.uniform(600, 3000)
        started = None if result in ("DependencyFailed", "FailedToSpawn") else ended - rng.uniform(0.001, 120)
        enqueued = (started if started is not None else ended) - rng.uniform(0, 30)
        records.append(record(
            id=task_id, attempt=1, command=command, group=rng.choice(GROUPS), label=rng.choice(LABELS),
            origin=rng.choice(ORIGINS), session_id=rng.choice(SESSIONS), enqueued_at=enqueued, started_at=started,
            ended_at=ended, result=result, exit_code=0 if result == "Success" else (2 if result == "Failed" else None),
            signal=9 if result == "Killed" else None, env={"PATH": "/usr/bin", "N": str(task_id % 3)},
        ))
    return records


def signature_of(command: str) -> str:
    return dict(COMMANDS)[command]
