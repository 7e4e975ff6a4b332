"""Stash queued tasks so they do not start (optionally until a delay)."""
from __future__ import annotations

import argparse

from runq.client.common import add_selection, parse_delay, selection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="stash")
    parser.add_argument("-d", "--delay", help="enqueue them again then")


def run(args: argparse.Namespace) -> int:
    return simple("stash", delay_until=parse_delay(args.delay) if args.delay else None, **selection(args))
