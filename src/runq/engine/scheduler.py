"""Pure scheduling rules (no clock, no IO): which queued tasks start, which fail by dependency.

Same rules as pueue 4: candidates are Queued tasks of Running groups with a free slot (0 means
unlimited; paused tasks keep their slot), whose dependencies that still exist all succeeded,
ordered by priority (high first) then id.
"""
from __future__ import annotations

import heapq

from runq.engine.index import TaskIndex
from runq.model import ACTIVE, DEPENDENCY_FAILED, DONE, GROUP_PAUSED, GROUP_RUNNING, SUCCESS, Group, Task


def dependencies_met(task: Task, tasks: dict[int, Task]) -> bool:
    for dep_id in task.dependencies:
        dep = tasks.get(dep_id)
        if dep is not None and not (dep.status == DONE and dep.result == SUCCESS):
            return False
    return True


def active_counts(active: dict[int, Task]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in active.values():
        counts[task.group] = counts.get(task.group, 0) + 1
    return counts


def _has_room(group: Group | None, used: int) -> bool:
    return group is not None and group.status == GROUP_RUNNING and (not group.parallel or used < group.parallel)


def startable(index: TaskIndex, tasks: dict[int, Task], groups: dict[str, Group]) -> list[Task]:
    """The queued tasks to start now, in start order (priority, then id, within each group)."""
    counts = active_counts(index.active)
    chosen: list[Task] = []
    for name, heap in index.waiting.items():
        group = groups.get(name)
        if not heap or not _has_room(group, counts.get(name, 0)):
            continue
        blocked = []
        while heap and _has_room(group, counts.get(name, 0)):
            entry = heapq.heappop(heap)
            task = index.queued.get(entry[1])
            if task is None or task.group != name:
                index.heaped.discard(entry[1])  # it left the queue since: a stale entry
                continue
            if not dependencies_met(task, tasks):
                blocked.append(entry)
                continue
            index.heaped.discard(task.id)
            counts[name] = counts.get(name, 0) + 1
            chosen.append(task)
        for entry in blocked:
            heapq.heappush(heap, entry)
    return sorted(chosen, key=lambda t: (-t.priority, t.id))


def dependency_failures(index: TaskIndex, tasks: dict[int, Task], groups: dict[str, Group]) -> list[Task]:
    """Queued tasks that can never run because a dependency, at any depth, did not succeed.

    Computed to a fixpoint at once; pueue moves one level per 300 ms tick. As in pueue, dependents
    in a paused group are left alone so a fixed dependency can be restarted in place.
    """
    doomed_ids: set[int] = set()
    doomed: list[Task] = []
    changed = True
    pending = [t for t in index.queued.values() if t.dependencies]

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


def due_delayed(index: TaskIndex, now: float) -> list[Task]:
    return [t for t in index.delayed.values() if t.enqueue_at is not None and t.enqueue_at <= now]


def free_worker_id(task: Task, active: dict[int, Task]) -> int:
    taken = {t.worker_id for t in active.values() if t.group == task.group and t.id != task.id}
    worker = 0
    while worker in taken:
        worker += 1
    return worker


__all__ = ["ACTIVE", "DEPENDENCY_FAILED", "startable", "dependency_failures", "due_delayed", "free_worker_id"]
