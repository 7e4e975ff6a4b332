"""pueue 4's JSON shapes (`status --json`, `log --json`, `group --json`), exactly, plus added fields.

Timestamps: pueue writes RFC 3339 with the local offset and nanoseconds. The seed's "average
runtime by label prefix" recipe does `split(".")[0] | fromdate`, which jq 1.6 only accepts for
`YYYY-MM-DDTHH:MM:SSZ`: with a fraction or an offset it fails, even on pueue itself. runq writes
the v4 fields as whole-second UTC (`2026-01-02T03:04:05Z`, still valid RFC 3339, so pueue's own
parsers accept it) and adds the precise values, as epoch seconds, under each task's "runq" key.
The recipe also reads the v3-era top-level `start`; runq adds `start` and `end` there too.
"""
from __future__ import annotations

import json
import time

from runq.model import DONE, FAILED, FAILED_TO_SPAWN, LOCKED, PAUSED, QUEUED, RUNNING, STASHED, Group, Task


def timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def result_value(task: Task) -> object:
    if task.result == FAILED:
        return {"Failed": task.exit_code if task.exit_code is not None else 1}
    if task.result == FAILED_TO_SPAWN:
        return {"FailedToSpawn": task.spawn_error or "failed to spawn"}
    return task.result


def status_value(task: Task) -> dict:
    enqueued = timestamp(task.enqueued_at or task.created_at)
    if task.status == QUEUED:
        return {"Queued": {"enqueued_at": enqueued}}
    if task.status == STASHED:
        return {"Stashed": {"enqueue_at": timestamp(task.enqueue_at)}}
    if task.status in (RUNNING, PAUSED):
        return {task.status: {"enqueued_at": enqueued, "start": timestamp(task.start)}}
    if task.status == DONE:
        return {"Done": {"enqueued_at": enqueued, "start": timestamp(task.start), "end": timestamp(task.end),
                         "result": result_value(task)}}
    if task.status == LOCKED:
        return {"Locked": {"previous_status": {"Stashed": {"enqueue_at": None}}}}
    raise ValueError(f"unknown status {task.status}")


def task_object(task: Task, envs: dict[str, str], log_path: str) -> dict:
    return {
        "id": task.id,
        "created_at": timestamp(task.created_at),
        "original_command": task.original_command or task.command,
        "command": task.command,
        "path": task.path,
        "envs": envs,
        "group": task.group,
        "dependencies": list(task.dependencies),
        "priority": task.priority,
        "label": task.label,
        "status": status_value(task),
        "start": timestamp(task.start),
        "end": timestamp(task.end),
        "runq": {
            "origin": task.origin, "session_id": task.session_id, "tool_use_id": task.tool_use_id,
            "prompt_id": task.prompt_id, "agent_id": task.agent_id,
            "attempt": task.attempt, "retries": task.retries, "timeout": task.timeout,
            "timed_out": task.timed_out, "exit_code": task.exit_code, "signal": task.signal,
            "error": task.spawn_error,
            "created_at": task.created_at, "enqueued_at": task.enqueued_at, "enqueue_at": task.enqueue_at,
            "start": task.start, "end": task.end, "worker_id": task.worker_id,
            "dag_run": task.dag_run, "dag_task": task.dag_task, "log_path": log_path,
        },
    }


def groups_object(groups: dict[str, Group]) -> dict:
    return {name: groups[name].to_dict() for name in sorted(groups)}


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
