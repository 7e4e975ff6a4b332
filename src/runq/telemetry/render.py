"""Human output for `runq stats` and `runq history`: aligned tables, short durations, local times.

JSON output never passes through here: it carries raw numbers (seconds, epoch times).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from runq.telemetry.views import Column, StatsTable

MAX_CELL = 60
ELLIPSIS = "…"


def render_stats_table(table: StatsTable) -> str:
    header = table.title
    if table.total is not None and table.total > len(table.rows):
        header += f" ({len(table.rows)} of {table.total})"
    if not table.rows:
        return f"{header}\n  (none)\n"
    return f"{header}\n{render_grid(table.columns, table.rows)}"


def render_grid(columns: Sequence[Column], rows: Sequence[dict[str, object]]) -> str:
    cells = [[format_cell(column.kind, row.get(column.key)) for column in columns] for row in rows]
    titles = [column.title for column in columns]
    widths = [max(len(text) for text in [title, *(line[i] for line in cells)]) for i, title in enumerate(titles)]
    numeric = [column.kind not in ("text", "time") for column in columns]
    lines = [_line(titles, widths, numeric), _line(["-" * w for w in widths], widths, numeric)]
    lines += [_line(line, widths, numeric) for line in cells]
    return "\n".join(lines) + "\n"


def _line(texts: Sequence[str], widths: Sequence[int], numeric: Sequence[bool]) -> str:
    parts = [text.rjust(width) if right else text.ljust(width) for text, width, right in zip(texts, widths, numeric)]
    return "  " + "  ".join(parts).rstrip()


def format_cell(kind: str, value: object) -> str:
    if value is None:
        return "-"
    if kind == "seconds":
        return format_duration(float(value))  # type: ignore[arg-type]
    if kind == "ratio":
        return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]
    if kind == "time":
        return format_time(float(value))  # type: ignore[arg-type]
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + ELLIPSIS


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else f"{seconds * 1000:.2f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
