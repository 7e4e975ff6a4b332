"""The completion callback: pueue's `{{variable}}` template, run off the daemon's critical path.

pueue substitutes values verbatim into a shell string, so a task whose command or output holds
`$(...)` or `'` runs code inside the callback. runq escapes every value for the quoting context
it lands in (inside '...', inside "...", or bare), so the shell sees exactly the value as text
and the seed's `echo '{{id}}:{{result}}:{{exit_code}}' >> file` still reads as written.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import time
from collections import deque

from runq.engine.loop import EventLoop
from runq.model import DONE, FAILED, QUEUED, STASHED, SUCCESS, Task

log = logging.getLogger("runq.daemon")
VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
KNOWN = ("id", "command", "path", "group", "result", "exit_code", "start", "end", "output", "output_path",
         "queued_count", "stashed_count", "label")
MAX_RUNNING = 8
CALLBACK_TIMEOUT = 120.0


def check_template(template: str) -> str | None:
    """The problem with a template, or None: unknown variables are refused when the config loads."""
    for name in VARIABLE.findall(template):
        if name not in KNOWN:
            return f"unknown callback variable {{{{{name}}}}} (known: {', '.join(KNOWN)})"
    return None


def render(template: str, values: dict[str, str]) -> str:
    """Substitute each {{name}} escaped for the shell quoting context it appears in."""
    out: list[str] = []
    quote = ""  # "", "'" or '"'
    i = 0
    while i < len(template):
        match = VARIABLE.match(template, i)
        if match:
            out.append(_escape(values.get(match.group(1), ""), quote))
            i = match.end()
            continue
        char = template[i]
        out.append(char)
        if quote == "'":
            if char == "'":
                quote = ""
        elif char == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 1
        elif quote == '"':
            if char == '"':
                quote = ""
        elif char in "'\"":
            quote = char
        i += 1
    return "".join(out)


def _escape(value: str, quote: str) -> str:
    if quote == "'":
        return value.replace("'", "'\\''")
    if quote == '"':
        return "".join("\\" + c if c in '\\$`"' else c for c in value)
    return shlex.quote(value)


def variables(task: Task, tasks: dict[int, Task], log_path: str, output_lines: int) -> dict[str, str]:
    same_group = [t for t in tasks.values() if t.group == task.group]
    return {
        "id": str(task.id),
        "command": task.command,
        "path": task.path,
        "group": task.group,
        "result": task.result or "",
        "exit_code": "0" if task.result == SUCCESS else str(task.exit_code) if task.result == FAILED else "None",
        "start": str(int(task.start)) if task.start else "",
        "end": str(int(task.end)) if task.end else "",
        "output": _last_lines(log_path, output_lines),
        "output_path": log_path,
        "queued_count": str(sum(1 for t in same_group if t.status == QUEUED or (t.status == STASHED and t.enqueue_at))),
        "stashed_count": str(sum(1 for t in same_group if t.status == STASHED)),
        "label": task.label or "",
    }


def _last_lines(path: str, count: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-count:]) if count > 0 else ""


class CallbackRunner:
    """Runs rendered callbacks with a bound on how many run at once; failures are only logged."""

    def __init__(self, template: str | None, shell: str, cwd: str, loop: EventLoop) -> None:
        self.loop = loop
        self.template = template
        self.shell = shell
        self.cwd = cwd
        self.pending: deque[tuple[int, str]] = deque()
        self.running: dict[int, tuple[subprocess.Popen, float, int]] = {}

    def submit(self, task: Task, values: dict[str, str]) -> None:
        if not self.template or task.status != DONE:
            return
        self.pending.append((task.id, render(self.template, values)))
        self.pump()

    def pump(self) -> None:
        now = time.monotonic()
        for pid, (proc, started, task_id) in list(self.running.items()):
            code = proc.poll()
            if code is None and now - started > CALLBACK_TIMEOUT:
                proc.kill()
                log.warning("callback for task %d killed after %.0f s", task_id, CALLBACK_TIMEOUT)
                code = proc.wait()
            if code is not None:
                del self.running[pid]
                if code != 0:
                    log.warning("callback for task %d exited with %s", task_id, code)
        while self.pending and len(self.running) < MAX_RUNNING:
            task_id, command = self.pending.popleft()
            try:
                proc = subprocess.Popen([self.shell, "-c", command], cwd=self.cwd, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
            except OSError as exc:
                log.warning("callback for task %d failed to start: %s", task_id, exc)
                continue
            self.running[proc.pid] = (proc, now, task_id)
            self._watch(proc)

    def _watch(self, proc: subprocess.Popen) -> None:
        pidfd = os.pidfd_open(proc.pid)

        def ended() -> None:
            self.loop.remove(pidfd)
            os.close(pidfd)
            self.pump()

        self.loop.add_reader(pidfd, ended)
        self.loop.call_at(time.monotonic() + CALLBACK_TIMEOUT + 0.1, self.pump)

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.running)
