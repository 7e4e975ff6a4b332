"""Remove queued, stashed or finished tasks (running ones must be killed first)."""
from __future__ import annotations

import argparse

from runq.client.common import simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task_ids", nargs="+", type=int, metavar="ID")


def run(args: argparse.Namespace) -> int:
    return simple("remove", ids=args.task_ids)
