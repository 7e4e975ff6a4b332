"""Opening history.db for the CLI (`runq stats`, `runq history`) without the daemon.

Reads use a read-only connection: WAL lets them run beside the daemon's writes. A database from an
older runq is migrated first (the same migrations the daemon's store applies on open). Every
SQLite failure becomes one HistoryError line naming the file and what to do.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from runq.telemetry import schema
from runq.telemetry.schema import HistoryError

READ_BUSY_TIMEOUT_MS = 2000


def open_for_reading(path: str) -> sqlite3.Connection:
    """A read-only connection; an empty in-memory history when the file does not exist yet."""
    if not os.path.exists(path):
        return _empty_history()
    with history_errors(path):
        version = _peek_version(path)
        if version < schema.CURRENT_VERSION:
            _upgrade(path)
        db = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
        schema.require_known_version(db, path)
        db.execute("SELECT 1 FROM attempts LIMIT 1").fetchall()
    return db


def open_for_writing(path: str) -> sqlite3.Connection | None:
    """A read-write connection for `history prune`; None when there is no history yet."""
    if not os.path.exists(path):
        return None
    from runq.telemetry.store import connect_for_writing

    with history_errors(path):
        db = connect_for_writing(path)
        db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
        schema.migrate(db, path)
    return db


@contextmanager
def history_errors(path: str) -> Iterator[None]:
    """Turn SQLite's exceptions into one actionable line."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "locked" in message or "busy" in message:
            raise HistoryError(f"runq: history database {path} is locked by another process ({message}); "
                               "try again in a moment") from None
        raise HistoryError(f"runq: history database {path}: {message}") from None
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"runq: history database {path} is damaged ({exc}); move it aside to start a new "
                           f"history, or try `sqlite3 {path} .recover`") from None


def _peek_version(path: str) -> int:
    db = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
        return schema.schema_version(db)
    finally:
        db.close()


def _upgrade(path: str) -> None:
    from runq.telemetry.store import connect_for_writing

    db = connect_for_writing(path)
    try:
        db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
        schema.migrate(db, path)
    finally:
        db.close()


def _read_only_uri(path: str) -> str:
    # the only characters a file: URI path must escape (urllib.parse would cost an import)
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?mode=ro"


def _empty_history() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(db, ":memory:")
    return db
