"""Remove finished tasks and their logs (their history stays)."""
from __future__ import annotations

import argparse

from runq.client.common import simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--successful-only", action="store_true", help="only tasks that succeeded")
    parser.add_argument("-g", "--group", help="only this group")


def run(args: argparse.Namespace) -> int:
    return simple("clean", group=args.group, successful_only=args.successful_only)
