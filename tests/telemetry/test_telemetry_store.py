"""The daemon's writer: what a record keeps, the row cap, busy databases, and migrations from version 1."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from history_records import record

from runq import config as runq_config
from runq.telemetry import schema
from runq.telemetry.redact import REDACTED
from runq.telemetry.schema import HistoryError
from runq.telemetry.store import TRIM_PER_RECORD, HistoryStore, connect_for_writing

# Version 1 of the schema exactly as released: the migration test must start from this, not from
# whatever migration 1 says today.
SCHEMA_V1 = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, attempt INTEGER NOT NULL, final INTEGER NOT NULL,
    command TEXT NOT NULL, cwd TEXT, group_name TEXT, label TEXT, origin TEXT, session_id TEXT,
    tool_use_id TEXT, prompt_id TEXT, agent_id TEXT, dag_run TEXT, dag_task TEXT, priority INTEGER,
    dependencies TEXT, enqueued_at REAL, started_at REAL, ended_at REAL NOT NULL, result TEXT NOT NULL,
    exit_code INTEGER, signal INTEGER, user_cpu REAL, sys_cpu REAL, max_rss_kb INTEGER, stdout_bytes INTEGER,
    stderr_bytes INTEGER, log_path TEXT, env TEXT
);
CREATE INDEX attempts_ended_at ON attempts (ended_at);
CREATE INDEX attempts_task_id ON attempts (task_id);
PRAGMA user_version = 1;
"""


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "history.db")


