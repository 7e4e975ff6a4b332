"""Request handlers: one function per command, each beside the rules pueue gives it."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from runq import __version__
from runq.engine.loop import Connection
from runq.engine.queue import Queue
from runq.engine.selection import compile_message, select
from runq.errors import RunqError
from runq.model import (ACTIVE, DEFAULT_GROUP, DONE, GROUP_PAUSED, GROUP_RUNNING, LOCKED, PAUSED, QUEUED,
                        RUNNING, STASHED, SUCCESS, Group, Task)
from runq.engine.processes import parse_signal

Handler = Callable[[Queue, Connection, dict], dict | None]
LAST_PRINTABLE_TIME = 253402300800.0  # 10000-01-01T00:00:00Z
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function
    return register


def _str(request: dict, key: str, default: str | None = None, required: bool = False) -> str | None:
    value = request.get(key, default)
    if value is None:
        if required:
            raise RunqError(f"runq: request field {key!r} is required")
        return None
    if not isinstance(value, str):
        raise RunqError(f"runq: request field {key!r} must be a string")
    return value


def _int(request: dict, key: str, default: int | None = None) -> int | None:
    value = request.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RunqError(f"runq: request field {key!r} must be an integer")
    if not -(2 ** 63) <= value < 2 ** 63:
        # SQLite (state and history) stores 64-bit integers; a bigger one fails every later write.
        raise RunqError(f"runq: {key} is out of range")
    return value


def _number(request: dict, key: str) -> float | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise RunqError(f"runq: request field {key!r} must be a number")
    return float(value)


def _delay_until(request: dict) -> float | None:
    """An enqueue time pueue's JSON can print: RFC 3339 has four-digit years."""
    value = _number(request, "delay_until")
    if value is not None and not 0 <= value < LAST_PRINTABLE_TIME:
        raise RunqError("runq: the delay must end between 1970 and the year 9999")
    return value


def _ids(request: dict, key: str = "ids") -> list[int]:
    value = request.get(key) or []
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise RunqError(f"runq: request field {key!r} must be a list of task ids")
    return value


def _env(request: dict) -> dict[str, str]:
    env = request.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise RunqError("runq: request field 'env' must map strings to strings")
    for name, value in env.items():
        # The kernel cannot pass these; posix_spawn would fail later, as an Errored task.
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise RunqError(f"runq: environment variable {name!r} cannot be passed to a process (empty name, '=' or NUL)")
    return env


def _group_name(queue: Queue, request: dict) -> str:
    group = _str(request, "group") or DEFAULT_GROUP
    if group not in queue.groups:
        # The name is the client's: verbatim in the hint only when printable (a newline or an
        # escape sequence would break the one-line error, or reach the terminal raw).
        hint = f"; create it with `runq group add {group}`" if group.isprintable() else ""
        raise RunqError(f"runq: group {group!r} does not exist{hint} (groups: {', '.join(sorted(queue.groups))})")
    return group


@handler("ping")
def ping(queue: Queue, conn: Connection, request: dict) -> dict:
    return {"ok": True, "pid": os.getpid(), "version": __version__, "root": queue.root}


def build_task(queue: Queue, request: dict) -> Task:
    command = _str(request, "command", required=True)
    assert command is not None
    if not command.strip():
        raise RunqError("runq: the command is empty")
    if "\0" in command:
        raise RunqError("runq: the command contains a NUL byte, which no process argument can hold")
    cwd = _str(request, "cwd", required=True)
    assert cwd is not None
    if not os.path.isabs(cwd):
        raise RunqError(f"runq: working directory must be absolute: {cwd}")
    if not os.path.isdir(cwd):
        raise RunqError(f"runq: working directory does not exist: {cwd}")
    group = _group_name(queue, request)
    after = _ids(request, "after")
    missing = [i for i in after if i not in queue.tasks]
    if missing:
        raise RunqError(f"runq: unable to set up dependencies: task(s) {', '.join(map(str, missing))} not found")
    timeout = _number(request, "timeout")
    if timeout is not None and timeout <= 0:
        raise RunqError("runq: timeout must be a positive number of seconds")
    retries = _int(request, "retries", 0) or 0
    if retries < 0:
        raise RunqError("runq: retries must not be negative")
    label = _str(request, "label")
    meta = {key: _str(request, key) for key in ("session_id", "tool_use_id", "prompt_id", "agent_id", "dag_run", "dag_task")}
    return queue.new_task(
        command=command, original_command=_str(request, "original_command") or command, path=cwd,
        envs=queue.store.intern_env(_env(request)), group=group, created_at=time.time(), dependencies=sorted(set(after)),
        priority=_int(request, "priority", 0) or 0, label=label, origin=_str(request, "origin") or "cli",
        timeout=timeout, retries=retries, **meta,
    )


