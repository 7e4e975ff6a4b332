"""pueue's selection rules: explicit ids, `-g GROUP`, `-a`, or else the default group."""
from __future__ import annotations

from runq.errors import RunqError
from runq.model import DEFAULT_GROUP, Task


def select(tasks: dict[int, Task], groups: dict, request: dict) -> tuple[list[Task], list[int]]:
    """The tasks a request names, and the ids it names that do not exist."""
    ids = request.get("ids") or []
    if ids:
        found = [tasks[i] for i in ids if isinstance(i, int) and i in tasks]
        missing = [i for i in ids if not (isinstance(i, int) and i in tasks)]
        return found, missing
    if request.get("all"):
        return sorted(tasks.values(), key=lambda t: t.id), []
    group = request.get("group") or DEFAULT_GROUP
    if not isinstance(group, str):
        raise RunqError("runq: request field 'group' must be a string")
    if group not in groups:
        raise RunqError(f"runq: group {group!r} does not exist (groups: {', '.join(sorted(groups))})")
    return [t for t in sorted(tasks.values(), key=lambda t: t.id) if t.group == group], []


def compile_message(action: str, succeeded: list[int], failed: list[int]) -> dict:
    """pueue's multi-task reply: all ok, partly ok (still success), or none ok (failure)."""
    if not failed:
        return {"ok": True, "message": f"{action}: {', '.join(map(str, succeeded))}"}
    failure = f"The command failed for tasks: {', '.join(map(str, failed))}"
    if succeeded:
        return {"ok": True, "message": f"{action}: {', '.join(map(str, succeeded))}\n{failure}", "failed": failed}
    return {"ok": False, "error": failure, "failed": failed}
