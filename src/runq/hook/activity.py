"""The hook's own append-only activity log, `$RUNQ_HOME/hook.jsonl`, for `runq hook status`.

One JSON object per line:
- `{"event": "pre", "t", "tool_use_id", "session_id", "cwd", "command", "action", "reason",
   "rewritten", "decision"}` for every PreToolUse call;
- `{"event": "post", "t", "tool_use_id", "ran", "matched"}` when a PostToolUse call arrives for a
  command the hook rewrote: `matched` is false when what ran is not our rewrite, i.e. another
  hook's answer replaced ours (anthropics/claude-code#15897), a "drop".

Bounded: past MAX_BYTES the file moves to `hook.jsonl.1` (replacing the older one) and a new
one starts, so at most twice MAX_BYTES are ever kept. Writes are single `write` calls on an
O_APPEND descriptor, so concurrent hooks (Claude Code runs hooks in parallel) never interleave
within a line.
"""
from __future__ import annotations

import os
import time

from runq.protocol import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 1024 * 1024
TAIL_BYTES = 256 * 1024


def log_path(root: str) -> str:
    return os.path.join(root, "hook.jsonl")


def append(root: str, record: dict[str, Any]) -> None:
    record["t"] = round(time.time(), 3)
    line = (fastjson.dumps(record) + "\n").encode("utf-8", "surrogatepass")
    path = log_path(root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except FileNotFoundError:
        os.makedirs(root, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        _rotate(path)


def _rotate(path: str) -> None:
    try:
        os.replace(path, path + ".1")
    except OSError:
        pass  # a concurrent hook rotated it first


def find_pre(root: str, tool_use_id: str) -> dict[str, Any] | None:
    """The latest PreToolUse record for this tool call, searched from the end of the log."""
    needle = fastjson.dumps(tool_use_id).encode("utf-8")
    for path in (log_path(root), log_path(root) + ".1"):
        for line in reversed(_tail_lines(path, TAIL_BYTES)):
            if needle in line and b'"event":"pre"' in line:
                try:
                    record = fastjson.loads(line.decode("utf-8", "surrogatepass"))
                except ValueError:
                    continue
                if record.get("tool_use_id") == tool_use_id:
                    return record
    return None


def read_recent(root: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` records, oldest first."""
    records: list[dict[str, Any]] = []
    for path in (log_path(root), log_path(root) + ".1"):
        for line in reversed(_tail_lines(path, MAX_BYTES * 2)):
            try:
                records.append(fastjson.loads(line.decode("utf-8", "surrogatepass")))
            except ValueError:
                continue
            if len(records) >= limit:
                return records[::-1]
    return records[::-1]


def _tail_lines(path: str, size: int) -> list[bytes]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            start = max(0, end - size)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line is cut
    return [line for line in lines if line.strip()]
