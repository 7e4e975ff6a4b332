"""Read a DAG file and validate all of it before anything is queued.

Every problem becomes one line naming the file and the task (or group), and all of them are
reported at once, so a user fixes a file in one pass instead of one error per run.
"""
from __future__ import annotations

import os
import tomllib
from typing import Any

from runq.client.commands._command import quote
from runq.dag import graph
from runq.dag.spec import Dag, DagInvalid, GroupSpec, TaskSpec
from runq.model import DEFAULT_GROUP

TOP_KEYS = ("groups", "tasks")
GROUP_KEYS = ("parallel",)
TASK_KEYS = ("cmd", "cwd", "group", "label", "after", "env", "timeout", "retries", "priority")
# Placeholder name for the second declaration of a duplicated table, so that the rest of the
# file still parses and its other problems are reported in the same pass.
DUPLICATE_MARK = "\x00duplicate"


def load(path: str) -> Dag:
    """The validated DAG in `path`, or DagInvalid listing every problem."""
    shown = path
    problems = Problems(shown)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DagInvalid([f"{shown}: cannot read the file: {exc.strerror}"]) from None
    data = _parse_toml(raw, problems)
    if data is None:
        raise DagInvalid(problems.lines)
    folder = os.path.dirname(os.path.abspath(path))
    dag = _build(data, folder, problems, path)
    if problems.lines:
        raise DagInvalid(problems.lines)
    assert dag is not None
    return dag


class Problems:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.lines: list[str] = []

    def add(self, message: str, task: str | None = None, group: str | None = None, line: int | None = None) -> None:
        where = f"{self.shown}:{line}" if line else self.shown
        if task is not None:
            where += f": task {task!r}"
        elif group is not None:
            where += f": group {group!r}"
        self.lines.append(f"{where}: {message}")


def _parse_toml(raw: bytes, problems: Problems) -> dict[str, Any] | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as first_error:
        from runq.dag.duplicates import rename_duplicates

        renamed, duplicates = rename_duplicates(text, DUPLICATE_MARK)
        for kind, name, line, first_line in duplicates:
            problems.add(f"duplicate {kind} name (first declared on line {first_line})",
                         task=name if kind == "task" else None, group=name if kind == "group" else None, line=line)
        if not duplicates:
            problems.add(f"invalid TOML: {first_error}")
            return None
        try:
            return tomllib.loads(renamed)
        except tomllib.TOMLDecodeError as exc:
            problems.add(f"invalid TOML: {exc}")
            return None


def _build(data: dict[str, Any], folder: str, problems: Problems, path: str) -> Dag | None:
    for key in data:
        if key not in TOP_KEYS:
            problems.add(f"unknown top-level key {key!r} (expected [groups.NAME] and [tasks.NAME] tables)")
    groups = _groups(_table(data, "groups", problems), problems)
    raw_tasks = _table(data, "tasks", problems)
    if not raw_tasks and not problems.lines:
        problems.add("no tasks (add a [tasks.NAME] table with cmd = \"...\")")
    known_groups = {g.name for g in groups} | {DEFAULT_GROUP}
    tasks = [task for name, table in raw_tasks.items() if not name.startswith(DUPLICATE_MARK)
             if (task := _task(name, table, folder, known_groups, set(raw_tasks), problems)) is not None]
    _check_cycles(raw_tasks, problems)
    return Dag(os.path.abspath(path), path, tuple(groups), tuple(tasks))


def _table(data: dict[str, Any], key: str, problems: Problems) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.add(f"{key!r} must be a table of tables ([{key}.NAME]), not {_kind(value)}")
        return {}
    return value


def _groups(raw: dict[str, Any], problems: Problems) -> list[GroupSpec]:
    groups = []
    for name, table in raw.items():
        if name.startswith(DUPLICATE_MARK):
            continue
        if not isinstance(table, dict):
            problems.add(f"must be a table ([groups.{name}] with parallel = N), not {_kind(table)}", group=name)
            continue
        if not name.strip() or any(ord(c) < 32 for c in name):
            problems.add("a group name must be printable and not blank", group=name)
        for key in table:
            if key not in GROUP_KEYS:
                problems.add(f"unknown key {key!r} (known: {', '.join(GROUP_KEYS)})", group=name)
        parallel = table.get("parallel")
        if parallel is not None and (not _is_int(parallel) or parallel < 0):
            problems.add(f"parallel must be an integer >= 0 (0 = unlimited), not {parallel!r}", group=name)
            parallel = None
        groups.append(GroupSpec(name, parallel))
    return groups


