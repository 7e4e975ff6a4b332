"""The `runq stats` views: each is SQL over the attempts table plus the shape of its rows.

Every row of history is one attempt (a retried task has one row per attempt), so counts are runs.
All the arithmetic happens in SQLite: on a million rows, pulling rows into Python would cost more
than the query. Percentiles are nearest-rank: the p-th percentile of n sorted values is the value
at rank ceil(p * n / 100).
"""
from __future__ import annotations

import sqlite3
from collections import namedtuple

from runq.telemetry.filters import Filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Statement = tuple[str, list[Any]]


def _first_result(results: list[list[tuple[Any, ...]]]) -> tuple[list[tuple[Any, ...]], int | None]:
    return results[0], None


# collections.namedtuple rather than dataclasses or typing.NamedTuple: `dataclasses` pulls in
# `inspect` and `typing` costs milliseconds too, of every `runq stats` start, which is most of what
# an index-only view costs.
class Column(namedtuple("Column", ["key", "title", "kind"], defaults=("text",))):
    """One column of a view: its row key, its heading, and how to show it (text, int, seconds,
    ratio, time)."""

    __slots__ = ()


class StatsTable(namedtuple("StatsTable", ["name", "title", "columns", "rows", "total"], defaults=(None,))):
    """A view's result: rows as dicts by column key; total counts the matching rows before
    --limit, for views that list runs."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"title": self.title, "rows": self.rows}
        if self.total is not None:
            data["total"] = self.total
        return data


class View(namedtuple("View", ["name", "title", "columns", "statements", "shape"], defaults=(_first_result,))):
    """A view: its columns, the statements it runs for (filters, limit), and how their results
    become rows (and a total)."""

    __slots__ = ()

    def run(self, db: sqlite3.Connection, filters: Filters, limit: int) -> StatsTable:
        results = [db.execute(sql, params).fetchall() for sql, params in self.statements(filters, limit)]
        rows, total = self.shape(results)
        keys = [column.key for column in self.columns]
        return StatsTable(self.name, self.title, self.columns, [dict(zip(keys, row)) for row in rows], total)


def group_key(filters: Filters, column: str) -> str:
    """The column to group or order by: bare when unfiltered, so SQLite walks the covering index in
    order; `+column` when filtered, which keeps SQLite from walking that index and looking up every
    row for the filter (seconds on a million rows) instead of using the filter's own index and sorting."""
    return f"+{column}" if filters.active() else column


