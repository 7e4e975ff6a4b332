"""Pieces several subcommands share: selection flags, the connection, printing daemon messages."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # argparse costs ~7 ms; `status --json` skips it entirely
    import argparse

from runq.client.connection import Connection, connect


def add_selection(parser: argparse.ArgumentParser, ids: bool = True, verb: str = "act on") -> None:
    if ids:
        parser.add_argument("task_ids", nargs="*", type=int, metavar="ID", help=f"tasks to {verb}")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("-g", "--group", help=f"{verb} every task of this group")
    target.add_argument("-a", "--all", action="store_true", help=f"{verb} every task of every group")


def selection(args: argparse.Namespace) -> dict:
    return {"ids": list(getattr(args, "task_ids", None) or []), "group": args.group, "all": bool(args.all)}


def open_connection() -> Connection:
    return connect()


def print_message(reply: dict) -> int:
    message = reply.get("message")
    if message:
        sys.stdout.write(f"{message}\n")
    return 0


def simple(cmd: str, **args: object) -> int:
    with open_connection() as conn:
        return print_message(conn.call(cmd, **args))


def parse_delay(text: str) -> float:
    """Seconds from now ("90", "30s", "5m", "2h", "1d") or an ISO date-time, as epoch seconds."""
    import time
    from datetime import datetime

    from runq.errors import UsageError

    value = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        if value[-1:].isdigit():
            return time.time() + float(value)
        if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
            return time.time() + float(value[:-1]) * units[value[-1]]
        moment = datetime.fromisoformat(value)
        return moment.timestamp()
    except (ValueError, IndexError):
        raise UsageError(f"runq: cannot read delay {text!r} (use seconds, 30s, 5m, 2h, 1d or an ISO date-time)") from None
