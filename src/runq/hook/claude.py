"""`runq hook claude`: Claude Code's PreToolUse/PostToolUse hook for the Bash tool.

Reads one hook payload on stdin. For PreToolUse it prints one JSON decision that rewrites the
command into a `runq run` wrapper, or prints nothing so the command runs as it is. For
PostToolUse it prints nothing and records whether the command that ran was our rewrite.

It always exits 0 and never raises: any failure (bad payload, no parser, daemon down, a bug)
means "print nothing", and Claude Code then runs the original command through its normal
permission flow. Exit 2 would block the agent's command, so it is never used.

This is the hot path of every agent Bash call: standard-library imports only (`os`, `sys`),
JSON through runq's `_json` shim, tree-sitter loaded only when a command needs parsing.
Set RUNQ_HOOK_DEBUG=1 to see internal errors on stderr (Claude Code's debug log).
"""
from __future__ import annotations

import os
import sys

from runq import paths
from runq.hook import activity
from runq.protocol import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runq.hook.decide import Patterns


def main(argv: list[str]) -> int:
    try:
        payload = fastjson.loads(sys.stdin.buffer.read().decode("utf-8", "surrogatepass"))
        if not isinstance(payload, dict):
            return 0
        event = payload.get("hook_event_name")
        if event == "PreToolUse":
            output = pre_tool_use(payload, paths.home())
            if output is not None:
                sys.stdout.write(output)
                sys.stdout.flush()
        elif event in ("PostToolUse", "PostToolUseFailure"):
            post_tool_use(payload, paths.home())
    except BaseException as exc:  # noqa: BLE001 - failing open is the contract
        if os.environ.get("RUNQ_HOOK_DEBUG"):
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
    return 0


def pre_tool_use(payload: dict[str, Any], root: str) -> str | None:
    """The JSON to print for one PreToolUse payload, or None to leave the command alone."""
    tool_input = payload.get("tool_input")
    if payload.get("tool_name") != "Bash" or not isinstance(tool_input, dict):
        return None
    command = tool_input.get("command")
    if not isinstance(command, str):
        return None
    record: dict[str, Any] = {"event": "pre", "tool_use_id": payload.get("tool_use_id"),
                              "session_id": payload.get("session_id"), "cwd": payload.get("cwd"),
                              "command": command, "action": "skip"}
    try:
        output = _pre_tool_use(payload, tool_input, command, root, record)
    except BaseException as exc:
        record["reason"] = f"error: {type(exc).__name__}: {exc}"
        output = None
        _log(root, record)
        raise
    _log(root, record)
    return output


def _pre_tool_use(payload: dict[str, Any], tool_input: dict[str, Any], command: str, root: str,
                  record: dict[str, Any]) -> str | None:
    if tool_input.get("run_in_background"):
        record["reason"] = "run-in-background"
        return None
    from runq.hook import decide

    decision = decide.decide(command, _patterns(root))
    record["reason"] = decision.reason
    if decision.action != decide.WRAP or decision.shape is None:
        return None
    from runq.hook import permissions, rule_sources

    sources = rule_sources.load(payload.get("cwd"), rule_sources.claude_argv())
    if sources.sandboxed:
        # Claude Code's sandbox may refuse the Unix socket the wrapper needs.
        record["reason"] = "sandbox-enabled"
        return None
    project_dir = os.environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd")
    verdict = permissions.evaluate(decision.shape, sources.rules, project_dir)
    if verdict.outcome == permissions.NONE and sources.project_allow.allow and \
            rule_sources.workspace_trusted(sources.project_dirs):
        sources.rules.allow.extend(sources.project_allow.allow)
        verdict = permissions.evaluate(decision.shape, sources.rules, project_dir)
    if verdict.outcome in (permissions.DENY, permissions.ASK):
        record["reason"] = f"permission {verdict.outcome}: {verdict.rule.text if verdict.rule else ''}"
        return None
    if not daemon_accepts(root):
        start_daemon_in_background(root)
        record["reason"] = "daemon-down"
        return None
    from runq.hook import rewrite

    ids = {"session-id": payload.get("session_id"), "tool-use-id": payload.get("tool_use_id"),
           "prompt-id": payload.get("prompt_id"), "agent-id": payload.get("agent_id")}
    wrapped = rewrite.wrap(command, decision.shape.wrap_start,
                           {key: str(value) for key, value in ids.items() if value})
    updated = dict(tool_input)
    updated["command"] = wrapped
    specific: dict[str, Any] = {"hookEventName": "PreToolUse"}
    if verdict.outcome == permissions.ALLOW:
        specific["permissionDecision"] = "allow"
        specific["permissionDecisionReason"] = f"runq: allowed by {verdict.rule.text if verdict.rule else 'read-only checks'}"
    specific["updatedInput"] = updated
    record.update(action="wrap", rewritten=wrapped,
                  decision="allow" if verdict.outcome == permissions.ALLOW else None)
    return fastjson.dumps({"hookSpecificOutput": specific})


def post_tool_use(payload: dict[str, Any], root: str) -> None:
    tool_input = payload.get("tool_input")
    tool_use_id = payload.get("tool_use_id")
    if payload.get("tool_name") != "Bash" or not isinstance(tool_input, dict) or not isinstance(tool_use_id, str):
        return
    pre = activity.find_pre(root, tool_use_id)
    if pre is None or pre.get("action") != "wrap":
        return
    ran = tool_input.get("command")
    activity.append(root, {"event": "post", "tool_use_id": tool_use_id, "ran": ran,
                           "matched": ran == pre.get("rewritten")})


def _patterns(root: str) -> Patterns | None:
    """never_wrap/always_wrap from the config, read only when a config file exists (the
    config module imports dataclasses, a cost the hook skips when there is nothing to read)."""
    if not os.path.exists(paths.config_file(root)):
        return None
    from runq import config
    from runq.hook.decide import Patterns

    loaded = config.load(root)
    return Patterns(loaded.get("hook", "never_wrap"), loaded.get("hook", "always_wrap"))


def daemon_accepts(root: str) -> bool:
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(paths.socket_path(root))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def start_daemon_in_background(root: str) -> None:
    """Start the daemon for the next command without waiting for it.

    `spawn_daemon` waits for the daemon's intermediate fork; a forked child does that
    waiting, with its stdio on /dev/null so Claude Code is not kept reading our stdout.
    """
    pid = os.fork()
    if pid:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        from runq.client.connection import spawn_daemon

        spawn_daemon(root)
    finally:
        os._exit(0)


def _log(root: str, record: dict[str, Any]) -> None:
    try:
        activity.append(root, record)
    except OSError:
        pass
