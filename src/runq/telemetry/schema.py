"""history.db's schema as a list of named migrations, applied in order on open.

The schema version is SQLite's `user_version`: migration N (1-based) brings a database from version
N-1 to N inside one transaction, so an interrupted upgrade leaves the previous version intact.
Never edit a released migration; append a new one.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

from runq.errors import RunqError


class HistoryError(RunqError):
    """history.db cannot be opened, read or written; the message says which file and why."""


def create_attempts(db: sqlite3.Connection) -> None:
    """Version 1: one row per ended attempt, as the daemon reports it (env already redacted)."""
    db.execute("""
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            task_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            final INTEGER NOT NULL,
            command TEXT NOT NULL,
            cwd TEXT,
            group_name TEXT,
            label TEXT,
            origin TEXT,
            session_id TEXT,
            tool_use_id TEXT,
            prompt_id TEXT,
            agent_id TEXT,
            dag_run TEXT,
            dag_task TEXT,
            priority INTEGER,
            dependencies TEXT,
            enqueued_at REAL,
            started_at REAL,
            ended_at REAL NOT NULL,
            result TEXT NOT NULL,
            exit_code INTEGER,
            signal INTEGER,
            user_cpu REAL,
            sys_cpu REAL,
            max_rss_kb INTEGER,
            stdout_bytes INTEGER,
            stderr_bytes INTEGER,
            log_path TEXT,
            env TEXT
        )""")
    db.execute("CREATE INDEX attempts_ended_at ON attempts (ended_at)")
    db.execute("CREATE INDEX attempts_task_id ON attempts (task_id)")


def add_stats_layout(db: sqlite3.Connection) -> None:
    """Version 2: the layout `runq stats` needs to stay fast on a million rows.

    - Environments move to their own table, stored once per distinct (redacted) environment: an
      agent's env is nearly always the same, and inline it made each row ~2 KB, so every stats scan
      read mostly env text.
    - Derived columns computed once at insert: signature, label_prefix, run_time, queue_wait.
    - Indexes for the views that pick a few rows out of many (slowest, recent failures, one session).
    """
    from runq.telemetry.signature import command_signature

    db.create_function("runq_signature", 1, command_signature, deterministic=True)
    db.create_function("runq_env_digest", 1, env_digest, deterministic=True)
    db.execute("""
        CREATE TABLE environments (
            id INTEGER PRIMARY KEY,
            digest BLOB NOT NULL UNIQUE,
            data TEXT NOT NULL
        )""")
    db.execute("""
        INSERT OR IGNORE INTO environments (digest, data)
        SELECT runq_env_digest(env), env FROM attempts WHERE env IS NOT NULL""")
    db.execute("ALTER TABLE attempts RENAME TO attempts_v1")
    db.execute("DROP INDEX attempts_ended_at")
    db.execute("DROP INDEX attempts_task_id")
    db.execute("""
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            task_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            final INTEGER NOT NULL,
            command TEXT NOT NULL,
            signature TEXT NOT NULL,
            cwd TEXT,
            group_name TEXT,
            label TEXT,
            label_prefix TEXT,
            origin TEXT,
            session_id TEXT,
            tool_use_id TEXT,
            prompt_id TEXT,
            agent_id TEXT,
            dag_run TEXT,
            dag_task TEXT,
            priority INTEGER,
            dependencies TEXT,
            enqueued_at REAL,
            started_at REAL,
            ended_at REAL NOT NULL,
            queue_wait REAL,
            run_time REAL,
            result TEXT NOT NULL,
            exit_code INTEGER,
            signal INTEGER,
            user_cpu REAL,
            sys_cpu REAL,
            max_rss_kb INTEGER,
            stdout_bytes INTEGER,
            stderr_bytes INTEGER,
            log_path TEXT,
            env_id INTEGER REFERENCES environments (id)
        )""")
    db.execute(f"""
        INSERT INTO attempts
        SELECT a.id, task_id, attempt, final, command, runq_signature(command), cwd, group_name, label,
               {LABEL_PREFIX_SQL.format(label="label")}, origin, session_id, tool_use_id, prompt_id, agent_id,
               dag_run, dag_task, priority, dependencies, enqueued_at, started_at, ended_at,
               started_at - enqueued_at, ended_at - started_at, result, exit_code, signal, user_cpu,
               sys_cpu, max_rss_kb, stdout_bytes, stderr_bytes, log_path, e.id
        FROM attempts_v1 AS a LEFT JOIN environments AS e ON e.digest = runq_env_digest(a.env)""")
    db.execute("DROP TABLE attempts_v1")
    for statement in STATS_INDEXES:
        db.execute(statement)


LABEL_PREFIX_SQL = "CASE WHEN instr({label}, ':') > 0 THEN substr({label}, 1, instr({label}, ':') - 1) ELSE {label} END"
STATS_INDEXES = (
    "CREATE INDEX attempts_ended_at ON attempts (ended_at)",
    "CREATE INDEX attempts_task_id ON attempts (task_id)",
    "CREATE INDEX attempts_env_id ON attempts (env_id)",
    "CREATE INDEX attempts_run_time ON attempts (run_time)",
    "CREATE INDEX attempts_failed ON attempts (ended_at) WHERE result != 'Success'",
    # Covering indexes: each unfiltered view reads its index in group order, with no table lookups
    # and no sort. Filtered views leave them aside (see views.group_key).
    "CREATE INDEX attempts_by_result ON attempts (result)",
    "CREATE INDEX attempts_by_label ON attempts (label_prefix, run_time)",
    "CREATE INDEX attempts_by_signature ON attempts (signature, result, run_time)",
    "CREATE INDEX attempts_by_group ON attempts (group_name, run_time, queue_wait)",
    ("CREATE INDEX attempts_by_session ON attempts (session_id, ended_at, started_at, result, run_time, queue_wait) "
     "WHERE session_id IS NOT NULL"),
)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [create_attempts, add_stats_layout]
CURRENT_VERSION = len(MIGRATIONS)


def env_digest(env_json: str | None) -> bytes | None:
    if env_json is None:
        return None
    import hashlib

    return hashlib.blake2b(env_json.encode("utf-8"), digest_size=16).digest()


def encode_env(env: dict[str, str]) -> str:
    import json  # here, not at the top: `json` pulls in `re` and `enum`, most of a `runq stats` start

    return json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def require_known_version(db: sqlite3.Connection, path: str) -> int:
    version = schema_version(db)
    if version > CURRENT_VERSION:
        raise HistoryError(f"runq: history database {path} has schema version {version}, newer than this "
                           f"runq understands ({CURRENT_VERSION}); upgrade runq")
    return version


def migrate(db: sqlite3.Connection, path: str, target: int = CURRENT_VERSION) -> None:
    """Bring `db` (opened with isolation_level=None) up to `target`, one transaction per step."""
    version = require_known_version(db, path)
    for number in range(version + 1, target + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            # another process may have migrated between our read and our lock
            if schema_version(db) >= number:
                db.execute("ROLLBACK")
                continue
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
