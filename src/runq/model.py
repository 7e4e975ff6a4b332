"""Task, group and their states: plain records shared by the daemon and clients (stdlib only)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Task states (pueue 4's TaskStatus variants).
LOCKED = "Locked"
STASHED = "Stashed"
QUEUED = "Queued"
RUNNING = "Running"
PAUSED = "Paused"
DONE = "Done"

# Results of a Done task (pueue 4's TaskResult variants).
SUCCESS = "Success"
FAILED = "Failed"
FAILED_TO_SPAWN = "FailedToSpawn"
KILLED = "Killed"
ERRORED = "Errored"
DEPENDENCY_FAILED = "DependencyFailed"
RESULTS = (SUCCESS, FAILED, FAILED_TO_SPAWN, KILLED, ERRORED, DEPENDENCY_FAILED)

# Group states.
GROUP_RUNNING = "Running"
GROUP_PAUSED = "Paused"
GROUP_RESET = "Reset"

DEFAULT_GROUP = "default"
ACTIVE = (RUNNING, PAUSED)


@dataclass(slots=True)
class Task:
    id: int
    command: str
    path: str
    envs: dict[str, str]
    group: str = DEFAULT_GROUP
    original_command: str = ""
    created_at: float = 0.0
    dependencies: list[int] = field(default_factory=list)
    priority: int = 0
    label: str | None = None
    status: str = QUEUED
    enqueue_at: float | None = None  # a delayed Stashed task becomes Queued at this time
    enqueued_at: float | None = None
    start: float | None = None
    end: float | None = None
    result: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    spawn_error: str | None = None
    previous_status: str | None = None  # for Locked
    origin: str = "cli"
    session_id: str | None = None
    tool_use_id: str | None = None
    prompt_id: str | None = None
    agent_id: str | None = None
    dag_run: str | None = None
    dag_task: str | None = None
    timeout: float | None = None
    retries: int = 0
    attempt: int = 1
    timed_out: bool = False
    worker_id: int | None = None
    # process bookkeeping: the shim (supervisor) pid, its start time to detect pid reuse, and the
    # task's process group id.
    shim_pid: int | None = None
    shim_start: int | None = None
    pgid: int | None = None
    user_cpu: float | None = None
    sys_cpu: float | None = None
    max_rss_kb: int | None = None
    stdout_bytes: int | None = None
    stderr_bytes: int | None = None

    def to_dict(self, with_env: bool = True) -> dict[str, Any]:
        # A shallow copy: asdict() deep-copies the environment and costs milliseconds per task.
        data = {name: getattr(self, name) for name in TASK_FIELDS}
        data["dependencies"] = list(self.dependencies)
        if with_env:
            data["envs"] = dict(self.envs)
        else:
            del data["envs"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def is_done(self) -> bool:
        return self.status == DONE

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


TASK_FIELDS = tuple(f.name for f in fields(Task))


@dataclass(slots=True)
class Group:
    name: str
    parallel: int = 1  # 0 = unlimited
    status: str = GROUP_RUNNING

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "parallel_tasks": self.parallel}