def _labels(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where(f"{group_key(filters, 'run_time')} IS NOT NULL")
    key = group_key(filters, "label_prefix")
    # Counts per prefix first (g), then one ranked pass (r) keeping only the two rows at the
    # percentile ranks: the join and the final GROUP BY see a handful of rows, not a million.
    return [(f"""
        WITH g AS (SELECT label_prefix AS prefix, count(*) AS n, avg(run_time) AS mean, max(run_time) AS top
                   FROM attempts{where} GROUP BY {key}),
             r AS (SELECT label_prefix AS prefix, run_time,
                          row_number() OVER (PARTITION BY {key} ORDER BY run_time) AS rank
                   FROM attempts{where})
        SELECT g.prefix, n, mean,
               max(CASE WHEN rank = (n * 50 + 99) / 100 THEN run_time END),
               max(CASE WHEN rank = (n * 95 + 99) / 100 THEN run_time END),
               top
        FROM r CROSS JOIN g ON r.prefix IS g.prefix AND (rank = (n * 50 + 99) / 100 OR rank = (n * 95 + 99) / 100)
        GROUP BY g.prefix ORDER BY n DESC, g.prefix""", params + params)]


def _failed(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where("result != 'Success'")
    # Unfiltered, the partial index holds exactly the failures; SQLite without statistics would
    # rather count them by scanning the larger index on every result.
    source = "attempts" if filters.active() else "attempts INDEXED BY attempts_failed"
    return [
        (f"""SELECT task_id, attempt, ended_at, result, exit_code, signal, label, command
             FROM {source}{where} ORDER BY {group_key(filters, "ended_at")} DESC, id DESC LIMIT ?""",
         [*params, limit]),
        (f"SELECT count(*) FROM {source}{where}", params),
    ]


def _results(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where()
    return [(f"""SELECT result, count(*), count(*) * 1.0 / sum(count(*)) OVER ()
                 FROM attempts{where} GROUP BY {group_key(filters, "result")}
                 ORDER BY count(*) DESC, result""", params)]


def _slowest(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where(f"{group_key(filters, 'run_time')} IS NOT NULL")
    return [(f"""SELECT task_id, attempt, run_time, ended_at, result, label, command
                 FROM attempts{where} ORDER BY {group_key(filters, "run_time")} DESC, id DESC LIMIT ?""", [*params, limit])]


def _signatures(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where()
    return [(f"""SELECT signature, count(*), sum(result != 'Success'), avg(result != 'Success'),
                        total(run_time), avg(run_time), max(run_time)
                 FROM attempts{where} GROUP BY {group_key(filters, "signature")}
                 ORDER BY total(run_time) DESC, signature LIMIT ?""", [*params, limit])]


def _wait(filters: Filters, limit: int) -> list[Statement]:
    # run_time is set exactly when the attempt started; it is in the covering index, started_at is not
    where, params = filters.where(f"{group_key(filters, 'run_time')} IS NOT NULL")
    return [(f"""SELECT group_name, count(*), avg(queue_wait), max(queue_wait), total(queue_wait),
                        avg(run_time), max(run_time), total(run_time),
                        total(queue_wait) / nullif(total(queue_wait) + total(run_time), 0)
                 FROM attempts{where} GROUP BY {group_key(filters, "group_name")}
                 ORDER BY total(queue_wait) DESC, group_name""", params)]


def _sessions(filters: Filters, limit: int) -> list[Statement]:
    where, params = filters.where(f"{group_key(filters, 'session_id')} IS NOT NULL")
    return [(f"""SELECT session_id, count(*), sum(result != 'Success'), total(run_time), total(queue_wait),
                        min(coalesce(started_at, ended_at)), max(ended_at)
                 FROM attempts{where} GROUP BY {group_key(filters, "session_id")}
                 ORDER BY max(ended_at) DESC, session_id LIMIT ?""", [*params, limit])]


def _rows_and_count(results: list[list[tuple[Any, ...]]]) -> tuple[list[tuple[Any, ...]], int | None]:
    return results[0], int(results[1][0][0])


VIEWS: dict[str, View] = {view.name: view for view in (
    View("labels", "Run time by label prefix", (
        Column("prefix", "label prefix"), Column("runs", "runs", "int"), Column("avg_s", "avg", "seconds"),
        Column("p50_s", "p50", "seconds"), Column("p95_s", "p95", "seconds"), Column("max_s", "max", "seconds"),
    ), _labels),
    View("failed", "Failed runs, newest first", (
        Column("id", "id", "int"), Column("attempt", "try", "int"), Column("ended_at", "ended", "time"),
        Column("result", "result"), Column("exit_code", "exit", "int"), Column("signal", "signal", "int"),
        Column("label", "label"), Column("command", "command"),
    ), _failed, shape=_rows_and_count),
    View("results", "Runs by result", (
        Column("result", "result"), Column("runs", "runs", "int"), Column("share", "share", "ratio"),
    ), _results),
    View("slowest", "Slowest runs", (
        Column("id", "id", "int"), Column("attempt", "try", "int"), Column("run_s", "run time", "seconds"),
        Column("ended_at", "ended", "time"), Column("result", "result"), Column("label", "label"),
        Column("command", "command"),
    ), _slowest),
    View("signatures", "Failure rate and time per command signature", (
        Column("signature", "signature"), Column("runs", "runs", "int"), Column("failed", "failed", "int"),
        Column("failure_rate", "fail rate", "ratio"), Column("total_s", "total", "seconds"),
        Column("avg_s", "avg", "seconds"), Column("max_s", "max", "seconds"),
    ), _signatures),
    View("wait", "Queue wait against run time, by group", (
        Column("group", "group"), Column("runs", "runs", "int"), Column("avg_wait_s", "avg wait", "seconds"),
        Column("max_wait_s", "max wait", "seconds"), Column("total_wait_s", "total wait", "seconds"),
        Column("avg_run_s", "avg run", "seconds"), Column("max_run_s", "max run", "seconds"),
        Column("total_run_s", "total run", "seconds"), Column("wait_share", "wait share", "ratio"),
    ), _wait),
    View("sessions", "Agent sessions, most recent first", (
        Column("session_id", "session"), Column("runs", "runs", "int"), Column("failed", "failed", "int"),
        Column("total_run_s", "run time", "seconds"), Column("total_wait_s", "wait", "seconds"),
        Column("first_at", "first", "time"), Column("last_at", "last", "time"),
    ), _sessions),
)}
