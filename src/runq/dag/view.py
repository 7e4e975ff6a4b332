"""Progress while a DAG runs: a live view redrawn in place on a terminal, one plain line per event
otherwise (agents and CI logs read those). Plain ANSI and no UI library: client start-up matters.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TextIO

from runq.client.render import safe_text
from runq.dag.state import (
    FINISHED,
    REMOVED,
    RETRYING,
    STARTED,
    TIMED_OUT,
    Event,
    RunState,
    outcome,
)
from runq.model import DEPENDENCY_FAILED, KILLED, SUCCESS

LogPath = Callable[[int], str]
BAR_WIDTH = 24


def describe(event: Event, log_path: LogPath) -> tuple[str, str]:
    """(a short word, the detail) for one event; the word is upper case when something went wrong."""
    record = event.record
    if event.kind == STARTED:
        attempt = record.get("attempt", 1)
        return "start", f" (attempt {attempt} of {record.get('retries', 0) + 1})" if attempt > 1 else ""
    if event.kind == RETRYING:
        attempt = record["attempt"]
        why = "timed out" if record.get("timed_out") else "failed"
        return "RETRY", f": attempt {attempt - 1} {why}; attempt {attempt} of {record.get('retries', 0) + 1} follows"
    if event.kind == REMOVED:
        return "CANCEL", ": removed before it started"
    return _finished(record, log_path)


def _finished(record: dict, log_path: LogPath) -> tuple[str, str]:
    result = outcome(record)
    took = f" after {duration_text(record)}"
    log = f"  log: {log_path(record['id'])}"
    if result == SUCCESS:
        return "ok", f" ({duration_text(record)})"
    if result == DEPENDENCY_FAILED:
        return "DEP-FAIL", ": a task it waits for did not succeed"
    if result == TIMED_OUT:
        return "TIMEOUT", f": timed out (limit {record.get('timeout'):g} s){took}{log}"
    if result == KILLED:
        return "KILLED", f": killed by signal {record.get('signal')}{took}{log}"
    if result == "Failed":
        return "FAILED", f": exit code {record.get('exit_code')}{took}{log}"
    detail = record.get("spawn_error") or ""
    return result.upper(), f": {safe_text(detail, 200)}{log}"


def duration_text(record: dict) -> str:
    start, end = record.get("start"), record.get("end")
    if start is None or end is None:
        return "-"
    return seconds_text(end - start)


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class PlainView:
    """One line per event, flushed at once: the output of a pipe is read while it runs."""

    tick_interval: float | None = None

    def __init__(self, out: TextIO, log_path: LogPath) -> None:
        self.out = out
        self.log_path = log_path

    def event(self, event: Event, state: RunState) -> None:
        word, detail = describe(event, self.log_path)
        width = len(str(state.total))
        self.write(f"[{state.finished_count():>{width}}/{state.total}] {word:<8} {safe_text(event.name)}{detail}")

    def note(self, text: str) -> None:
        self.write(text)

    def write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def tick(self, state: RunState) -> None:
        pass

    def close(self, state: RunState) -> None:
        pass


class QuietView(PlainView):
    """For --json: nothing but the final document on stdout."""

    def write(self, line: str) -> None:
        pass


class LiveView:
    """A progress bar and the running tasks, redrawn in place; failures stay printed above it."""

    tick_interval: float | None = 0.25

    def __init__(self, out: TextIO, log_path: LogPath) -> None:
        self.out = out
        self.log_path = log_path
        self.started = time.monotonic()
        self.drawn = 0  # lines of the live block currently on screen
        self.out.write("\x1b[?25l")  # hide the cursor while redrawing

    def event(self, event: Event, state: RunState) -> None:
        word, detail = describe(event, self.log_path)
        lasting = event.kind in (RETRYING, REMOVED) or (event.kind == FINISHED and word != "ok")
        self.redraw(state, [f"{word:<8} {safe_text(event.name)}{detail}"] if lasting else [])

    def note(self, text: str) -> None:
        self._write(self._erase() + text + "\n")
        self.drawn = 0

    def tick(self, state: RunState) -> None:
        self.redraw(state, [])

    def close(self, state: RunState) -> None:
        self.redraw(state, [])
        self.out.write("\x1b[?25h")
        self.out.flush()
        self.drawn = 0

    def redraw(self, state: RunState, lasting: list[str]) -> None:
        columns, rows = _terminal_size(self.out)
        block = render_block(state, time.monotonic() - self.started, time.time(), max(1, rows - 2))
        lines = [_fit(line, columns) for line in lasting] + [_fit(line, columns) for line in block]
        self._write(self._erase() + "".join(line + "\n" for line in lines))
        self.drawn = len(block)

    def _erase(self) -> str:
        # to the start of the block's first line, then clear to the end of the screen
        return f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def render_block(state: RunState, elapsed: float, now: float, max_lines: int) -> list[str]:
    done, total = state.finished_count(), state.total
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    running = sorted(state.running(), key=lambda item: item[1].get("start") or now)
    counts = state.counts()
    parts = [f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} done",
             f"{counts.get(SUCCESS, 0)} ok", f"{state.failed_count()} failed", f"{len(running)} running",
             seconds_text(elapsed)]
    lines = ["  ".join(parts)]
    room = max_lines - 1
    shown = running if len(running) <= room else running[: max(0, room - 1)]
    width = max((len(safe_text(name, 40)) for name, _ in shown), default=0)
    for name, record in shown:
        since = now - (record.get("start") or now)
        attempt = f"  (attempt {record['attempt']})" if record.get("attempt", 1) > 1 else ""
        paused = "  paused" if record["status"] == "Paused" else ""
        lines.append(f"  {safe_text(name, 40):<{width}}  {seconds_text(max(0.0, since))}{attempt}{paused}")
    if len(shown) < len(running):
        lines.append(f"  ... and {len(running) - len(shown)} more running")
    return lines


def _terminal_size(out: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(out.fileno())
        return size.columns or 80, size.lines or 24
    except (OSError, ValueError):
        return 80, 24


def _fit(line: str, columns: int) -> str:
    # A line that wraps would break the cursor arithmetic of the next redraw.
    return line if len(line) < columns else line[: max(1, columns - 2)] + "…"


def choose_view(out: TextIO, log_path: LogPath, json_output: bool) -> PlainView | LiveView:
    if json_output:
        return QuietView(out, log_path)
    if out.isatty() and os.environ.get("TERM", "") != "dumb":
        return LiveView(out, log_path)
    return PlainView(out, log_path)
