"""Everything the runner asks of the daemon: groups, adding tasks in order, cancelling them.

The daemon does the scheduling; this only submits each task with `after` pointing at the ids of
the tasks it waits for, so a task is always added after its dependencies (the daemon refuses
unknown ids).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from runq.client.connection import Connection
from runq.dag.spec import GroupSpec, TaskSpec
from runq.errors import RunqError


def ensure_groups(conn: Connection, groups: tuple[GroupSpec, ...]) -> None:
    """Create the groups the file names, and set their limit where the file gives one."""
    existing = conn.call("groups")["groups"]
    for group in groups:
        if group.name not in existing:
            try:
                conn.call("group_add", name=group.name, parallel=1 if group.parallel is None else group.parallel)
                continue
            except RunqError:
                # Another client may have created it since we looked; setting the limit still applies.
                if group.parallel is None:
                    continue
        if group.parallel is not None:
            conn.call("parallel", group=group.name, parallel=group.parallel)


@dataclass
class Submitted:
    ids: dict[str, int] = field(default_factory=dict)  # task name -> daemon id, in submission order
    records: dict[int, dict] = field(default_factory=dict)
    paused_groups: set[str] = field(default_factory=set)


def submit(conn: Connection, order: list[TaskSpec], run_id: str, stop: Callable[[], bool],
           into: Submitted) -> Submitted:
    """Add each task (dependencies first); stops early, keeping what was added, when `stop()`."""
    base_env = dict(os.environ)
    for task in order:
        if stop():
            break
        after = [into.ids[name] for name in task.after if name in into.ids]
        reply = conn.call(
            "add", command=task.command, cwd=task.cwd, env={**base_env, **task.env}, group=task.group,
            label=task.label, after=after, priority=task.priority, timeout=task.timeout, retries=task.retries,
            origin="dag", dag_run=run_id, dag_task=task.name,
        )
        into.ids[task.name] = reply["id"]
        into.records[reply["id"]] = reply["task"]
        if reply.get("group_paused"):
            into.paused_groups.add(task.group)
    return into


def cancel(conn: Connection, waiting: list[int], active: list[int], signal: str) -> None:
    """Remove the waiting tasks first (so none starts when a slot frees), then signal the rest.

    `active` should hold every id not known to be finished: a task can start between our last
    news and the remove, and the daemon then refuses to remove it, so it must be signalled.
    """
    for cmd, ids, extra in (("remove", waiting, {}), ("kill", active, {"signal": signal})):
        if not ids:
            continue
        try:
            conn.call(cmd, ids=ids, **extra)
        except RunqError:
            pass  # every id refused: all already moved on (started, finished or gone)
