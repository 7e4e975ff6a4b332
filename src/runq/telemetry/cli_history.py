"""Past tasks, kept across clean and reset: list, show one, prune, export."""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from runq import paths
from runq.errors import RunqError, UsageError
from runq.telemetry import export
from runq.telemetry.filters import (
    add_filter_arguments,
    filters_from_args,
    parse_limit,
    parse_when,
)
from runq.telemetry.reader import history_errors, open_for_reading, open_for_writing
from runq.telemetry.records import HistoryRecord, list_records, task_records
from runq.telemetry.render import format_duration, format_time, render_grid
from runq.telemetry.retention import prune_ended_before
from runq.telemetry.views import Column

DEFAULT_LIMIT = 50
LIST_COLUMNS = (
    Column("id", "id", "int"), Column("attempt", "try", "int"), Column("ended_at", "ended", "time"),
    Column("result", "result"), Column("exit_code", "exit", "int"), Column("run_time", "run", "seconds"),
    Column("queue_wait", "wait", "seconds"), Column("group", "group"), Column("label", "label"),
    Column("command", "command"),
)


def configure(parser: argparse.ArgumentParser) -> None:
    add_filter_arguments(parser)
    parser.add_argument("--limit", "-n", metavar="N", help=f"at most N attempts (default {DEFAULT_LIMIT})")
    parser.add_argument("--json", "-j", action="store_true", help="print JSON records (without env; see show)")
    actions = parser.add_subparsers(dest="history_action", metavar="[show | prune | export]")
    show = actions.add_parser("show", help="every attempt of one task, in full")
    show.add_argument("task_id", metavar="ID", help="task id")
    show.add_argument("--json", "-j", action="store_true", default=argparse.SUPPRESS)
    show.add_argument("--raw", action="store_true",
                      help="accepted for symmetry with status; history only ever stores redacted environments")
    prune = actions.add_parser("prune", help="delete records that ended before a cutoff")
    prune.add_argument("--older-than", metavar="AGE", required=True,
                       help="a duration (30d, 12h) or a date (2024-05-01): records that ended before it go")
    exporter = actions.add_parser("export", help="write records (oldest first, env included) as JSON lines or CSV")
    exporter.add_argument("--format", "-f", default="jsonl", metavar="FORMAT", help="jsonl (default) or csv")
    exporter.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    # SUPPRESS: filters given before `export` must survive the subparser's own defaults
    add_filter_arguments(exporter, default=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "history_action", None)
    path = paths.history_db(paths.home())
    with history_errors(path):
        if action == "show":
            return _show(path, args)
        if action == "prune":
            return _prune(path, args)
        if action == "export":
            return _export(path, args)
        return _list(path, args)


def _list(path: str, args: argparse.Namespace) -> int:
    filters = filters_from_args(args, time.time())
    limit = parse_limit(args.limit, DEFAULT_LIMIT)
    db = open_for_reading(path)
    try:
        records = list(list_records(db, filters, limit, newest_first=True))
    finally:
        db.close()
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict(with_env=False) for r in records], indent=2) + "\n")
    elif records:
        sys.stdout.write(render_grid(LIST_COLUMNS, [r.to_dict(with_env=False) for r in records]))
    else:
        sys.stdout.write("no matching history\n")
    return 0


def _show(path: str, args: argparse.Namespace) -> int:
    if not args.task_id.isdigit():
        raise UsageError(f"runq: history show: task id must be a whole number, not {args.task_id!r}")
    if args.raw:
        sys.stderr.write("runq: history stores environments redacted; raw values were never written, "
                         "so this shows the redacted copy\n")
    db = open_for_reading(path)
    try:
        records = task_records(db, int(args.task_id))
    finally:
        db.close()
    if not records:
        raise RunqError(f"runq: no history for task {args.task_id} (see `runq history` for recorded ids)")
    if args.json:
        sys.stdout.write(json.dumps({"id": int(args.task_id), "attempts": [r.to_dict() for r in records]},
                                    indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render_record(r) for r in records))
    return 0


def _prune(path: str, args: argparse.Namespace) -> int:
    cutoff = parse_when(args.older_than, time.time(), "--older-than")
    db = open_for_writing(path)
    if db is None:
        sys.stdout.write("no history yet\n")
        return 0
    try:
        deleted = prune_ended_before(db, cutoff)
    finally:
        db.close()
    sys.stdout.write(f"pruned {deleted} record{'s' if deleted != 1 else ''} that ended before {format_time(cutoff)}\n")
    return 0


def _export(path: str, args: argparse.Namespace) -> int:
    if args.format not in export.FORMATS:
        raise UsageError(f"runq: history export: --format must be one of {', '.join(export.FORMATS)}, "
                         f"not {args.format!r}")
    filters = filters_from_args(args, time.time())
    db = open_for_reading(path)
    try:
        records = list_records(db, filters, None, newest_first=False, with_env=True)
        count = export.write_records(records, args.format, args.output)
    finally:
        db.close()
    if args.output:
        sys.stderr.write(f"exported {count} record{'s' if count != 1 else ''} to {args.output}\n")
    return 0


def render_record(record: HistoryRecord) -> str:
    data = record.to_dict()
    lines = [f"task {record.id}, attempt {record.attempt}{'' if record.final else ' (retried)'}"]
    for key in ("command", "signature", "cwd", "group", "label", "origin", "session_id", "tool_use_id",
                "prompt_id", "agent_id", "dag_run", "dag_task", "priority", "dependencies", "result",
                "exit_code", "signal"):
        value = data[key]
        if value is not None and value != []:
            lines.append(f"  {key:<13}{value}")
    for key in ("enqueued_at", "started_at", "ended_at"):
        if data[key] is not None:
            moment = datetime.fromtimestamp(data[key]).isoformat(sep=" ", timespec="microseconds")
            lines.append(f"  {key:<13}{moment}")
    for key in ("queue_wait", "run_time", "user_cpu", "sys_cpu"):
        if data[key] is not None:
            lines.append(f"  {key:<13}{format_duration(data[key])} ({data[key]:.6f} s)")
    for key in ("max_rss_kb", "stdout_bytes", "stderr_bytes"):
        if data[key] is not None:
            lines.append(f"  {key:<13}{data[key]}")
    if record.log_path is not None:
        lines.append(f"  {'log_path':<13}{record.log_path}{'' if record.log_exists else ' (removed)'}")
    if record.env is not None:
        lines.append("  env (secrets redacted):")
        lines += [f"    {name}={value}" for name, value in sorted(record.env.items())]
    return "\n".join(lines) + "\n"
