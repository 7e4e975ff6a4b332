"""One history row as a record, and the queries that list and fetch them."""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from runq.telemetry.filters import Filters

# The record's fields in output order; `id` is the task id, as in `runq status`.
COLUMNS = ("task_id", "attempt", "final", "command", "signature", "cwd", "group_name", "label", "origin",
           "session_id", "tool_use_id", "prompt_id", "agent_id", "dag_run", "dag_task", "priority", "dependencies",
           "enqueued_at", "started_at", "ended_at", "queue_wait", "run_time", "result", "exit_code", "signal",
           "user_cpu", "sys_cpu", "max_rss_kb", "stdout_bytes", "stderr_bytes", "log_path")
SELECT = "SELECT " + ", ".join(f"a.{c}" for c in COLUMNS) + ", {env} FROM attempts AS a"
ENV_JOIN = " LEFT JOIN environments AS e ON e.id = a.env_id"


@dataclass(frozen=True)
class HistoryRecord:
    id: int
    attempt: int
    final: bool
    command: str
    signature: str
    cwd: str | None
    group: str | None
    label: str | None
    origin: str | None
    session_id: str | None
    tool_use_id: str | None
    prompt_id: str | None
    agent_id: str | None
    dag_run: str | None
    dag_task: str | None
    priority: int | None
    dependencies: list[int]
    enqueued_at: float | None
    started_at: float | None
    ended_at: float
    queue_wait: float | None
    run_time: float | None
    result: str
    exit_code: int | None
    signal: int | None
    user_cpu: float | None
    sys_cpu: float | None
    max_rss_kb: int | None
    stdout_bytes: int | None
    stderr_bytes: int | None
    log_path: str | None
    env: dict[str, str] | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...], envs: dict[str, dict[str, str]] | None = None) -> HistoryRecord:
        """`envs`: parsed environments by their JSON text; rows share a few environments, so an
        export parses each once."""
        values = list(row)
        values[2] = bool(values[2])
        values[16] = json.loads(values[16]) if values[16] else []
        env_text = values[-1]
        if env_text is None:
            values[-1] = None
        elif envs is not None:
            values[-1] = envs.get(env_text) or envs.setdefault(env_text, json.loads(env_text))
        else:
            values[-1] = json.loads(env_text)
        return cls(*values)

    @property
    def log_exists(self) -> bool:
        return self.log_path is not None and os.path.exists(self.log_path)

    def to_dict(self, with_env: bool = True) -> dict[str, Any]:
        """JSON shape: the log path only while the log file exists (null once it is cleaned)."""
        data = {name: getattr(self, name) for name in FIELD_NAMES}
        data["log_path"] = self.log_path if self.log_exists else None
        if not with_env:
            del data["env"]
        return data


FIELD_NAMES = tuple(f.name for f in fields(HistoryRecord))


def list_records(db: sqlite3.Connection, filters: Filters, limit: int | None, newest_first: bool,
                 with_env: bool = False) -> Iterator[HistoryRecord]:
    where, params = filters.where()
    order = "DESC" if newest_first else "ASC"
    # the bare column walks the ended_at index; with a filter, + lets the filter's index lead
    key = "+a.ended_at" if filters.active() else "a.ended_at"
    sql = (SELECT.format(env="e.data" if with_env else "NULL") + (ENV_JOIN if with_env else "") + where
           + f" ORDER BY {key} {order}, a.id {order}")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    envs: dict[str, dict[str, str]] = {}
    for row in db.execute(sql, params):
        if len(envs) > 1024:
            envs.clear()
        yield HistoryRecord.from_row(row, envs)


def task_records(db: sqlite3.Connection, task_id: int) -> list[HistoryRecord]:
    sql = SELECT.format(env="e.data") + ENV_JOIN + " WHERE a.task_id = ? ORDER BY a.ended_at, a.id"
    return [HistoryRecord.from_row(row) for row in db.execute(sql, (task_id,))]
