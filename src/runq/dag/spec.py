"""A DAG file once validated: frozen records, nothing of the daemon in them."""
from __future__ import annotations

from dataclasses import dataclass, field

from runq.errors import EXIT_USAGE, RunqError


class DagInvalid(RunqError):
    """The file has problems; the message is one line per problem and nothing was queued."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class GroupSpec:
    name: str
    parallel: int | None  # None: keep the daemon's limit (1 for a group runq creates)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    command: str
    cwd: str  # absolute
    group: str
    label: str
    after: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    retries: int = 0
    priority: int = 0


@dataclass(frozen=True)
class Dag:
    path: str  # absolute, as runs of the same file are found by it
    shown: str  # the path as the user wrote it, for messages
    groups: tuple[GroupSpec, ...]
    tasks: tuple[TaskSpec, ...]  # file order

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.tasks if t.name == name)
