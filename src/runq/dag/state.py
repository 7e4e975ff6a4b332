"""What the runner knows of its tasks, updated from the daemon's task records.

Each change becomes at most one Event for the view. Pure: no IO, no clock, so the rules are
tested with plain records.
"""
from __future__ import annotations

from dataclasses import dataclass

from runq.model import DONE, LOCKED, PAUSED, QUEUED, RUNNING, STASHED, SUCCESS

CANCELLED = "Cancelled"
TIMED_OUT = "TimedOut"
WAITING = (QUEUED, STASHED, LOCKED)

STARTED = "started"
RETRYING = "retrying"
FINISHED = "finished"
REMOVED = "cancelled"


@dataclass(frozen=True)
class Event:
    kind: str  # STARTED, RETRYING, FINISHED or REMOVED
    name: str
    record: dict


def outcome(record: dict) -> str:
    """A finished task's result as the summary names it: TimedOut apart, as history records it
    (whatever the task did with the SIGTERM, its time ran out)."""
    if record.get("timed_out"):
        return TIMED_OUT
    return str(record.get("result"))


class RunState:
    def __init__(self, ids: dict[str, int], records: dict[int, dict]) -> None:
        self.names = {task_id: name for name, task_id in ids.items()}
        self.records = dict(records)
        self.cancelled: set[int] = set()
        self.first_failure: str | None = None

    @property
    def total(self) -> int:
        return len(self.names)

    def apply(self, record: dict, removed: bool = False) -> Event | None:
        task_id = record["id"]
        name = self.names.get(task_id)
        if name is None or task_id in self.cancelled:
            return None
        before = self.records.get(task_id, {})
        self.records[task_id] = record
        if removed:
            self.cancelled.add(task_id)
            return Event(REMOVED, name, record)
        status = record["status"]
        if status == DONE and before.get("status") != DONE:
            if outcome(record) != SUCCESS and self.first_failure is None:
                self.first_failure = name
            return Event(FINISHED, name, record)
        if status == RUNNING and before.get("status") not in (RUNNING, PAUSED):
            return Event(STARTED, name, record)
        if status == STASHED and record.get("attempt", 1) > before.get("attempt", 1):
            return Event(RETRYING, name, record)
        return None

    def is_finished(self, task_id: int) -> bool:
        return task_id in self.cancelled or self.records.get(task_id, {}).get("status") == DONE

    def all_finished(self) -> bool:
        return all(self.is_finished(task_id) for task_id in self.names)

    def finished_count(self) -> int:
        return sum(1 for task_id in self.names if self.is_finished(task_id))

    def running(self) -> list[tuple[str, dict]]:
        return [(self.names[i], r) for i, r in self.records.items()
                if i in self.names and i not in self.cancelled and r["status"] in (RUNNING, PAUSED)]

    def waiting_ids(self) -> list[int]:
        return [i for i in self.names if not self.is_finished(i) and self.records.get(i, {}).get("status") in WAITING]

    def unfinished_ids(self) -> list[int]:
        return [i for i in self.names if not self.is_finished(i)]

    def result_of(self, task_id: int) -> str | None:
        if task_id in self.cancelled:
            return CANCELLED
        record = self.records.get(task_id, {})
        return outcome(record) if record.get("status") == DONE else None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for task_id in self.names:
            result = self.result_of(task_id)
            if result is not None:
                counts[result] = counts.get(result, 0) + 1
        return counts

    def failed_count(self) -> int:
        return sum(n for result, n in self.counts().items() if result not in (SUCCESS, CANCELLED))
