"""Run finished tasks again: as new tasks (default) or in place."""
from __future__ import annotations

import argparse

from runq.client.common import simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task_ids", nargs="*", type=int, metavar="ID")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("-a", "--all-failed", action="store_true", help="every failed task")
    which.add_argument("-g", "--failed-in-group", help="every failed task of this group")
    parser.add_argument("-k", "--immediate", action="store_true", help="start the new tasks now")
    parser.add_argument("-s", "--stashed", action="store_true", help="create them stashed")
    place = parser.add_mutually_exclusive_group()
    place.add_argument("-i", "--in-place", action="store_true", help="reuse the same task (and id)")
    place.add_argument("--not-in-place", action="store_true", help="create new tasks (the default)")


def run(args: argparse.Namespace) -> int:
    return simple("restart", ids=args.task_ids, all_failed=args.all_failed, failed_in_group=args.failed_in_group,
                  immediate=args.immediate, stashed=args.stashed, in_place=args.in_place)