@handler("add")
def add(queue: Queue, conn: Connection, request: dict) -> dict:
    delay_until = _delay_until(request)  # checked first: a refused add must not use up an id
    task = build_task(queue, request)
    now = time.time()
    if request.get("stashed") or delay_until is not None:
        task.status, task.enqueue_at = STASHED, delay_until
    else:
        task.status, task.enqueued_at = QUEUED, now
    queue.add(task)
    if request.get("immediate"):
        queue.start(task)
    group_paused = queue.groups[task.group].status == GROUP_PAUSED
    return {"ok": True, "id": task.id, "task": task.to_dict(with_env=False), "group_paused": group_paused}


@handler("status")
def status(queue: Queue, conn: Connection, request: dict) -> dict:
    group = _str(request, "group")
    tasks = sorted(queue.tasks.values(), key=lambda t: t.id)
    if group is not None:
        tasks = [t for t in tasks if t.group == group]
    return {"ok": True, "tasks": [t.to_dict(with_env=False) for t in tasks],
            "groups": {name: g.to_dict() for name, g in sorted(queue.groups.items())}}


@handler("log_info")
def log_info(queue: Queue, conn: Connection, request: dict) -> dict:
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": _ids(request)})
    return {"ok": True, "tasks": [t.to_dict(with_env=False) for t in found], "missing": missing}


@handler("kill")
def kill(queue: Queue, conn: Connection, request: dict) -> dict:
    try:
        sig = parse_signal(_str(request, "signal") or "KILL")
    except ValueError as exc:
        raise RunqError(f"runq: {exc}") from None
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": _ids(request)})
    killed = [t.id for t in found if queue.kill(t, sig)]
    not_running = [t.id for t in found if t.id not in killed]
    if not request.get("ids"):
        _pause_groups_with_waiting_work(queue, request)
        if not killed:
            return {"ok": True, "message": "No running tasks to kill."}
        return {"ok": True, "message": f"Tasks are being killed: {', '.join(map(str, killed))}"}
    return compile_message("Tasks are being killed", killed, missing + not_running)


def _pause_groups_with_waiting_work(queue: Queue, request: dict) -> None:
    # pueue 3.3+: killing a whole group pauses it when queued work remains, so the queue does
    # not immediately start the next task of a batch the user just stopped.
    names = list(queue.groups) if request.get("all") else [request.get("group") or DEFAULT_GROUP]
    changed = []
    for name in names:
        waiting = any(t.group == name and (t.status == QUEUED or (t.status == STASHED and t.enqueue_at))
                      for t in queue.tasks.values())
        if waiting and queue.groups[name].status != GROUP_PAUSED:
            queue.groups[name].status = GROUP_PAUSED
            changed.append(queue.groups[name])
    if changed:
        queue.save(groups=tuple(changed))


def _still_needed(queue: Queue, leaving: set[int]) -> set[int]:
    """Ids some staying, unfinished task depends on: those must stay too (one pass, not one per id)."""
    return {dep for t in queue.tasks.values() if t.dependencies and t.status != DONE and t.id not in leaving
            for dep in t.dependencies}


@handler("remove")
def remove(queue: Queue, conn: Connection, request: dict) -> dict:
    ids = _ids(request)
    if not ids:
        raise RunqError("runq: remove needs task ids")
    found, missing = select(queue.tasks, queue.groups, {"ids": ids})
    leaving = {t.id for t in found if t.status in (QUEUED, STASHED, DONE, LOCKED)}
    needed = _still_needed(queue, leaving)
    removed = [t.id for t in found if t.id in leaving and t.id not in needed]
    refused = missing + [t.id for t in found if t.id not in removed]
    _delete(queue, removed)
    return compile_message("Tasks removed from list", removed, refused)


def _delete(queue: Queue, ids: list[int]) -> None:
    if not ids:
        return
    for task_id in ids:
        task = queue.tasks.pop(task_id)
        queue.remove_logs(task_id)
        queue.notify(task, "Removed")
    queue.save(deleted=tuple(ids))
    queue.store.prune_envs()


