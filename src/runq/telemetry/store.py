"""The daemon's writer for history.db: one row per ended attempt.

The daemon calls `record` on its event loop, so a call is one short transaction (an environment
upsert and one INSERT, well under a millisecond) and waits at most BUSY_TIMEOUT_MS for a lock.
A record that cannot be written right now (another process holds the write lock, e.g. a large
`runq history prune`) is kept in memory and written before the next one, so a busy moment loses
nothing; the error is still raised so the daemon can log it.
"""
from __future__ import annotations

import sqlite3
import time
from collections import deque

from runq.telemetry import retention, schema
from runq.telemetry.redact import check_config, redact_env
from runq.telemetry.schema import HistoryError
from runq.telemetry.signature import command_signature

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runq.config import Config

BUSY_TIMEOUT_MS = 200
TRIM_AT_OPEN_SECONDS = 2.0
TRIM_PER_RECORD = 8  # old rows retired per new one: 1 keeps a full history at the cap, the rest catch up
MAX_PENDING = 10_000
INSERT_SQL = """
    INSERT INTO attempts (task_id, attempt, final, command, signature, cwd, group_name, label, label_prefix,
        origin, session_id, tool_use_id, prompt_id, agent_id, dag_run, dag_task, priority, dependencies,
        enqueued_at, started_at, ended_at, queue_wait, run_time, result, exit_code, signal, user_cpu, sys_cpu,
        max_rss_kb, stdout_bytes, stderr_bytes, log_path, env_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


class HistoryStore:
    def __init__(self, db: sqlite3.Connection, path: str, config: Config | None, max_rows: int) -> None:
        self.db = db
        self.path = path
        self.config = config
        self.max_rows = max_rows
        self.pending: deque[tuple[tuple[Any, ...], str | None]] = deque(maxlen=MAX_PENDING)
        # The daemon hands over its interned (shared, never mutated) environment dicts: one
        # redaction per distinct environment instead of one per record.
        self._redacted: dict[int, tuple[dict[str, str], str]] = {}

    @classmethod
    def open(cls, path: str, config: Config | None = None) -> HistoryStore:
        max_rows = config.get("history", "max_rows") if config is not None else 0
        if config is not None:
            check_config(config)
        db = connect_for_writing(path)
        try:
            schema.migrate(db, path)
            store = cls(db, path, config, max_rows)
            store.trim()
        except sqlite3.Error as exc:
            db.close()
            raise HistoryError(f"runq: history database {path}: {exc}") from None
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        try:
            self._flush()
        except sqlite3.Error:
            pass  # nothing better to do with them at shutdown; the daemon has logged earlier failures
        self.db.close()

    def record(self, rec: dict[str, Any], defer: bool = False) -> None:
        """Store one ended attempt (the daemon's record shape, raw env: redacted here).

        With defer, the record only joins the pending batch; the daemon writes each loop turn's
        records in one transaction with retry_pending().
        """
        try:
            self.pending.append(self._row(rec))
        except (KeyError, TypeError) as exc:
            raise HistoryError(f"runq: history: cannot record task {rec.get('id')}: bad field {exc}") from None
        if not defer:
            self.retry_pending()

    @property
    def pending_count(self) -> int:
        """Records kept in memory after a failed write (a busy or full database)."""
        return len(self.pending)

    def retry_pending(self) -> None:
        """Write the records kept after a failed write. `record` does this first; the daemon also
        calls it now and then while pending_count > 0, so a record is not held back until the next
        task ends. Raises HistoryError, keeping the records, when the database still refuses."""
        if not self.pending:
            return
        try:
            self._flush()
        except sqlite3.Error as exc:
            raise HistoryError(f"runq: history database {self.path}: {exc} "
                               f"({len(self.pending)} record(s) kept in memory for a retry)") from None

    def trim(self, budget_seconds: float = TRIM_AT_OPEN_SECONDS) -> int:
        """Delete the oldest rows beyond history.max_rows (0 = no cap), for at most `budget_seconds`;
        returns how many went. A cap lowered by a lot (each row costs ~0.1 ms with its index entries)
        is finished by `record`, a few rows per new row, rather than by a long pause here."""
        deleted = 0
        deadline = time.monotonic() + budget_seconds
        while time.monotonic() < deadline:
            with _transaction(self.db):
                cutoff = self._cap_cutoff()
                batch = retention.delete_through_id(self.db, cutoff) if cutoff is not None else 0
            deleted += batch
            if batch < retention.BATCH:
                break
        return deleted

    def _cap_cutoff(self) -> int | None:
        # Row ids only grow, so the rows past the cap are those with id <= newest id - max_rows:
        # a seek on the primary key, where COUNT(*) would read a whole index.
        if self.max_rows <= 0:
            return None
        newest = self.db.execute("SELECT max(id) FROM attempts").fetchone()[0]
        if newest is None or newest <= self.max_rows:
            return None
        return int(newest) - self.max_rows

    def _flush(self) -> None:
        # Records leave `pending` only once their transaction has committed: a COMMIT that fails
        # (a full disk) or an INSERT that fails midway rolls back every row of this flush.
        rejected: Exception | None = None
        with _transaction(self.db):
            for row, env_json in self.pending:
                try:
                    try:
                        cursor = self.db.execute(INSERT_SQL, (*row, _environment_id(self.db, env_json)))
                    except UnicodeEncodeError:
                        # Text holding non-UTF-8 bytes (surrogate escapes from argv or the
                        # environment) cannot be bound as is: store it with those bytes replaced.
                        row, env_json = _utf8_row(row), _utf8(env_json)
                        cursor = self.db.execute(INSERT_SQL, (*row, _environment_id(self.db, env_json)))
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, OverflowError) as exc:
                    rejected = exc  # bad data never succeeds on a retry: drop the record
                else:
                    if self.max_rows > 0 and cursor.lastrowid is not None and cursor.lastrowid > self.max_rows:
                        # at the cap each insert retires the row it pushes out: constant work per record
                        retention.delete_through_id(self.db, cursor.lastrowid - self.max_rows, TRIM_PER_RECORD)
        self.pending.clear()
        if rejected is not None:
            raise sqlite3.IntegrityError(f"record rejected: {rejected}")

    def _redacted_json(self, env: dict[str, str]) -> str:
        cached = self._redacted.get(id(env))
        if cached is not None and cached[0] is env:
            return cached[1]
        env_json = schema.encode_env(redact_env(env, self.config))
        if len(self._redacted) >= 64:
            self._redacted.clear()
        self._redacted[id(env)] = (env, env_json)  # holding env keeps its id from being reused
        return env_json

    def _row(self, rec: dict[str, Any]) -> tuple[tuple[Any, ...], str | None]:
        started, ended, enqueued = rec.get("started_at"), rec["ended_at"], rec.get("enqueued_at")
        label = rec.get("label")
        env = rec.get("env")
        env_json = self._redacted_json(env) if env is not None else None
        dependencies = rec.get("dependencies")
        row = (
            rec["id"], rec.get("attempt") or 1, 1 if rec.get("final", True) else 0, rec["command"],
            command_signature(rec["command"]), rec.get("cwd"), rec.get("group"), label, label_prefix(label),
            rec.get("origin"), rec.get("session_id"), rec.get("tool_use_id"), rec.get("prompt_id"),
            rec.get("agent_id"), rec.get("dag_run"), rec.get("dag_task"), rec.get("priority"),
            _json_list(dependencies), enqueued, started, ended,
            started - enqueued if started is not None and enqueued is not None else None,
            ended - started if started is not None else None,
            rec["result"], rec.get("exit_code"), rec.get("signal"), rec.get("user_cpu"), rec.get("sys_cpu"),
            rec.get("max_rss_kb"), rec.get("stdout_bytes"), rec.get("stderr_bytes"), rec.get("log_path"),
        )
        return row, env_json


def connect_for_writing(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a crash of any process; history is not worth an fsync per task
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise HistoryError(f"runq: history database {path}: {exc}") from None
    return db


def label_prefix(label: str | None) -> str | None:
    """The label up to its first ':' (`test:pkg-a` -> `test`), as the seed groups labels."""
    if label is None:
        return None
    return label.split(":", 1)[0]


def _environment_id(db: sqlite3.Connection, env_json: str | None) -> int | None:
    if env_json is None:
        return None
    digest = schema.env_digest(env_json)
    db.execute("INSERT OR IGNORE INTO environments (digest, data) VALUES (?, ?)", (digest, env_json))
    return int(db.execute("SELECT id FROM environments WHERE digest = ?", (digest,)).fetchone()[0])


def _json_list(values: list[int] | None) -> str | None:
    if values is None:
        return None
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR)
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")


def _utf8(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode("utf-8", "replace").decode("utf-8")
    return value


def _utf8_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_utf8(value) for value in row)
