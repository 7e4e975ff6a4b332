"""Which tasks a run submits, in which order (pure)."""
from __future__ import annotations

from dataclasses import dataclass

from runq.dag import graph
from runq.dag.runs import PreviousRuns
from runq.dag.spec import Dag, TaskSpec


@dataclass(frozen=True)
class Plan:
    order: tuple[TaskSpec, ...]  # dependencies first; `after` keeps only names inside the plan
    skipped: tuple[str, ...]  # succeeded in an earlier run (--rerun-failed)


def plan_run(dag: Dag, previous: PreviousRuns | None = None) -> Plan:
    """Every task, or with `previous` only those it did not see succeed (failed, cancelled, never ran).

    A task whose dependency succeeded earlier no longer waits for it: that dependency's output
    is already there, which is the point of re-running only what failed.
    """
    done = previous.succeeded if previous is not None else frozenset()
    todo = {t.name: t for t in dag.tasks if t.name not in done}
    deps = {name: [d for d in task.after if d in todo] for name, task in todo.items()}
    order = tuple(_with_after(todo[name], tuple(deps[name])) for name in graph.topological_order(deps))
    skipped = tuple(t.name for t in dag.tasks if t.name in done)
    return Plan(order, skipped)


def _with_after(task: TaskSpec, after: tuple[str, ...]) -> TaskSpec:
    if after == task.after:
        return task
    from dataclasses import replace

    return replace(task, after=after)
