"""Set how many tasks of a group run at once (0 = unlimited)."""
from __future__ import annotations

import argparse

from runq.client.common import simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("parallel_tasks", type=int, metavar="N")
    parser.add_argument("-g", "--group", default="default")


def run(args: argparse.Namespace) -> int:
    return simple("parallel", group=args.group, parallel=args.parallel_tasks)
