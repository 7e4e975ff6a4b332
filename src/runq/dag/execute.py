"""One run of a validated DAG: plan, create groups, submit, follow, and collect the outcome."""
from __future__ import annotations

import sys

from runq import paths
from runq.client.connection import Connection, connect
from runq.dag import runs
from runq.dag.plan import Plan, plan_run
from runq.dag.runner import Interrupts, Runner
from runq.dag.spec import Dag
from runq.dag.state import RunState
from runq.dag.submit import Submitted, cancel, ensure_groups, submit
from runq.dag.summary import Outcome, collect
from runq.dag.view import choose_view

DEFAULT_KILL_GRACE = 5.0


def execute(dag: Dag, fail_fast: bool = False, rerun_failed: bool = False, json_output: bool = False) -> Outcome:
    with connect() as conn:
        plan, run_id = _plan(conn.root, dag, rerun_failed)
        ensure_groups(conn, dag.groups)

        def log_path(task_id: int) -> str:
            return paths.task_log(conn.root, task_id)

        view = choose_view(sys.stdout, log_path, json_output)
        interrupts = Interrupts()
        state = RunState({}, {})
        try:
            submitted = _submit(conn, plan, run_id, interrupts)
            state = RunState(submitted.ids, submitted.records)
            for group in sorted(submitted.paused_groups):
                view.note(f"group {group!r} is paused: its tasks wait until `runq start --group {group}`")
            runner = Runner(conn, state, view, interrupts, fail_fast, _kill_grace(conn.root))
            runner.follow()
        finally:
            view.close(state)
            interrupts.restore()
    unsubmitted = tuple(t.name for t in plan.order if t.name not in submitted.ids)
    rows = collect(state, log_path, unsubmitted)
    return Outcome(dag.path, run_id, rows, plan.skipped, runner.interrupted or bool(unsubmitted), runner.fail_fast_fired)


def _plan(root: str, dag: Dag, rerun_failed: bool) -> tuple[Plan, str]:
    previous = runs.previous_runs(root, dag.path) if rerun_failed else None
    if rerun_failed and previous is None:
        sys.stderr.write(f"runq: no earlier run of {dag.shown} in the history: running every task\n")
    kind = runs.RERUN if previous is not None else runs.FULL
    return plan_run(dag, previous), runs.new_run_id(dag.path, kind)


def _submit(conn: Connection, plan: Plan, run_id: str, interrupts: Interrupts) -> Submitted:
    submitted = Submitted()
    try:
        submit(conn, list(plan.order), run_id, lambda: interrupts.count > 0, submitted)
    except BaseException:
        # Leave nothing half-submitted behind: the run will not be followed.
        ids = list(submitted.ids.values())
        cancel(conn, ids, ids, "KILL")
        raise
    return submitted


def _kill_grace(root: str) -> float:
    from runq.config import load
    from runq.errors import ConfigError

    try:
        return float(load(root).get("daemon", "kill_grace"))
    except ConfigError:
        return DEFAULT_KILL_GRACE
