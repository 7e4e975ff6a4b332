"""Deleting history rows: the row cap, `history prune`, and environments no row uses any more.

Deletes go in batches of BATCH rows, one transaction each, so a large prune never holds the
write lock for long (about 50 ms for a batch on a million-row history with all its indexes): the
daemon's `record`, which waits up to 200 ms for the lock, gets in between batches.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

BATCH = 500
PAUSE_BETWEEN_BATCHES = 0.01  # seconds: room for the daemon's busy handler to take the lock


def delete_rows(db: sqlite3.Connection, rows: Iterable[tuple[int, int | None]]) -> int:
    """Delete attempts by (id, env_id), then the environments only they used. Caller holds a transaction."""
    rows = list(rows)
    db.executemany("DELETE FROM attempts WHERE id = ?", ((row_id,) for row_id, _ in rows))
    env_ids = {env_id for _, env_id in rows if env_id is not None}
    db.executemany("DELETE FROM environments WHERE id = ? AND NOT EXISTS (SELECT 1 FROM attempts WHERE env_id = ?)",
                   ((env_id, env_id) for env_id in env_ids))
    return len(rows)


def delete_through_id(db: sqlite3.Connection, last_id: int, limit: int = BATCH) -> int:
    """Delete up to `limit` of the oldest rows with id <= last_id. Caller holds a transaction."""
    rows = db.execute("SELECT id, env_id FROM attempts WHERE id <= ? ORDER BY id LIMIT ?", (last_id, limit)).fetchall()
    return delete_rows(db, rows)


def prune_ended_before(db: sqlite3.Connection, cutoff: float) -> int:
    """Delete every row that ended before `cutoff` (epoch seconds), batch by batch; returns the count."""
    deleted = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute("SELECT id, env_id FROM attempts WHERE ended_at < ? ORDER BY ended_at LIMIT ?",
                              (cutoff, BATCH)).fetchall()
            deleted += delete_rows(db, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if len(rows) < BATCH:
            return deleted
        time.sleep(PAUSE_BETWEEN_BATCHES)
