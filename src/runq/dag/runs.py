"""Run ids, and what the history says about earlier runs of the same file (for --rerun-failed).

A run id is `<file key>.<epoch ms>.<kind>`: the key (a hash of the file's real path) finds every
run of one file with a prefix match, the stamp orders them, and the kind says whether the run
submitted the whole file ("all") or only what an earlier run left undone ("rerun").

The history only holds tasks that ended; tasks a cancelled run removed before they started leave
no row. So "what is left to do" is computed over the chain that starts at the latest full run:
a task counts as done when its newest final attempt in that chain succeeded, and every other task
of the file (failed, cancelled, never submitted) runs again.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from runq import paths

FULL = "all"
RERUN = "rerun"


def file_key(path: str) -> str:
    return hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def new_run_id(path: str, kind: str) -> str:
    return f"{file_key(path)}.{time.time_ns() // 1_000_000}.{kind}"


@dataclass(frozen=True)
class PreviousRuns:
    run_ids: tuple[str, ...]  # the chain, oldest first: a full run and the reruns after it
    succeeded: frozenset[str]  # task names whose newest final attempt in the chain succeeded


def previous_runs(root: str, path: str) -> PreviousRuns | None:
    """The chain of runs of `path` that --rerun-failed continues, or None if it never ran."""
    rows = _final_attempts(root, file_key(path))
    chain = _chain(sorted({row[0] for row in rows}, key=_stamp))
    if not chain:
        return None
    newest: dict[str, tuple[int, int, str]] = {}
    members = set(chain)
    for run_id, task, attempt, result in rows:
        if run_id not in members or task is None:
            continue
        key = (_stamp(run_id), attempt or 0, result)
        if task not in newest or key[:2] >= newest[task][:2]:
            newest[task] = key
    succeeded = frozenset(task for task, (_, _, result) in newest.items() if result == "Success")
    return PreviousRuns(tuple(chain), succeeded)


def _chain(run_ids: list[str]) -> list[str]:
    fulls = [i for i, run_id in enumerate(run_ids) if run_id.endswith("." + FULL)]
    return run_ids[fulls[-1]:] if fulls else run_ids


def _stamp(run_id: str) -> int:
    parts = run_id.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def _final_attempts(root: str, key: str) -> list[tuple[str, str | None, int | None, str]]:
    from runq.telemetry.reader import history_errors, open_for_reading

    path = paths.history_db(root)
    db = open_for_reading(path)
    try:
        with history_errors(path):
            # The key is hex, so it holds no LIKE wildcard.
            cursor = db.execute("SELECT dag_run, dag_task, attempt, result FROM attempts "
                                "WHERE dag_run LIKE ? AND final = 1", (key + ".%",))
            return [(str(r[0]), r[1], r[2], str(r[3])) for r in cursor]
    finally:
        db.close()
