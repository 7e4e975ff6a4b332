"""Handlers that answer over time: wait, watch, run, and the raw pueue status stream.

Each subscribes to the queue's change notifications, so a waiting client hears of a task's end
in the same loop iteration that records it: no polling on either side.
"""
from __future__ import annotations

import signal
import time

from runq.engine import pueue_json
from runq.engine.handlers import _group_name, _ids, _str, build_task, handler
from runq.engine.loop import Connection
from runq.engine.queue import Queue
from runq.engine.selection import select
from runq.errors import RunqError
from runq.model import ACTIVE, DEFAULT_GROUP, DONE, KILLED, PAUSED, QUEUED, RUNNING, SUCCESS, Task
from runq.engine.processes import parse_signal
from runq.protocol import wire

WAIT_TARGETS = {
    "done": (DONE,),
    "success": (DONE,),
    "queued": (QUEUED, RUNNING, PAUSED, DONE),
    "running": (RUNNING, DONE),
}


def subscribe(queue: Queue, conn: Connection, callback) -> None:  # type: ignore[no-untyped-def]
    queue.subscribers.add(callback)
    conn.cleanups.append(lambda: queue.subscribers.discard(callback))


@handler("wait")
def wait(queue: Queue, conn: Connection, request: dict) -> None:
    target = (_str(request, "target") or "done").lower()
    if target not in WAIT_TARGETS:
        raise RunqError(f"runq: unknown wait status {target!r} (use done, success, queued or running)")
    ids = _ids(request)
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": ids})
    if missing:
        raise RunqError(f"runq: task(s) not found: {', '.join(map(str, missing))}")
    group = None if ids or request.get("all") else (_str(request, "group") or DEFAULT_GROUP)
    watched = {t.id: t.status for t in found}
    if not watched:
        conn.send({"ok": True, "done": True, "empty": True, "tasks": []})
        return
    satisfied = WAIT_TARGETS[target]
    # quiet: the caller wants the outcome only (`wait -q`), so no task is rendered per change
    quiet = bool(request.get("quiet"))
    conn.send({"ok": True, "event": "start", "tasks": [] if quiet else [t.to_dict(with_env=False) for t in found]})
    # Kept up to date on each change, so a wait on thousands of tasks costs O(1) per event.
    unsatisfied = {t.id for t in found if t.status not in satisfied}

    def finished() -> bool:
        return not unsatisfied

    def final(failed: Task | None = None) -> None:
        queue.subscribers.discard(on_change)
        tasks = [] if quiet else [queue.tasks[i].to_dict(with_env=False) for i in sorted(watched) if i in queue.tasks]
        conn.send({"ok": True, "done": True, "tasks": tasks, "failed": failed.id if failed else None})

    def on_change(task: Task, previous: str | None) -> None:
        selected = task.id in watched or (not ids and (request.get("all") or task.group == group) and previous is None)
        if not selected:
            return
        if previous == "Removed":
            watched.pop(task.id, None)
            unsatisfied.discard(task.id)
        else:
            watched[task.id] = task.status
            if task.status in satisfied:
                unsatisfied.discard(task.id)
            else:
                unsatisfied.add(task.id)
        if not quiet:
            conn.send({"ok": True, "event": "task", "task": task.to_dict(with_env=False), "previous": previous})
        if target == "success" and task.status == DONE and task.result != SUCCESS:
            final(task)
        elif finished():
            final()

    subscribe(queue, conn, on_change)
    if target == "success":
        bad = next((t for t in found if t.status == DONE and t.result != SUCCESS), None)
        if bad is not None:
            final(bad)
            return
    if finished():
        final()


@handler("watch")
def watch(queue: Queue, conn: Connection, request: dict) -> None:
    ids = set(_ids(request))
    tasks = [t.to_dict(with_env=False) for t in sorted(queue.tasks.values(), key=lambda t: t.id) if not ids or t.id in ids]
    conn.send({"ok": True, "event": "snapshot", "tasks": tasks})

    def on_change(task: Task, previous: str | None) -> None:
        if not ids or task.id in ids:
            conn.send({"ok": True, "event": "task", "task": task.to_dict(with_env=False), "previous": previous})

    subscribe(queue, conn, on_change)


