"""Opening history.db for the CLI (`runq stats`, `runq history`) without the daemon.

Reads use a read-only connection: WAL lets them run beside the daemon's writes. A database from an
older runq is migrated first (the same migrations the daemon's store applies on open). Every
SQLite failure becomes one HistoryError line naming the file and what to do.
"""
from __future__ import annotations

import os
import sqlite3

from runq.telemetry import schema
from runq.telemetry.schema import HistoryError

READ_BUSY_TIMEOUT_MS = 2000


def open_for_reading(path: str) -> sqlite3.Connection:
    """A read-only connection; an empty in-memory history when the file does not exist yet."""
    if not os.path.exists(path):
        return _empty_history()
    with history_errors(path):
        db = _connect_read_only(path)
        if schema.schema_version(db) < schema.CURRENT_VERSION:
            db.close()
            _upgrade(path)
            db = _connect_read_only(path)
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


def history_errors(path: str) -> _HistoryErrors:
    """Turn SQLite's exceptions into one actionable line (a context manager)."""
    return _HistoryErrors(path)


class _HistoryErrors:
    # A class, not @contextmanager: `contextlib` would be one more import of every `runq stats`.
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        path = self.path
        if isinstance(exc, sqlite3.OperationalError):
            message = str(exc)
            if "locked" in message or "busy" in message:
                raise HistoryError(f"runq: history database {path} is locked by another process ({message}); "
                                   "try again in a moment") from None
            raise HistoryError(f"runq: history database {path}: {message}") from None
        if isinstance(exc, sqlite3.DatabaseError):
            raise HistoryError(f"runq: history database {path} is damaged ({exc}); move it aside to start a new "
                               f"history, or try `sqlite3 {path} .recover`") from None


def _connect_read_only(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
    return db


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
