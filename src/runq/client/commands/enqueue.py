"""Enqueue stashed tasks (now, or after a delay)."""
from __future__ import annotations

import argparse

from runq.client.common import add_selection, parse_delay, selection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="enqueue")
    parser.add_argument("-d", "--delay", help="enqueue them then instead of now")


def run(args: argparse.Namespace) -> int:
    return simple("enqueue", delay_until=parse_delay(args.delay) if args.delay else None, **selection(args))
