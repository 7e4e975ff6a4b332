"""Show the queue: a table per group, or pueue 4's JSON with --json."""
from __future__ import annotations

import argparse
import sys

from runq.client.common import open_connection
from runq.client.render import status_tables


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--json", action="store_true", help="print pueue 4's status JSON")
    parser.add_argument("-g", "--group", help="only this group's tasks")
    parser.add_argument("--raw-env", action="store_true", help="with --json: show captured environments unredacted")


def run(args: argparse.Namespace) -> int:
    with open_connection() as conn:
        if args.json:
            conn.call("status_pueue", group=args.group, raw_env=args.raw_env)
            out = sys.stdout.buffer
            for chunk in conn.read_raw():
                out.write(chunk)
            out.flush()
            return 0
        reply = conn.call("status", group=args.group)
    groups = reply["groups"]
    if args.group:
        if args.group not in groups:
            sys.stderr.write(f"runq: group {args.group!r} does not exist\n")
            return 1
        groups = {args.group: groups[args.group]}
    sys.stdout.write(status_tables(reply["tasks"], groups) + "\n")
    return 0