@handler("clean")
def clean(queue: Queue, conn: Connection, request: dict) -> dict:
    group = _str(request, "group")
    if group is not None and group not in queue.groups:
        raise RunqError(f"runq: group {group!r} does not exist")
    done = [t for t in queue.tasks.values() if t.status == DONE and (group is None or t.group == group)
            and (not request.get("successful_only") or t.result == SUCCESS)]
    leaving = {t.id for t in done}
    needed = _still_needed(queue, leaving)
    removed = sorted(t.id for t in done if t.id not in needed)
    _delete(queue, removed)
    message = "All finished tasks have been removed" if group is None else f"All finished tasks have been removed from group {group}"
    return {"ok": True, "message": message, "removed": removed}


@handler("restart")
def restart(queue: Queue, conn: Connection, request: dict) -> dict:
    if request.get("all_failed") or request.get("failed_in_group"):
        group = _str(request, "failed_in_group")
        found = [t for t in sorted(queue.tasks.values(), key=lambda t: t.id)
                 if t.status == DONE and t.result != SUCCESS and (group is None or t.group == group)]
        missing: list[int] = []
    else:
        ids = _ids(request)
        if not ids:
            raise RunqError("runq: restart needs task ids, --all-failed or --failed-in-group")
        found, missing = select(queue.tasks, queue.groups, {"ids": ids})
    done = [t for t in found if t.status == DONE]
    refused = missing + [t.id for t in found if t.status != DONE]
    new_ids = []
    for old in done:
        if request.get("in_place"):
            _restart_in_place(queue, old, bool(request.get("stashed")))
            new_ids.append(old.id)
            continue
        task = queue.new_task(command=old.command, original_command=old.original_command, path=old.path,
                              envs=old.envs, group=old.group if old.group in queue.groups else DEFAULT_GROUP,
                              created_at=time.time(), priority=old.priority, label=old.label, origin=old.origin,
                              timeout=old.timeout, retries=old.retries)
        if request.get("stashed"):
            task.status = STASHED
        else:
            task.status, task.enqueued_at = QUEUED, time.time()
        queue.add(task)
        new_ids.append(task.id)
        if request.get("immediate"):
            queue.start(task)
    reply = compile_message("Restarted tasks", [t.id for t in done], refused)
    reply["new_ids"] = new_ids
    return reply


def _restart_in_place(queue: Queue, task: Task, stashed: bool) -> None:
    previous = task.status
    task.status = STASHED if stashed else QUEUED
    task.enqueued_at = None if stashed else time.time()
    task.enqueue_at = None
    task.start = task.end = task.result = task.exit_code = task.signal = task.spawn_error = None
    task.attempt = 1
    queue.save(task)
    queue.notify(task, previous)


@handler("pause")
def pause(queue: Queue, conn: Connection, request: dict) -> dict:
    ids = _ids(request)
    if ids:
        found, missing = select(queue.tasks, queue.groups, {"ids": ids})
        running = [t for t in found if t.status == RUNNING]  # as pueue: only running tasks pause
        refused = missing + [t.id for t in found if t.status != RUNNING]
        for task in running:
            queue.pause_task(task)
        return compile_message("Tasks are being paused", [t.id for t in running], refused)
    names = _group_targets(queue, request)
    for name in names:
        queue.groups[name].status = GROUP_PAUSED
        if not request.get("wait"):
            for task in [t for t in queue.tasks.values() if t.group == name and t.status == RUNNING]:
                queue.pause_task(task)
    queue.save(groups=tuple(queue.groups[n] for n in names))
    return {"ok": True, "message": _group_message("paused", request, names)}


@handler("start")
def start(queue: Queue, conn: Connection, request: dict) -> dict:
    ids = _ids(request)
    if ids:
        found, missing = select(queue.tasks, queue.groups, {"ids": ids})
        started = []
        for task in found:
            if task.status == PAUSED:
                queue.resume_task(task)
            elif task.status in (QUEUED, STASHED, LOCKED):
                queue.start(task)
            else:
                missing.append(task.id)
                continue
            started.append(task.id)
        return compile_message("Tasks are being started", started, missing)
    names = _group_targets(queue, request)
    for name in names:
        queue.groups[name].status = GROUP_RUNNING
        for task in [t for t in queue.tasks.values() if t.group == name and t.status == PAUSED]:
            queue.resume_task(task)
    queue.save(groups=tuple(queue.groups[n] for n in names))
    return {"ok": True, "message": _group_message("resumed", request, names)}


def _group_targets(queue: Queue, request: dict) -> list[str]:
    if request.get("all"):
        return sorted(queue.groups)
    return [_group_name(queue, request)]


def _group_message(verb: str, request: dict, names: list[str]) -> str:
    if request.get("all"):
        return f"All queues are being {verb}."
    return f"Group \"{names[0]}\" is being {verb}."


