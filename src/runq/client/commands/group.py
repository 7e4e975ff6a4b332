"""List groups, add one (with a parallel limit) or remove one."""
from __future__ import annotations

import argparse
import json
import sys

from runq.client.common import open_connection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--json", action="store_true", help="print pueue 4's group JSON")
    sub = parser.add_subparsers(dest="action")
    add = sub.add_parser("add", help="add a group")
    add.add_argument("name")
    add.add_argument("-p", "--parallel", type=int, default=1, help="tasks at once (0 = unlimited; default 1)")
    remove = sub.add_parser("remove", help="remove an empty group")
    remove.add_argument("name")


def run(args: argparse.Namespace) -> int:
    if args.action == "add":
        return simple("group_add", name=args.name, parallel=args.parallel)
    if args.action == "remove":
        return simple("group_remove", name=args.name)
    with open_connection() as conn:
        groups = conn.call("groups")["groups"]
    if args.json:
        sys.stdout.write(json.dumps(groups, ensure_ascii=False, separators=(",", ":")) + "\n")
        return 0
    for name in sorted(groups, key=lambda n: (n != "default", n)):
        group = groups[name]
        sys.stdout.write(f"Group \"{name}\" ({group['parallel_tasks']} parallel): {group['status'].lower()}\n")
    return 0
