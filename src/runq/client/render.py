"""Human output, kept apart from JSON: the status table and friendly times."""
from __future__ import annotations

import time

from runq.model import DONE, FAILED, FAILED_TO_SPAWN, SUCCESS

RESULT_TEXT = {"Success": "Success", "Killed": "Killed", "Errored": "Errored",
               "DependencyFailed": "Dependency failed", FAILED_TO_SPAWN: "Failed to spawn"}


def safe_text(value: str, limit: int = 80) -> str:
    """Render untrusted text harmlessly: control characters and escapes become visible, one line."""
    out = []
    for char in value:
        code = ord(char)
        if char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 32 or code == 127 or 0x80 <= code < 0xA0 or 0xD800 <= code < 0xE000:
            out.append(f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}")
        else:
            out.append(char)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_text(task: dict) -> str:
    if task["status"] != DONE:
        return task["status"]
    if task.get("timed_out"):
        return "Timed out"
    if task["result"] == FAILED:
        return f"Failed ({task['exit_code']})"
    return RESULT_TEXT.get(task["result"], task["result"] or "")


def clock(epoch: float | None) -> str:
    if epoch is None:
        return ""
    moment = time.localtime(epoch)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


def table(headers: list[str], rows: list[list[str]]) -> str:
    keep = [i for i, h in enumerate(headers) if any(row[i] for row in rows) or h in ("Id", "Status")]
    headers = [headers[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("─" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def status_tables(tasks: list[dict], groups: dict[str, dict]) -> str:
    names = sorted(groups, key=lambda n: (n != "default", n))
    blocks = []
    for name in names:
        group = groups[name]
        members = [t for t in tasks if t["group"] == name]
        limit = group["parallel_tasks"] or "unlimited"
        header = f"Group \"{safe_text(name)}\" ({limit} parallel): {group['status'].lower()}"
        if not members:
            blocks.append(header)
            continue
        rows = []
        for t in members:
            deps = ", ".join(map(str, t["dependencies"]))
            rows.append([str(t["id"]), status_text(t), str(t["priority"]) if t["priority"] else "", deps,
                         safe_text(t["label"] or "", 30), safe_text(t["command"]), safe_text(t["path"], 40),
                         clock(t["start"]), clock(t["end"])])
        blocks.append(header + "\n" + table(["Id", "Status", "Prio", "Deps", "Label", "Command", "Path", "Start", "End"], rows))
    return "\n\n".join(blocks)


def duration(task: dict) -> str:
    if task.get("start") is None:
        return ""
    end = task.get("end") or time.time()
    return f"{end - task['start']:.3f}s"


__all__ = ["SUCCESS", "status_tables", "safe_text", "clock", "duration", "table"]
