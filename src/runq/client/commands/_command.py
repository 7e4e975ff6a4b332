"""Turning argv into the task's command string, the same way for `add` and `run`."""
from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def quote(word: str) -> str:
    """shlex.quote without importing `re` (the hot path cannot afford it)."""
    if word and all(c in _SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def command_string(argv: list[str], escape: bool = False) -> str:
    """One argument is a shell string; several keep their argv exactly (pueue joins them with spaces)."""
    if len(argv) == 1 and not escape:
        return argv[0]
    return " ".join(quote(word) for word in argv)
