"""The filters `runq stats` and `runq history` share: their options, their checks and their SQL.

Values are read as plain strings by argparse and checked here, so a bad value is one line
(`runq: --since: ...`) rather than argparse's usage dump.
"""
from __future__ import annotations

from collections import namedtuple

from runq.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import re
    from typing import Any

DURATION = r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|wks|weeks?)\s*$"
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
RESULTS = ("Success", "Failed", "FailedToSpawn", "Killed", "Errored", "DependencyFailed", "TimedOut")
WHEN_HELP = "a duration back from now (30s, 15m, 2h, 7d, 2w) or a date/time (2024-05-01, 2024-05-01T14:30)"


# collections.namedtuple, not typing.NamedTuple: `typing` is a few milliseconds of every
# `runq stats` start, and an index-only view costs little more than its start.
class Filters(namedtuple("Filters", ["group", "label", "since", "until", "session", "origin", "command", "result"],
                         defaults=(None, None, None, None, None, None, None, None))):
    """The filters of one query: strings, and since/until as epoch seconds; None is "any"."""

    __slots__ = ()

    def where(self, *extra: str) -> tuple[str, list[Any]]:
        """A WHERE clause (or "") over the attempts table, with its parameters."""
        terms = list(extra)
        params: list[Any] = []
        for column, value in (("group_name", self.group), ("session_id", self.session),
                              ("origin", self.origin), ("result", self.result)):
            if value is not None:
                terms.append(f"{column} = ?")
                params.append(value)
        if self.label is not None:
            terms.append("substr(label, 1, ?) = ?")
            params += [len(self.label), self.label]
        if self.since is not None:
            terms.append("ended_at >= ?")
            params.append(self.since)
        if self.until is not None:
            terms.append("ended_at < ?")
            params.append(self.until)
        if self.command is not None:
            terms.append("command GLOB ?")
            params.append(self.command)
        return (" WHERE " + " AND ".join(terms) if terms else ""), params

    def active(self) -> bool:
        return any(value is not None for value in self._asdict().values())

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self._asdict().items() if value is not None}


def add_filter_arguments(parser: argparse.ArgumentParser, default: Any = None) -> None:
    def option(*names: str, **kwargs: Any) -> None:
        parser.add_argument(*names, default=default, **kwargs)

    option("--group", "-g", help="only tasks of this group")
    option("--label", "-l", metavar="PREFIX", help="only tasks whose label starts with PREFIX")
    option("--since", metavar="WHEN", help=f"only tasks that ended at or after WHEN: {WHEN_HELP}")
    option("--until", metavar="WHEN", help="only tasks that ended before WHEN (same forms as --since)")
    option("--session", metavar="ID", help="only tasks of this agent session id")
    option("--origin", help="only tasks from this origin (cli, run, claude-hook, dag, ...)")
    # dest: the top-level parser keeps the subcommand's name in args.command
    option("--command", metavar="GLOB", dest="command_glob",
           help="only tasks whose whole command matches GLOB (case-sensitive; e.g. '*pytest*')")
    option("--result", help=f"only attempts with this result ({', '.join(RESULTS)})")


def filters_from_args(args: argparse.Namespace, now: float) -> Filters:
    for option, dest in (("group", "group"), ("label", "label"), ("session", "session"), ("origin", "origin"),
                         ("command", "command_glob")):
        value = getattr(args, dest)
        if value is not None and not value.strip():
            raise UsageError(f"runq: --{option} must not be empty")
    result = args.result
    if result is not None:
        result = _known_result(result)
    since = parse_when(args.since, now, "--since") if args.since is not None else None
    until = parse_when(args.until, now, "--until") if args.until is not None else None
    if since is not None and until is not None and since >= until:
        raise UsageError(f"runq: --since ({args.since}) must be earlier than --until ({args.until})")
    return Filters(group=args.group, label=args.label, since=since, until=until, session=args.session,
                   origin=args.origin, command=args.command_glob, result=result)


def parse_when(text: str, now: float, option: str) -> float:
    """`2h` -> now - 7200; `2024-05-01` -> that local midnight; ISO datetimes with or without zone."""
    return now - parse_duration(text, option) if _duration().match(text) else _parse_datetime(text, option)


def parse_duration(text: str, option: str) -> float:
    match = _duration().match(text)
    if match is None:
        raise UsageError(f"runq: {option}: cannot read {text!r} as a duration; use e.g. 30s, 15m, 2h, 7d, 2w")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)[0].lower()]


_compiled: list[re.Pattern[str]] = []


def _duration() -> re.Pattern[str]:
    if not _compiled:
        import re

        _compiled.append(re.compile(DURATION, re.IGNORECASE))
    return _compiled[0]


def parse_limit(text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"runq: --limit must be a positive whole number, not {text!r}")
    return int(text)


def _parse_datetime(text: str, option: str) -> float:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError(f"runq: {option}: cannot read {text!r}; use {WHEN_HELP}") from None
    return moment.timestamp()  # a naive moment is local time, as a user typing a date means


def _known_result(text: str) -> str:
    for result in RESULTS:
        if result.lower() == text.lower():
            return result
    raise UsageError(f"runq: --result must be one of {', '.join(RESULTS)}, not {text!r}")
