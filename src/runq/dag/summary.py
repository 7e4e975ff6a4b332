"""The end of a run: a table (task, result, exit code, duration, attempts), the logs of failed
tasks, and the same facts as JSON for agents."""
from __future__ import annotations

import json
from dataclasses import dataclass

from runq.client.render import safe_text, table
from runq.dag.state import CANCELLED, RunState
from runq.dag.view import LogPath, duration_text
from runq.model import DEPENDENCY_FAILED, SUCCESS

RESULT_TEXT = {"TimedOut": "Timed out", DEPENDENCY_FAILED: "Dependency failed", "FailedToSpawn": "Failed to spawn"}
NO_LOG = (SUCCESS, CANCELLED, DEPENDENCY_FAILED)


@dataclass(frozen=True)
class TaskRow:
    name: str
    id: int | None  # None: never submitted (interrupted while submitting)
    result: str  # Success, Failed, TimedOut, Killed, DependencyFailed, FailedToSpawn, Errored, Cancelled, NotRun
    exit_code: int | None
    duration: float | None
    attempts: int
    log_path: str | None

    def to_dict(self) -> dict:
        return {"name": self.name, "id": self.id, "result": self.result, "exit_code": self.exit_code,
                "duration": None if self.duration is None else round(self.duration, 3),
                "attempts": self.attempts, "log_path": self.log_path}


@dataclass(frozen=True)
class Outcome:
    file: str
    run_id: str
    rows: tuple[TaskRow, ...]
    skipped: tuple[str, ...]  # --rerun-failed: tasks that had already succeeded
    interrupted: bool
    fail_fast: bool  # --fail-fast fired

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(row.result == SUCCESS for row in self.rows)


def collect(state: RunState, log_path: LogPath, unsubmitted: tuple[str, ...] = ()) -> tuple[TaskRow, ...]:
    rows = []
    for task_id, name in state.names.items():
        record = state.records.get(task_id, {})
        result = state.result_of(task_id) or "NotRun"
        ran = record.get("status") == "Done" and result not in (CANCELLED, DEPENDENCY_FAILED)
        duration = record["end"] - record["start"] if ran and record.get("start") and record.get("end") else None
        rows.append(TaskRow(name, task_id, result, record.get("exit_code") if ran else None, duration,
                            record.get("attempt", 1) if ran else 0,
                            None if result in NO_LOG or not ran else log_path(task_id)))
    rows.extend(TaskRow(name, None, CANCELLED, None, None, 0, None) for name in unsubmitted)
    return tuple(rows)


def render_text(outcome: Outcome) -> str:
    if not outcome.rows:
        return f"Nothing to run: all {len(outcome.skipped)} task(s) succeeded in an earlier run of {outcome.file}"
    rows = [[safe_text(r.name, 60), RESULT_TEXT.get(r.result, r.result),
             "" if r.exit_code is None else str(r.exit_code),
             "-" if r.duration is None else duration_text({"start": 0.0, "end": r.duration}),
             str(r.attempts) if r.attempts else "-"] for r in outcome.rows]
    lines = [table(["Task", "Result", "Exit", "Duration", "Attempts"], rows)] if rows else []
    logs = [r for r in outcome.rows if r.log_path]
    if logs:
        lines.append("\nLogs of failed tasks:")
        lines.extend(f"  {safe_text(r.name, 60)}: {r.log_path}" for r in logs)
    lines.append("\n" + _verdict(outcome))
    return "\n".join(lines)


def _verdict(outcome: Outcome) -> str:
    counts: dict[str, int] = {}
    for row in outcome.rows:
        counts[row.result] = counts.get(row.result, 0) + 1
    order = [SUCCESS, "Failed", "TimedOut", "Killed", "FailedToSpawn", "Errored", DEPENDENCY_FAILED, CANCELLED, "NotRun"]
    words = {SUCCESS: "succeeded", "NotRun": "not run"}
    parts = [f"{counts[key]} {words.get(key) or RESULT_TEXT.get(key, key).lower()}" for key in order if counts.get(key)]
    if outcome.skipped:
        parts.append(f"{len(outcome.skipped)} skipped (succeeded in an earlier run)")
    head = "All tasks succeeded" if outcome.ok else "Interrupted" if outcome.interrupted else \
        "Stopped at the first failure (--fail-fast)" if outcome.fail_fast else "Some tasks did not succeed"
    return f"{head}: {', '.join(parts) or 'nothing to run'} (run {outcome.run_id})"


def render_json(outcome: Outcome) -> str:
    counts: dict[str, int] = {}
    for row in outcome.rows:
        counts[row.result] = counts.get(row.result, 0) + 1
    document = {"file": outcome.file, "run_id": outcome.run_id, "ok": outcome.ok, "interrupted": outcome.interrupted,
                "fail_fast": outcome.fail_fast, "counts": counts, "skipped": list(outcome.skipped),
                "tasks": [row.to_dict() for row in outcome.rows]}
    return json.dumps(document, indent=2)
