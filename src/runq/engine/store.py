"""Durable queue state in SQLite: every change is committed before the client hears back.

One row per task (its record as JSON) and per group, plus a counter so task ids only ever grow,
also across `clean` and `reset` (pueue reuses ids, which trips scripts and agents).

Captured environments are stored once per distinct content and shared: an agent's commands carry
the same few kilobytes of environment each time, and 100,000 copies would dominate both the
database and the daemon's memory.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3

from runq.model import DEFAULT_GROUP, Group, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY, data TEXT NOT NULL, env_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS envs (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, parallel INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateStore:
    def __init__(self, path: str, durability: str = "normal") -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('next_id', '0')")
        self.db.execute("INSERT OR IGNORE INTO groups VALUES (?, 1, 'Running')", (DEFAULT_GROUP,))
        # The environment never changes after `add`; it is written once, not on every state change.
        self.env_saved: set[int] = set()
        self.env_keys: dict[int, str] = {}  # id(shared env dict) -> its key
        self.shared_envs: dict[str, dict[str, str]] = {}

    def intern_env(self, env: dict[str, str]) -> dict[str, str]:
        """The shared dict with this content (treat it as immutable), registered under its key."""
        text = json.dumps(env, sort_keys=True, ensure_ascii=False)
        key = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        shared = self.shared_envs.get(key)
        if shared is None:
            shared = self.shared_envs[key] = env
            self.env_keys[id(env)] = key
        return shared

    def env_key(self, env: dict[str, str]) -> str:
        key = self.env_keys.get(id(env))
        return key if key is not None else self.env_keys.get(id(self.intern_env(env)), "")

    def prune_envs(self) -> None:
        """Drop stored environments no task uses any more (after clean, remove, reset)."""
        used = {key for (key,) in self.db.execute("SELECT DISTINCT env_key FROM tasks")}
        for key in [k for k in self.shared_envs if k not in used]:
            del self.env_keys[id(self.shared_envs.pop(key))]
        self.db.execute("DELETE FROM envs WHERE key NOT IN (SELECT env_key FROM tasks)")

    def close(self) -> None:
        self.db.close()

    def load(self) -> tuple[dict[int, Task], dict[str, Group], int]:
        self.shared_envs = {key: json.loads(data) for key, data in self.db.execute("SELECT key, data FROM envs")}
        self.env_keys = {id(env): key for key, env in self.shared_envs.items()}
        tasks = {}
        for task_id, data, key in self.db.execute("SELECT id, data, env_key FROM tasks ORDER BY id"):
            record = json.loads(data)
            record["envs"] = self.shared_envs.get(key, {})
            tasks[task_id] = Task.from_dict(record)
        self.env_saved = set(tasks)
        groups = {name: Group(name, parallel, status) for name, parallel, status in self.db.execute("SELECT name, parallel, status FROM groups")}
        next_id = int(self.db.execute("SELECT value FROM meta WHERE key='next_id'").fetchone()[0])
        return tasks, groups, next_id

    def transaction(self) -> _Transaction:
        return _Transaction(self, self.env_saved)


class _Transaction:
    """Collects writes and commits them at once, so a request's changes land together."""

    def __init__(self, store: StateStore, env_saved: set[int]) -> None:
        self.store = store
        self.db = store.db
        self.env_saved = env_saved

    def __enter__(self) -> _Transaction:
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")

    def save_task(self, task: Task) -> None:
        data = json.dumps(task.to_dict(with_env=False))
        if task.id in self.env_saved:
            self.db.execute("UPDATE tasks SET data = ? WHERE id = ?", (data, task.id))
        else:
            key = self.store.env_key(task.envs)
            # ASCII-escaped: an environment may hold undecodable bytes (surrogates), which SQLite's
            # UTF-8 text refuses; the escapes bring them back exactly on load.
            self.db.execute("INSERT OR IGNORE INTO envs VALUES (?, ?)", (key, json.dumps(task.envs)))
            self.db.execute("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?)", (task.id, data, key))
            self.env_saved.add(task.id)

    def delete_task(self, task_id: int) -> None:
        self.db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
        self.env_saved.discard(task_id)

    def save_group(self, group: Group) -> None:
        self.db.execute("INSERT OR REPLACE INTO groups VALUES (?, ?, ?)", (group.name, group.parallel, group.status))

    def delete_group(self, name: str) -> None:
        self.db.execute("DELETE FROM groups WHERE name = ?", (name,))

    def set_next_id(self, next_id: int) -> None:
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'next_id'", (str(next_id),))
