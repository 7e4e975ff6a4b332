"""Which tasks are in which state, kept up to date on every save.

Scheduling runs after every event; scanning every task each time would make each event cost
grow with the number of tasks ever kept. The index answers "queued", "active" and "delayed"
directly.
"""
from __future__ import annotations

import heapq

from runq.model import ACTIVE, DONE, QUEUED, STASHED, Task


class TaskIndex:
    def __init__(self, tasks: dict[int, Task]) -> None:
        self.live: dict[int, Task] = {}
        self.queued: dict[int, Task] = {}
        self.active: dict[int, Task] = {}
        self.delayed: dict[int, Task] = {}
        # Per group, a heap of (-priority, id) of its queued tasks, so picking the next task to
        # start costs O(log n), not a pass over every waiting task. Entries of tasks that left
        # the queue are dropped lazily when they surface; `heaped` holds ids with an entry.
        self.waiting: dict[str, list[tuple[int, int]]] = {}
        self.heaped: set[int] = set()
        for task in tasks.values():
            self.update(task)

    def update(self, task: Task) -> None:
        self.remove(task.id)
        if task.status == DONE:
            return
        self.live[task.id] = task
        if task.status == QUEUED:
            self.queued[task.id] = task
            if task.id not in self.heaped:
                heapq.heappush(self.waiting.setdefault(task.group, []), (-task.priority, task.id))
                self.heaped.add(task.id)
        elif task.status in ACTIVE:
            self.active[task.id] = task
        elif task.status == STASHED and task.enqueue_at is not None:
            self.delayed[task.id] = task

    def remove(self, task_id: int) -> None:
        for table in (self.live, self.queued, self.active, self.delayed):
            table.pop(task_id, None)
