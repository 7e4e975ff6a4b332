"""End to end through the real daemon: history outlives clean and reset, and measures CPU and memory."""
from __future__ import annotations

import json
import sys

from conftest import wait_until

# Allocates and touches 200 MiB, then spins on the CPU until the process has used 0.5 s more.
BURN = (
    "import time\n"
    "block = b'x' * (200 * 1024 * 1024)\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.5:\n"
    "    pass\n"
)


def history(runq, *args: str) -> list[dict]:  # type: ignore[no-untyped-def]
    completed = runq("history", "--json", "--limit", "1000", *args)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def add(runq, *args: str) -> int:  # type: ignore[no-untyped-def]
    completed = runq("add", "--print-task-id", *args)
    assert completed.returncode == 0, completed.stderr
    return int(completed.stdout)


def test_history_survives_clean_and_reset(runq, daemon) -> None:  # type: ignore[no-untyped-def]
    ok = add(runq, "--label", "keep:ok", "--", "true")
    failing = add(runq, "--label", "keep:bad", "--", "exit 3")
    assert runq("wait").returncode in (0, 1)
    wait_until(lambda: len(history(runq)) >= 2)
    assert runq("clean").returncode == 0

    sleeper = add(runq, "--", "sleep 60")
    wait_until(lambda: "Running" in json.loads(runq("status", "--json").stdout)["tasks"][str(sleeper)]["status"])
    assert runq("reset", "--force").returncode == 0
    wait_until(lambda: any(r["id"] == sleeper for r in history(runq)))

    records = {r["id"]: r for r in history(runq)}
    assert records[ok]["result"] == "Success" and records[ok]["label"] == "keep:ok"
    assert records[failing]["result"] == "Failed" and records[failing]["exit_code"] == 3
    assert records[sleeper]["result"] == "Killed"
    assert all(r["ended_at"] >= r["started_at"] >= r["enqueued_at"] for r in records.values())
    stats = json.loads(runq("stats", "labels", "--json").stdout)
    assert {row["prefix"]: row["runs"] for row in stats["labels"]["rows"]}["keep"] == 2


def test_cpu_and_peak_memory_are_measured(runq, daemon) -> None:  # type: ignore[no-untyped-def]
    task = add(runq, "--", sys.executable, "-c", BURN)
    assert runq("wait", str(task)).returncode == 0
    record = wait_until(lambda: next((r for r in history(runq) if r["id"] == task), None))
    assert record["result"] == "Success"
    assert record["user_cpu"] + record["sys_cpu"] >= 0.4
    assert record["max_rss_kb"] >= 200 * 1024
