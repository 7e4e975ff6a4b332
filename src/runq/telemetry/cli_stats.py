"""Telemetry over the task history: run times, failures, signatures, queue wait, sessions."""
from __future__ import annotations

import sys
import time

from runq import paths
from runq.errors import UsageError
from runq.telemetry.filters import Filters, add_filter_arguments, filters_from_args, parse_limit
from runq.telemetry.reader import history_errors, open_for_reading
from runq.telemetry.views import VIEWS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

DEFAULT_LIMIT = 10


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("view", nargs="?", metavar="VIEW",
                        help=f"one view: {', '.join(VIEWS)} (default: all of them)")
    add_filter_arguments(parser)
    parser.add_argument("--limit", "-n", metavar="N",
                        help=f"rows for views that list runs, signatures or sessions (default {DEFAULT_LIMIT})")
    parser.add_argument("--json", "-j", action="store_true", help="print JSON (seconds and epoch times)")


def run(args: argparse.Namespace) -> int:
    return show(args.view, filters_from_args(args, time.time()), args.limit, args.json)


def plain(argv: list[str]) -> int | None:
    """`stats [VIEW] [--json] [--limit N]`, no filters: answered without argparse (its import and
    parser cost as much as an index-only view). None: anything else, for the full parser."""
    view = limit = None
    as_json = False
    rest = iter(argv)
    for arg in rest:
        if arg in ("--json", "-j"):
            as_json = True
        elif arg in ("--limit", "-n"):
            limit = next(rest, None)
            if limit is None or limit.startswith("-"):
                return None
        elif not arg.startswith("-") and view is None:
            view = arg
        else:
            return None
    return show(view, Filters(), limit, as_json)


def show(view: str | None, filters: Filters, limit_text: str | None, as_json: bool) -> int:
    names = _chosen_views(view)
    limit = parse_limit(limit_text, DEFAULT_LIMIT)
    path = paths.history_db(paths.home())
    with history_errors(path):
        db = open_for_reading(path)
        try:
            tables = [VIEWS[name].run(db, filters, limit) for name in names]
        finally:
            db.close()
    if as_json:
        from runq.protocol import fastjson  # `json` itself pulls in `re` and `enum`: ~7 ms

        output = {"filters": filters.to_dict(), **{table.name: table.to_dict() for table in tables}}
        sys.stdout.write(fastjson.dumps(output) + "\n")
    else:
        from runq.telemetry.render import render_stats_table

        sys.stdout.write("\n".join(render_stats_table(table) for table in tables))
    return 0


def _chosen_views(view: str | None) -> list[str]:
    if view is None:
        return list(VIEWS)
    if view not in VIEWS:
        raise UsageError(f"runq: stats: unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return [view]
