"""Find `[tasks.NAME]` / `[groups.NAME]` tables declared twice.

TOML refuses a file that declares a table twice, with a message about "('tasks', 'a')" and only
the first such problem. This finds every duplicate header by line, and renames the later copies
so the file parses and its other problems can be reported in the same pass. Only used once
tomllib has already failed, so a valid file never pays for it.
"""
from __future__ import annotations

import re
import tomllib

HEADER = re.compile(r"""^(\s*\[\s*(tasks|groups)\s*\.\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)(\s*\]\s*(?:\#.*)?)$""")
KINDS = {"tasks": "task", "groups": "group"}


def rename_duplicates(text: str, mark: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """(text with later duplicates renamed, [(kind, name, line, first line)])."""
    first_seen: dict[tuple[str, str], int] = {}
    duplicates = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        match = HEADER.match(line)
        if match is None:
            continue
        kind, name = KINDS[match.group(2)], _key_name(match.group(3))
        if name is None:
            continue
        first = first_seen.setdefault((kind, name), number)
        if first != number:
            duplicates.append((kind, name, number, first))
            placeholder = _basic_string(f"{mark}{number}")
            lines[number - 1] = f"{match.group(1)}{placeholder}{match.group(4)}"
    return "\n".join(lines), duplicates


def _key_name(raw: str) -> str | None:
    if raw[0] not in "\"'":
        return raw
    try:
        return str(tomllib.loads(f"k = {raw}")["k"])
    except tomllib.TOMLDecodeError:
        return None


def _basic_string(value: str) -> str:
    return '"' + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'
