"""`runq history export`: records as JSON lines or CSV, streamed so a million rows fit in little memory."""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from typing import IO

from runq.errors import RunqError
from runq.telemetry.records import FIELD_NAMES, HistoryRecord

FORMATS = ("jsonl", "csv")


def write_records(records: Iterable[HistoryRecord], fmt: str, output: str | None) -> int:
    """Write every record to `output` (a path) or stdout; returns how many were written."""
    if output is None:
        return _write(records, fmt, sys.stdout)
    try:
        with open(output, "w", encoding="utf-8", newline="") as stream:
            return _write(records, fmt, stream)
    except OSError as exc:
        raise RunqError(f"runq: history export: cannot write {output}: {exc.strerror}") from None


def _write(records: Iterable[HistoryRecord], fmt: str, stream: IO[str]) -> int:
    count = 0
    if fmt == "jsonl":
        for record in records:
            stream.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(stream)
    writer.writerow(FIELD_NAMES)
    for record in records:
        data = record.to_dict()
        writer.writerow([_csv_cell(data[name]) for name in FIELD_NAMES])
        count += 1
    return count


def _csv_cell(value: object) -> object:
    # lists and dicts (dependencies, env) go in as JSON text; None as an empty cell
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value
