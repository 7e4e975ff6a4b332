"""Kill and remove every task of the given groups (all groups by default). Ids are never reused."""
from __future__ import annotations

import argparse

from runq.client.common import simple


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-g", "--groups", nargs="+", default=[], metavar="GROUP")
    parser.add_argument("-f", "--force", action="store_true", help="accepted for pueue compatibility (runq never asks)")


def run(args: argparse.Namespace) -> int:
    return simple("reset", groups=args.groups)
