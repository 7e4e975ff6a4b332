"""Show task output: the last 15 lines by default, --full, or pueue 4's JSON with --json."""
from __future__ import annotations

import argparse
import json
import os
import sys

from runq.client.common import add_selection, open_connection, selection
from runq.client.render import clock, safe_text

DEFAULT_LINES = 15


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="show")
    parser.add_argument("-j", "--json", action="store_true", help="print pueue 4's log JSON")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("-l", "--lines", type=int, help="show the last N lines")
    amount.add_argument("-f", "--full", action="store_true", help="show the whole log")


def read_log(path: str, lines: int | None) -> bytes:
    """The whole log (lines None) or its last `lines` lines, read from the end."""
    try:
        with open(path, "rb") as handle:
            if lines is None:
                return handle.read()
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            block = 64 * 1024
            data = b""
            position = size
            while position > 0 and data.count(b"\n") <= lines:
                step = min(block, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError:
        return b""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return b"\n".join(parts[-lines:]) if lines > 0 else b""


def run(args: argparse.Namespace) -> int:
    lines = None if args.full else (args.lines if args.lines is not None else DEFAULT_LINES)
    with open_connection() as conn:
        reply = conn.call("log_pueue", **selection(args))
    if reply["missing"] and not reply["tasks"]:
        sys.stderr.write(f"runq: task(s) not found: {', '.join(map(str, reply['missing']))}\n")
        return 1
    if args.json:
        out = {}
        for task_id, task, _ in reply["tasks"]:
            path = task["runq"]["log_path"]
            if os.path.exists(path):
                output = read_log(path, lines).decode("utf-8", "replace")
            else:
                output = f"(runq error) no log file for task {task_id}: it has not started"
            out[str(task_id)] = {"task": task, "output": output}
        sys.stdout.write(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
        return 0
    for _, task, state in reply["tasks"]:
        if state in ("Queued", "Stashed", "Locked"):
            continue
        _print_header(task)
        data = read_log(task["runq"]["log_path"], lines)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        if data and not data.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.buffer.flush()
    return 0


def _print_header(task: dict) -> None:
    status = task["status"]
    state = next(iter(status))
    detail = status[state]
    result = detail.get("result") if isinstance(detail, dict) else None
    if isinstance(result, dict):
        result = " ".join(f"{k} ({v})" for k, v in result.items())
    title = safe_text(f"Task {task['id']}: {result or state}", 300)  # a spawn error quotes the task's path
    err = sys.stderr
    err.write(f"─── {title} ───\n")
    err.write(f"Command: {safe_text(task['command'], 200)}\n")
    err.write(f"Path: {safe_text(task['path'], 200)}\n")
    if task["label"]:
        err.write(f"Label: {safe_text(task['label'], 200)}\n")
    extra = task["runq"]
    if extra["start"]:
        err.write(f"Start: {clock(extra['start'])}\n")
    if extra["end"]:
        err.write(f"End: {clock(extra['end'])}\n")
    err.write("output:\n")
    err.flush()