def _task(name: str, table: Any, folder: str, groups: set[str], names: set[str], problems: Problems) -> TaskSpec | None:
    if not isinstance(table, dict):
        problems.add(f"must be a table ([tasks.{name}] with cmd = \"...\"), not {_kind(table)}", task=name)
        return None
    before = len(problems.lines)

    def bad(message: str) -> None:
        problems.add(message, task=name)

    if not name.strip():
        bad("a task name must not be blank")
    for key in table:
        if key not in TASK_KEYS:
            bad(f"unknown key {key!r} (known: {', '.join(TASK_KEYS)})")
    command = _command(table.get("cmd"), bad)
    cwd = _cwd(table.get("cwd"), folder, bad)
    group = _string(table, "group", bad) or DEFAULT_GROUP
    if group not in groups:
        bad(f"group {group!r} is not declared (add a [groups.{group}] table, with parallel = N)")
    label = _string(table, "label", bad) or name
    after = _after(table.get("after", []), name, names, bad)
    env = _env(table.get("env", {}), bad)
    timeout = table.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        bad(f"timeout must be a positive number of seconds, not {timeout!r}")
    retries = table.get("retries", 0)
    if not _is_int(retries) or retries < 0:
        bad(f"retries must be an integer >= 0, not {retries!r}")
    priority = table.get("priority", 0)
    if not _is_int(priority):
        bad(f"priority must be an integer, not {priority!r}")
    if len(problems.lines) > before or command is None or cwd is None:
        return None
    return TaskSpec(name=name, command=command, cwd=cwd, group=group, label=label, after=after, env=env,
                    timeout=float(timeout) if timeout is not None else None, retries=retries, priority=priority)


def _command(value: Any, bad: Any) -> str | None:
    if value is None:
        bad("cmd is missing (a shell string, or a list of program and arguments)")
        return None
    if isinstance(value, str):
        if not value.strip():
            bad("cmd is empty")
            return None
        return value
    if isinstance(value, list) and value and all(isinstance(word, str) for word in value):
        return " ".join(quote(word) for word in value)
    bad(f"cmd must be a string or a non-empty list of strings, not {_kind(value)}")
    return None


def _cwd(value: Any, folder: str, bad: Any) -> str | None:
    if value is None:
        return folder
    if not isinstance(value, str) or not value:
        bad(f"cwd must be a non-empty string, not {_kind(value)}")
        return None
    resolved = os.path.normpath(os.path.join(folder, os.path.expanduser(value)))
    if not os.path.isdir(resolved):
        bad(f"cwd {value!r} is not a directory (resolved to {resolved})")
        return None
    return resolved


def _string(table: dict[str, Any], key: str, bad: Any) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        bad(f"{key} must be a non-empty string, not {_kind(value)}")
        return None
    return value


def _after(value: Any, name: str, names: set[str], bad: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        bad(f"after must be a list of task names, not {_kind(value)}")
        return ()
    for missing in [item for item in value if item not in names]:
        bad(f"after names unknown task {missing!r}")
    return tuple(dict.fromkeys(item for item in value if item in names))


def _env(value: Any, bad: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        bad(f"env must be a table of strings, not {_kind(value)}")
        return {}
    for key, item in value.items():
        if not isinstance(item, str):
            bad(f"env.{key} must be a string, not {_kind(item)}")
    return {k: v for k, v in value.items() if isinstance(v, str)}


def _check_cycles(raw_tasks: dict[str, Any], problems: Problems) -> None:
    # From the raw tables, so a cycle is reported even through tasks that have other problems.
    deps = {}
    for name, table in raw_tasks.items():
        after = table.get("after", []) if isinstance(table, dict) else []
        valid = isinstance(after, list) and all(isinstance(item, str) for item in after)
        deps[name] = [item for item in after if item in raw_tasks] if valid else []
    for cycle in graph.find_cycles(deps):
        problems.add(f"dependency cycle: {' -> '.join(cycle)} (each waits for the next)", task=cycle[0])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)
