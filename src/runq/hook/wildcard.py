"""Glob matching for permission rules and config patterns: `*` is any run of characters
(spaces included), `\\*` a literal star. No `re`: the hook's start-up budget can't afford it."""
from __future__ import annotations


def split_pattern(pattern: str) -> list[str | None]:
    """Pattern -> literal pieces with None for each unescaped `*`."""
    pieces: list[str | None] = []
    literal: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            literal.append(pattern[index + 1])
            index += 2
            continue
        if char == "*":
            pieces.append("".join(literal))
            pieces.append(None)
            literal = []
        else:
            literal.append(char)
        index += 1
    pieces.append("".join(literal))
    return pieces


def has_wildcard(pattern: str) -> bool:
    return None in split_pattern(pattern)


def matches(pattern: str, text: str) -> bool:
    """Whole-string match of `text` against `pattern`."""
    pieces = split_pattern(pattern)
    literals = [piece for piece in pieces if piece is not None]
    if len(literals) == 1:
        return text == literals[0]
    first, last = literals[0], literals[-1]
    if not text.startswith(first) or len(text) < len(first) + len(last) or not text.endswith(last):
        return False
    position = len(first)
    end = len(text) - len(last)
    for middle in literals[1:-1]:
        found = text.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True
