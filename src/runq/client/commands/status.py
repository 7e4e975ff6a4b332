"""Show the queue: a table per group, or pueue 4's JSON with --json."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # argparse costs ~7 ms; `status --json` skips it entirely
    import argparse

from runq.client.common import open_connection


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--json", action="store_true", help="print pueue 4's status JSON")
    parser.add_argument("-g", "--group", help="only this group's tasks")
    parser.add_argument("--raw-env", action="store_true", help="with --json: show captured environments unredacted")


def print_json(group: str | None, raw_env: bool = False) -> int:
    """`status --json`: the daemon's bytes straight to stdout (also reached without argparse)."""
    with open_connection() as conn:
        conn.call("status_pueue", group=group, raw_env=raw_env)
        out = sys.stdout.buffer
        for chunk in conn.read_raw():
            out.write(chunk)
        out.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.json:
        return print_json(args.group, args.raw_env)
    with open_connection() as conn:
        reply = conn.call("status", group=args.group)
    from runq.client.render import status_tables

    groups = reply["groups"]
    if args.group:
        if args.group not in groups:
            sys.stderr.write(f"runq: group {args.group!r} does not exist\n")
            return 1
        groups = {args.group: groups[args.group]}
    sys.stdout.write(status_tables(reply["tasks"], groups) + "\n")
    return 0
