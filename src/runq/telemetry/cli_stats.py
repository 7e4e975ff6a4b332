"""Telemetry over the task history: run times, failures, signatures, queue wait, sessions."""
from __future__ import annotations

import argparse
import json
import sys
import time

from runq import paths
from runq.errors import UsageError
from runq.telemetry.filters import add_filter_arguments, filters_from_args, parse_limit
from runq.telemetry.reader import history_errors, open_for_reading
from runq.telemetry.render import render_stats_table
from runq.telemetry.views import VIEWS

DEFAULT_LIMIT = 10


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("view", nargs="?", metavar="VIEW",
                        help=f"one view: {', '.join(VIEWS)} (default: all of them)")
    add_filter_arguments(parser)
    parser.add_argument("--limit", "-n", metavar="N",
                        help=f"rows for views that list runs, signatures or sessions (default {DEFAULT_LIMIT})")
    parser.add_argument("--json", "-j", action="store_true", help="print JSON (seconds and epoch times)")


def run(args: argparse.Namespace) -> int:
    names = _chosen_views(args.view)
    filters = filters_from_args(args, time.time())
    limit = parse_limit(args.limit, DEFAULT_LIMIT)
    path = paths.history_db(paths.home())
    with history_errors(path):
        db = open_for_reading(path)
        try:
            tables = [VIEWS[name].run(db, filters, limit) for name in names]
        finally:
            db.close()
    if args.json:
        output = {"filters": filters.to_dict(), **{table.name: table.to_dict() for table in tables}}
        sys.stdout.write(json.dumps(output, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render_stats_table(table) for table in tables))
    return 0


def _chosen_views(view: str | None) -> list[str]:
    if view is None:
        return list(VIEWS)
    if view not in VIEWS:
        raise UsageError(f"runq: stats: unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return [view]
