"""Pause tasks or groups (SIGSTOP to running tasks unless --wait)."""
from __future__ import annotations

import argparse

from runq.client.common import add_selection, selection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="pause")
    parser.add_argument("-w", "--wait", action="store_true", help="let running tasks finish; start nothing new")


def run(args: argparse.Namespace) -> int:
    return simple("pause", wait=args.wait, **selection(args))
