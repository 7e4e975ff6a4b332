"""Pure scheduling rules (no clock, no IO): which queued tasks start, which fail by dependency.

Same rules as pueue 4: candidates are Queued tasks of Running groups with a free slot (0 means
unlimited; paused tasks keep their slot), whose dependencies that still exist all succeeded,
ordered by priority (high first) then id.
"""
from __future__ import annotations

from runq.model import (ACTIVE, DEPENDENCY_FAILED, DONE, GROUP_PAUSED, GROUP_RUNNING, QUEUED, STASHED,
                        SUCCESS, Group, Task)


def dependencies_met(task: Task, tasks: dict[int, Task]) -> bool:
    for dep_id in task.dependencies:
        dep = tasks.get(dep_id)
        if dep is not None and not (dep.status == DONE and dep.result == SUCCESS):
            return False
    return True


def active_counts(tasks: dict[int, Task]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in tasks.values():
        if task.status in ACTIVE:
            counts[task.group] = counts.get(task.group, 0) + 1
    return counts


def startable(live: dict[int, Task], tasks: dict[int, Task], groups: dict[str, Group]) -> list[Task]:
    """The queued tasks to start now, in start order. `live` holds the tasks that are not Done."""
    counts = active_counts(live)
    queued = [t for t in live.values() if t.status == QUEUED]
    chosen = []
    for task in sorted(queued, key=lambda t: (-t.priority, t.id)):
        group = groups.get(task.group)
        if group is None or group.status != GROUP_RUNNING:
            continue
        used = counts.get(task.group, 0)
        if group.parallel and used >= group.parallel:
            continue
        if not dependencies_met(task, tasks):
            continue
        counts[task.group] = used + 1
        chosen.append(task)
    return chosen


def dependency_failures(live: dict[int, Task], tasks: dict[int, Task], groups: dict[str, Group]) -> list[Task]:
    """Queued tasks that can never run because a dependency, at any depth, did not succeed.

    Computed to a fixpoint at once; pueue moves one level per 300 ms tick. As in pueue, dependents
    in a paused group are left alone so a fixed dependency can be restarted in place.
    """
    doomed_ids: set[int] = set()
    doomed: list[Task] = []
    changed = True
    pending = [t for t in live.values() if t.status == QUEUED and t.dependencies]

    def failed(dep_id: int) -> bool:
        if dep_id in doomed_ids:
            return True
        dep = tasks.get(dep_id)
        return dep is not None and dep.status == DONE and dep.result != SUCCESS

    while changed:
        changed = False
        for task in pending:
            if task.id in doomed_ids:
                continue
            group = groups.get(task.group)
            if group is not None and group.status == GROUP_PAUSED:
                continue
            if any(failed(dep) for dep in task.dependencies):
                doomed_ids.add(task.id)
                doomed.append(task)
                changed = True
    return doomed


def due_delayed(live: dict[int, Task], now: float) -> list[Task]:
    return [t for t in live.values() if t.status == STASHED and t.enqueue_at is not None and t.enqueue_at <= now]


def free_worker_id(task: Task, live: dict[int, Task]) -> int:
    taken = {t.worker_id for t in live.values() if t.group == task.group and t.status in ACTIVE and t.id != task.id}
    worker = 0
    while worker in taken:
        worker += 1
    return worker


__all__ = ["DEPENDENCY_FAILED", "startable", "dependency_failures", "due_delayed", "free_worker_id"]
