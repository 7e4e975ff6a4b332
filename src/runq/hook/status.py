"""`runq hook status`: where the hook is installed, and what it has been doing."""
from __future__ import annotations

import json
import os
import time

from runq import paths
from runq.hook import activity, install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def gather(limit: int) -> dict[str, Any]:
    cwd = os.getcwd()
    scopes = []
    for scope in install.SCOPES:
        path = install.settings_path(scope, cwd)
        try:
            settings = install.read(path)
            problem = None
        except Exception as exc:  # noqa: BLE001 - status reports a broken file instead of failing
            settings, problem = {}, str(exc)
        handlers = install.runq_handlers(settings)
        scopes.append({"scope": scope, "path": path, "events": install.installed_events(settings),
                       "hooks_after_ours": install.hooks_after_ours(settings), "problem": problem,
                       "missing_files": sorted({part for h in handlers for part in _paths_of(h)
                                                if not os.path.exists(part)})})
    root = paths.home()
    records = activity.read_recent(root, max(limit, 500))
    pre = [r for r in records if r.get("event") == "pre"]
    post = [r for r in records if r.get("event") == "post"]
    reasons: dict[str, int] = {}
    for record in pre:
        if record.get("action") != "wrap":
            key = str(record.get("reason", "")).split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return {
        "scopes": scopes,
        "log": activity.log_path(root),
        "counts": {"wrapped": sum(1 for r in pre if r.get("action") == "wrap"),
                   "skipped": sum(1 for r in pre if r.get("action") != "wrap"),
                   "allowed": sum(1 for r in pre if r.get("decision") == "allow"),
                   "checked_after": len(post),
                   "drops": sum(1 for r in post if not r.get("matched"))},
        "skip_reasons": dict(sorted(reasons.items(), key=lambda item: -item[1])),
        "drops": [r for r in post if not r.get("matched")][-limit:],
        "recent": pre[-limit:],
        "window": len(records),
    }


def _paths_of(handler: dict) -> list[str]:
    args = handler.get("args")
    args = args if isinstance(args, list) else []
    parts = [str(handler.get("command", ""))] + [str(a) for a in args]
    return [part for part in parts if part.startswith("/")]


def show(limit: int, as_json: bool) -> int:
    data = gather(limit)
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    for scope in data["scopes"]:
        if scope["problem"]:
            state = f"unreadable: {scope['problem']}"
        elif scope["events"]:
            state = "installed (" + ", ".join(scope["events"]) + ")"
        else:
            state = "not installed"
        print(f"{scope['scope']:8} {scope['path']}: {state}")
        if scope["missing_files"]:
            print(f"         warning: the entry points at missing files: {', '.join(scope['missing_files'])}"
                  " (run `runq hook install` again)")
        if scope["hooks_after_ours"]:
            print(f"         warning: {scope['hooks_after_ours']} PreToolUse hook(s) run after runq's and may"
                  " drop its rewrite (anthropics/claude-code#15897); run `runq hook install` again to move runq last")
    counts = data["counts"]
    print(f"\nlast {data['window']} log records ({data['log']}): {counts['wrapped']} wrapped "
          f"({counts['allowed']} with allow), {counts['skipped']} left alone, {counts['drops']} dropped "
          f"of {counts['checked_after']} checked after running")
    if data["skip_reasons"]:
        print("left alone because: " + ", ".join(f"{k} {v}" for k, v in data["skip_reasons"].items()))
    for drop in data["drops"]:
        print(f"DROP {_when(drop)} {drop.get('tool_use_id')}: ran {drop.get('ran')!r} instead of runq's rewrite")
    if data["recent"]:
        print("\nrecent:")
    for record in data["recent"]:
        action = "wrap" if record.get("action") == "wrap" else "skip"
        print(f"{_when(record)} {action:4} {record.get('reason', '')!s:28.28} {_short(record.get('command'))}")
    return 0


def _when(record: dict) -> str:
    stamp = record.get("t")
    return time.strftime("%m-%d %H:%M:%S", time.localtime(stamp)) if isinstance(stamp, (int, float)) else "?"


def _short(command: object, width: int = 80) -> str:
    text = " ".join(str(command).split())
    return text if len(text) <= width else text[: width - 1] + "…"
