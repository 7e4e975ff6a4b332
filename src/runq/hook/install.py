"""Merge runq's hook entries into a Claude Code settings file, or take them out again.

The entry (code.claude.com/docs/en/hooks) runs runq through an absolute interpreter path with
`-I -S` and the installed package's own `fastpath.py`: a bare `python3` may resolve through a
pyenv shim, which costs ~87 ms per call here. Every other key and hook in the file is kept.
Installing again replaces runq's old entries (a moved venv, a new timeout) and puts ours last
among the PreToolUse groups: with several rewriting hooks, a later one's answer can silently
drop ours (anthropics/claude-code#15897).
"""
from __future__ import annotations

import copy
import json
import os

from runq.errors import RunqError
from runq.hook import rewrite

PRE = "PreToolUse"
EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure")
SCOPES = ("user", "project", "local")


def project_root(cwd: str) -> str:
    """The nearest directory holding `.claude` or `.git`, else `cwd` itself."""
    current = os.path.abspath(cwd)
    while True:
        if os.path.isdir(os.path.join(current, ".claude")) or os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return os.path.abspath(cwd)
        current = parent


def settings_path(scope: str, cwd: str) -> str:
    if scope == "user":
        from runq.hook.rule_sources import config_dir

        return os.path.join(config_dir(), "settings.json")
    name = "settings.json" if scope == "project" else "settings.local.json"
    return os.path.join(project_root(cwd), ".claude", name)


def handler(timeout: int, python: str | None = None, shell_form: bool = False) -> dict:
    argv = [*rewrite.launcher(python), "hook", "claude"]
    if shell_form:
        # For Claude Code before v2.1.139, which has no exec form (`args`).
        return {"type": "command", "command": " ".join(rewrite.quote(part) for part in argv), "timeout": timeout}
    return {"type": "command", "command": argv[0], "args": argv[1:], "timeout": timeout}


def is_runq_handler(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    args = entry.get("args")
    parts = [str(entry.get("command", ""))] + ([str(arg) for arg in args] if isinstance(args, list) else [])
    text = " ".join(parts)
    return ("fastpath.py" in text or "runq" in text) and "hook" in text and "claude" in text


def read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RunqError(f"runq: cannot read {path}: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RunqError(f"runq: {path} is not valid JSON ({exc}); fix it, then run this again") from None
    if not isinstance(data, dict):
        raise RunqError(f"runq: {path} must hold a JSON object")
    return data


def write(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.runq-{os.getpid()}"
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(render(data))
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def render(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n" if data else ""


def with_hook(settings: dict, entry: dict) -> dict:
    """A copy of `settings` with runq's entry as the last `Bash` group of each event."""
    result = without_hook(settings)
    hooks = result.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise RunqError("runq: the settings file's \"hooks\" is not an object; fix it by hand first")
    for event in EVENTS:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise RunqError(f"runq: the settings file's hooks.{event} is not a list; fix it by hand first")
        groups.append({"matcher": "Bash", "hooks": [copy.deepcopy(entry)]})
    return result


def without_hook(settings: dict) -> dict:
    """A copy of `settings` with every runq handler removed (and groups left empty by that)."""
    result = copy.deepcopy(settings)
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list):
                kept.append(group)
                continue
            remaining = [h for h in handlers if not is_runq_handler(h)]
            if remaining or len(remaining) == len(handlers):
                kept.append({**group, "hooks": remaining})
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks:
        del result["hooks"]
    return result


def installed_events(settings: dict) -> list[str]:
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return []
    return [event for event, groups in hooks.items() if isinstance(groups, list) and any(
        isinstance(group, dict) and isinstance(group.get("hooks"), list)
        and any(is_runq_handler(h) for h in group["hooks"]) for group in groups)]


def runq_handlers(settings: dict) -> list[dict]:
    hooks = settings.get("hooks")
    found: list[dict] = []
    if isinstance(hooks, dict):
        for groups in hooks.values():
            for group in groups if isinstance(groups, list) else []:
                handlers = group.get("hooks") if isinstance(group, dict) else None
                found.extend(h for h in handlers or [] if is_runq_handler(h))
    return found


def hooks_after_ours(settings: dict) -> int:
    """How many other PreToolUse handlers could run after ours for Bash (and drop our rewrite)."""
    groups = (settings.get("hooks") or {}).get(PRE) if isinstance(settings.get("hooks"), dict) else None
    if not isinstance(groups, list):
        return 0
    seen_ours = False
    later = 0
    for group in groups:
        if not isinstance(group, dict):
            continue
        for entry in group.get("hooks") or []:
            if is_runq_handler(entry):
                seen_ours = True
            elif seen_ours and _matches_bash(group.get("matcher")):
                later += 1
    return later


def _matches_bash(matcher: object) -> bool:
    if matcher in (None, "", "*"):
        return True
    return isinstance(matcher, str) and "Bash" in matcher