@handler("stash")
def stash(queue: Queue, conn: Connection, request: dict) -> dict:
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": _ids(request)})
    delay = _delay_until(request)
    stashed = []
    for task in found:
        if task.status in (QUEUED, LOCKED):
            queue.set_status(task, STASHED, enqueue_at=delay)
            stashed.append(task.id)
        elif request.get("ids"):
            missing.append(task.id)
    return _bulk_reply(request, "Tasks are stashed", stashed, missing, "No tasks to stash.")


@handler("enqueue")
def enqueue(queue: Queue, conn: Connection, request: dict) -> dict:
    found, missing = select(queue.tasks, queue.groups, {**request, "ids": _ids(request)})
    delay = _delay_until(request)
    enqueued = []
    for task in found:
        if task.status in (STASHED, LOCKED):
            if delay is not None:
                queue.set_status(task, STASHED, enqueue_at=delay)
            else:
                queue.set_status(task, QUEUED, enqueued_at=time.time(), enqueue_at=None)
            enqueued.append(task.id)
        elif request.get("ids"):
            missing.append(task.id)
    return _bulk_reply(request, "Tasks are enqueued", enqueued, missing, "No stashed tasks to enqueue.")


def _bulk_reply(request: dict, action: str, done: list[int], missing: list[int], nothing: str) -> dict:
    """Named ids get pueue's per-task message; a group or -a selection just says what happened."""
    if request.get("ids"):
        return compile_message(action, done, missing)
    return {"ok": True, "message": f"{action}: {', '.join(map(str, done))}" if done else nothing}


@handler("groups")
def groups(queue: Queue, conn: Connection, request: dict) -> dict:
    return {"ok": True, "groups": {name: g.to_dict() for name, g in sorted(queue.groups.items())}}


def _valid_group_name(name: str | None) -> str:
    if not name or not name.strip() or any(ord(c) < 32 for c in name) or len(name) > 200:
        raise RunqError("runq: group names must be 1-200 printable characters")
    return name


@handler("group_add")
def group_add(queue: Queue, conn: Connection, request: dict) -> dict:
    name = _valid_group_name(_str(request, "name", required=True))
    parallel = _int(request, "parallel", 1)
    if parallel is None or parallel < 0:
        raise RunqError("runq: parallel must be 0 (unlimited) or more")
    if name in queue.groups:
        raise RunqError(f"runq: group {name!r} already exists")
    group = Group(name, parallel)
    queue.groups[name] = group
    queue.save(groups=(group,))
    return {"ok": True, "message": f"New group \"{name}\" was added"}


@handler("group_remove")
def group_remove(queue: Queue, conn: Connection, request: dict) -> dict:
    name = _str(request, "name", required=True)
    if name == DEFAULT_GROUP:
        raise RunqError("runq: the default group cannot be removed")
    if name not in queue.groups:
        raise RunqError(f"runq: group {name!r} does not exist")
    if any(t.group == name for t in queue.tasks.values()):
        raise RunqError(f"runq: group {name!r} still has tasks; remove or clean them first")
    del queue.groups[name]
    queue.save(deleted_groups=(name,))
    return {"ok": True, "message": f"Group \"{name}\" removed"}


@handler("parallel")
def parallel(queue: Queue, conn: Connection, request: dict) -> dict:
    name = _group_name(queue, request)
    value = _int(request, "parallel")
    if value is None or value < 0:
        raise RunqError("runq: parallel must be 0 (unlimited) or more")
    queue.groups[name].parallel = value
    queue.save(groups=(queue.groups[name],))
    return {"ok": True, "message": f"Parallel tasks setting for group \"{name}\" adjusted"}


@handler("reset")
def reset(queue: Queue, conn: Connection, request: dict) -> dict:
    names = request.get("groups") or sorted(queue.groups)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RunqError("runq: groups must be a list of group names")
    unknown = [n for n in names if n not in queue.groups]
    if unknown:
        raise RunqError(f"runq: group(s) do not exist: {', '.join(unknown)}")
    doomed = [t for t in queue.tasks.values() if t.group in names]
    for task in doomed:
        if task.status in ACTIVE:
            queue.kill(task, signal.SIGKILL)
            queue.forget_running(task)
    for name in names:
        queue.groups[name].status = GROUP_RUNNING
    _delete(queue, sorted(t.id for t in doomed))
    queue.save(groups=tuple(queue.groups[n] for n in names))
    return {"ok": True, "message": "Everything is being reset right now."}
