"""Kill running tasks (SIGKILL to each task's process group unless -s says otherwise)."""
from __future__ import annotations

import argparse

from runq.client.common import add_selection, selection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="kill")
    parser.add_argument("-s", "--signal", help="send this signal instead (sigint, int, 2, term, ...)")


def run(args: argparse.Namespace) -> int:
    return simple("kill", signal=args.signal, **selection(args))