def rows(path: str, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_record_keeps_every_field_with_derived_times_and_redacted_env(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    store.record(record(id=7, attempt=2, final=False, command="cd x && cargo test -p a", label="test:core",
                        session_id="s", tool_use_id="t", prompt_id="p", agent_id="a", dag_run="r", dag_task="d",
                        dependencies=[3, 4], enqueued_at=100.000001, started_at=100.250002, ended_at=103.5,
                        result="Failed", exit_code=101, user_cpu=1.5, sys_cpu=0.25, max_rss_kb=2048,
                        stdout_bytes=10, stderr_bytes=20, log_path="/logs/7.log",
                        env={"GITHUB_TOKEN": "abc", "PATH": "/bin"}))
    store.close()
    (row,) = rows(db_path, "SELECT task_id, attempt, final, signature, label_prefix, dependencies, queue_wait, "
                           "run_time, result, exit_code, user_cpu, max_rss_kb, e.data FROM attempts "
                           "JOIN environments AS e ON e.id = env_id")
    assert row[:6] == (7, 2, 0, "cargo test", "test", "[3,4]")
    assert row[6] == pytest.approx(0.250001, abs=1e-9) and row[7] == pytest.approx(3.249998, abs=1e-9)
    assert row[8:12] == ("Failed", 101, 1.5, 2048)
    assert json.loads(row[12]) == {"GITHUB_TOKEN": REDACTED, "PATH": "/bin"}


def test_a_task_that_never_started_has_no_run_time_or_wait(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    store.record(record(started_at=None, result="DependencyFailed", exit_code=None, user_cpu=None, env=None))
    store.close()
    assert rows(db_path, "SELECT queue_wait, run_time, env_id FROM attempts") == [(None, None, None)]


def test_identical_environments_are_stored_once(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    for task_id in range(1, 21):
        store.record(record(id=task_id, env={"PATH": "/bin", "PARITY": str(task_id % 2)}))
    store.close()
    assert rows(db_path, "SELECT count(*) FROM environments") == [(2,)]


def test_the_row_cap_keeps_the_newest_rows_and_their_environments(db_path: str) -> None:
    config = runq_config.defaults()
    config.values["history"]["max_rows"] = 10
    store = HistoryStore.open(db_path, config)
    for task_id in range(1, 26):
        store.record(record(id=task_id, env={"N": str(task_id)}))
    store.close()
    assert [r[0] for r in rows(db_path, "SELECT task_id FROM attempts ORDER BY id")] == list(range(16, 26))
    assert rows(db_path, "SELECT count(*) FROM environments") == [(10,)]


def test_a_lowered_cap_is_applied_when_the_store_opens(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    for task_id in range(1, 31):
        store.record(record(id=task_id))
    store.close()
    config = runq_config.defaults()
    config.values["history"]["max_rows"] = 5
    HistoryStore.open(db_path, config).close()
    assert [r[0] for r in rows(db_path, "SELECT task_id FROM attempts ORDER BY id")] == list(range(26, 31))


def test_a_record_written_while_the_database_is_locked_is_kept_and_written_later(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(HistoryError, match="locked.*1 record\\(s\\) kept in memory"):
        store.record(record(id=1))
    blocker.execute("ROLLBACK")
    blocker.close()
    store.record(record(id=2))
    store.close()
    assert rows(db_path, "SELECT task_id FROM attempts ORDER BY id") == [(1,), (2,)]


def test_a_malformed_record_is_refused_without_blocking_later_ones(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    bad = record(id=1)
    del bad["ended_at"]
    with pytest.raises(HistoryError, match="cannot record task 1"):
        store.record(bad)
    store.record(record(id=2))
    store.close()
    assert rows(db_path, "SELECT task_id FROM attempts") == [(2,)]


def test_a_database_that_is_not_sqlite_fails_to_open_with_one_line(db_path: str) -> None:
    Path(db_path).write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError) as raised:
        HistoryStore.open(db_path)
    assert db_path in str(raised.value) and "\n" not in str(raised.value)


def test_a_schema_newer_than_this_runq_is_refused(db_path: str) -> None:
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version = {schema.CURRENT_VERSION + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer than this runq"):
        HistoryStore.open(db_path)


def test_migrating_from_version_1_keeps_every_row(db_path: str) -> None:
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA_V1)
    v1_rows = []
    for task_id in range(1, 301):
        env = json.dumps({"PATH": "/bin", "N": str(task_id % 4)}) if task_id % 10 else None
        v1_rows.append((task_id, task_id, 1, 1, f"cargo test -p c{task_id}", "/w", "default",
                        f"test:{task_id}" if task_id % 3 else None, "cli", None, None, None, None, None, None, 0,
                        "[]", 1000.0 + task_id, 1001.0 + task_id, 1003.5 + task_id, "Success", 0, None, 0.1, 0.0,
                        100, 1, 2, None, env))
    db.executemany(f"INSERT INTO attempts VALUES ({', '.join('?' * 30)})", v1_rows)
    db.commit()
    db.close()

    HistoryStore.open(db_path).close()

    assert rows(db_path, "PRAGMA user_version") == [(schema.CURRENT_VERSION,)]
    migrated = rows(db_path, "SELECT a.task_id, a.command, a.signature, a.label, a.label_prefix, a.queue_wait, "
                             "a.run_time, e.data FROM attempts AS a LEFT JOIN environments AS e ON e.id = a.env_id "
                             "ORDER BY a.id")
    assert len(migrated) == 300
    for old, new in zip(v1_rows, migrated):
        assert new[0:2] == (old[1], old[4])
        assert new[2] == "cargo test"
        assert new[3] == old[7] and new[4] == (old[7].split(":")[0] if old[7] else None)
        assert new[5] == pytest.approx(1.0) and new[6] == pytest.approx(2.5)
        assert new[7] == old[29]
    assert rows(db_path, "SELECT count(*) FROM environments") == [(4,)]


def test_a_cap_lowered_beyond_the_open_budget_is_reached_a_few_rows_per_record(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    for task_id in range(1, 41):
        store.record(record(id=task_id))
    store.close()
    config = runq_config.defaults()
    config.values["history"]["max_rows"] = 4
    # as if open's time budget ran out before the trim began
    store = HistoryStore(connect_for_writing(db_path), db_path, config, max_rows=4)
    store.record(record(id=41))
    assert rows(db_path, "SELECT count(*) FROM attempts") == [(41 - TRIM_PER_RECORD,)]
    for task_id in range(42, 47):
        store.record(record(id=task_id))
    store.close()
    assert [r[0] for r in rows(db_path, "SELECT task_id FROM attempts ORDER BY id")] == [43, 44, 45, 46]


class _CommitFailsOnce:
    """A connection whose first COMMIT fails the way a full disk makes it fail."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.failed = False

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_a_record_whose_commit_fails_is_kept_and_written_with_the_next(db_path: str) -> None:
    # regression: _flush dropped a pending record before its COMMIT, so a failing COMMIT lost it
    HistoryStore.open(db_path).close()
    connection = _CommitFailsOnce(connect_for_writing(db_path))
    store = HistoryStore(connection, db_path, None, max_rows=0)  # type: ignore[arg-type]
    with pytest.raises(HistoryError, match="disk is full.*1 record\\(s\\) kept in memory"):
        store.record(record(id=1))
    assert not connection.db.in_transaction
    store.record(record(id=2))
    store.close()
    assert rows(db_path, "SELECT task_id FROM attempts ORDER BY id") == [(1,), (2,)]


def test_kept_records_are_written_by_a_retry_without_a_new_record(db_path: str) -> None:
    store = HistoryStore.open(db_path)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(HistoryError):
        store.record(record(id=1))
    with pytest.raises(HistoryError):
        store.retry_pending()
    assert store.pending_count == 1
    blocker.execute("ROLLBACK")
    blocker.close()
    store.retry_pending()
    assert store.pending_count == 0
    assert rows(db_path, "SELECT task_id FROM attempts") == [(1,)]
    store.close()
