"""Build the `runq run` wrapper for a command the hook decided to wrap.

`cd sub && make test` becomes
    cd sub && /abs/python -I -S /abs/runq/fastpath.py run --origin claude-hook
        --session-id S --tool-use-id T --prompt-id P -- 'make test'
The original passes as ONE shell-quoted argument, so `&&`, pipes, redirects, loops, heredocs
and quotes all reach `runq run` intact; the leading `cd` chain stays outside so the agent's
working directory still follows it; and the result is a short list of simple commands that
Claude Code can parse (it then moves the command to the background at its timeout instead
of killing it).
"""
from __future__ import annotations

import os
import sys

# shlex.quote's safe set, without importing shlex (which imports re).
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def quote(value: str) -> str:
    if value and all(char in _SAFE for char in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def fastpath_script() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastpath.py")


def launcher(python: str | None = None) -> list[str]:
    """The argv prefix that starts runq without site processing."""
    return [python or sys.executable, "-I", "-S", fastpath_script()]


def wrap(command: str, wrap_start: int, ids: dict[str, str], python: str | None = None) -> str:
    """`ids` maps flag names (session-id, tool-use-id, prompt-id, agent-id) to values."""
    kept, rest = command[:wrap_start], command[wrap_start:]
    argv = [*launcher(python), "run", "--origin", "claude-hook"]
    for flag in ("session-id", "tool-use-id", "prompt-id", "agent-id"):
        value = ids.get(flag)
        if value:
            argv += [f"--{flag}", value]
    argv += ["--", rest]
    return kept + " ".join(quote(part) for part in argv)
