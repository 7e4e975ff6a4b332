"""Resume paused groups or tasks; force-start queued or stashed tasks by id."""
from __future__ import annotations

import argparse

from runq.client.common import add_selection, selection, simple


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="start")


def run(args: argparse.Namespace) -> int:
    return simple("start", **selection(args))
