"""Stream a running task's output until it ends."""
from __future__ import annotations

import argparse
import os
import select
import sys

from runq.client.common import open_connection
from runq.client.commands.log import read_log
from runq.errors import RunqError

POLL = 0.05  # how often new log bytes are picked up; the task's end arrives as an event at once


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task_id", nargs="?", type=int, metavar="ID", help="the task (default: the only running one)")
    parser.add_argument("-l", "--lines", type=int, help="start with only the last N lines")


def run(args: argparse.Namespace) -> int:
    task_id = args.task_id
    if task_id is None:
        with open_connection() as conn:
            running = [t["id"] for t in conn.call("status")["tasks"] if t["status"] in ("Running", "Paused")]
        if not running:
            raise RunqError("runq: there are no running tasks")
        if len(running) > 1:
            raise RunqError(f"runq: several tasks are running ({', '.join(map(str, running))}); name one")
        task_id = running[0]
    return follow_task(task_id, args.lines)


def follow_task(task_id: int, lines: int | None) -> int:
    conn = open_connection()
    try:
        conn.send({"cmd": "wait", "ids": [task_id], "target": "running"})
        reply = conn.receive()
        while not reply.get("done"):
            reply = conn.receive()
        task = reply["tasks"][0] if reply.get("tasks") else None
        if task is None:
            raise RunqError(f"runq: task {task_id} does not exist")
        path = os.path.join(conn.root, "task_logs", f"{task_id}.log")
        out = sys.stdout.buffer
        offset = 0
        if lines is not None:
            head = read_log(path, lines)
            out.write(head + (b"\n" if head else b""))
            offset = os.path.getsize(path) if os.path.exists(path) else 0
        conn.send({"cmd": "wait", "ids": [task_id], "target": "done"})
        ended = False
        while True:
            offset = _copy_new(path, offset, out)
            if ended:
                return 0
            ready, _, _ = select.select([conn.sock], [], [], POLL)
            if not ready:
                continue
            ended = bool(conn.receive().get("done"))
    finally:
        conn.close()


def _copy_new(path: str, offset: int, out) -> int:  # type: ignore[no-untyped-def]
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    if data:
        out.write(data)
        out.flush()
    return offset + len(data)