@handler("run")
def run(queue: Queue, conn: Connection, request: dict) -> None:
    fds = conn.take_fds(3)
    if fds is None:
        raise RunqError("runq: run needs the caller's stdin, stdout and stderr passed with the request")
    request = {**request, "origin": request.get("origin") or "run"}
    try:
        task = build_task(queue, request)
    except RunqError:
        queue.close_fds(fds)
        raise
    queue_for_slot = request.get("group") is not None
    task.status, task.enqueued_at = QUEUED, time.time()
    queue.caller_fds[task.id] = (tuple(fds), request.get("stdio") == "same")  # type: ignore[assignment]
    umask = request.get("umask")
    if isinstance(umask, int) and not isinstance(umask, bool) and 0 <= umask <= 0o777:
        queue.caller_umask[task.id] = umask  # the caller's, not the daemon's private 077
    conn.run_task = task.id
    detach = bool(request.get("detach"))

    def on_change(current: Task, previous: str | None) -> None:
        if current.id != task.id:
            return
        if current.status == RUNNING and previous != PAUSED:
            conn.send({"ok": True, "event": "started", "id": current.id, "attempt": current.attempt})
        elif current.status == DONE and current.id not in queue.caller_fds:
            queue.subscribers.discard(on_change)
            conn.send({"ok": True, "done": True, "id": current.id, "result": current.result,
                       "exit_code": current.exit_code, "signal": current.signal,
                       "timed_out": current.timed_out, "error": current.spawn_error})

    def on_disconnect() -> None:
        current = queue.tasks.get(task.id)
        if current is None or detach:
            return
        if current.status in ACTIVE:
            queue.user_killed.add(current.id)
            queue.terminate(current)
        elif current.status != DONE:
            queue.finish_without_running(current, KILLED)

    subscribe(queue, conn, on_change)
    conn.cleanups.append(on_disconnect)
    queue.add(task)
    if not queue_for_slot:
        queue.start(task)


def signal_running(queue: Queue, conn: Connection, request: dict) -> None:
    """A `run` client forwards the signals it receives (Ctrl-C, TERM, HUP) to its task's group."""
    task_id = getattr(conn, "run_task", None)
    if task_id is None and isinstance(request.get("id"), int):
        task_id = request["id"]  # a `run` client that reattached after a daemon crash names its task
    task = queue.tasks.get(task_id) if task_id is not None else None
    if task is None:
        return
    try:
        sig = parse_signal(str(request.get("signal")))
    except ValueError:
        return
    if task.status in ACTIVE:
        queue.kill(task, sig)
    elif task.status != DONE and sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        task.signal = sig  # so the caller exits 128+N (130 for Ctrl-C), as if it had reached the task
        queue.finish_without_running(task, KILLED)


@handler("status_pueue")
def status_pueue(queue: Queue, conn: Connection, request: dict) -> None:
    group = _str(request, "group")
    if group is not None:
        _group_name(queue, {"group": group})
    raw_env = bool(request.get("raw_env"))
    parts = [b'{"tasks":{']
    first = True
    for task in sorted(queue.tasks.values(), key=lambda t: t.id):
        if group is None or task.group == group:
            parts.append(b'"%d":' % task.id if first else b',"%d":' % task.id)
            parts.append(queue.task_json(task, raw_env))
            first = False
    parts.append(b'},"groups":' + pueue_json.dumps(pueue_json.groups_object(queue.groups)).encode() + b"}\n")
    conn.send({"ok": True, "raw": True})
    conn.widen_send_buffer()
    # Raw frames of at most RAW_CHUNK bytes (a single fragment may exceed it): joining a frame's
    # fragments costs one memcpy; sending thousands of small buffers costs far more.
    batch: list[bytes] = []
    size = 0
    for part in parts:
        if size + len(part) > wire.RAW_CHUNK and batch:
            _send_raw_frame(conn, b"".join(batch))
            batch, size = [], 0
        batch.append(part)
        size += len(part)
    if batch:
        _send_raw_frame(conn, b"".join(batch))
    conn.send_bytes(wire.frame(b""))


@handler("log_pueue")
def log_pueue_tasks(queue: Queue, conn: Connection, request: dict) -> dict:
    """Task objects for `log --json` in pueue's shape (envs blanked, as pueue does)."""
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": _ids(request)})
    return {"ok": True, "missing": missing,
            "tasks": [[t.id, pueue_json.task_object(t, {}, queue.log_path(t.id)), t.status] for t in found]}


def _send_raw_frame(conn: Connection, body: bytes) -> None:
    # Header and body go out as two buffers: prefixing would copy megabytes once more.
    conn.send_bytes(len(body).to_bytes(wire.HEADER, "big"), body)
