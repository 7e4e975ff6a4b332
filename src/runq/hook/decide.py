"""Wrap or skip: the pure decision for one agent Bash command.

The order matters: escape hatches and anything that would change behaviour under the
wrapper (background jobs, `cd` that must move the agent's shell, aliases the daemon can't
see) come first and cannot be forced; `# RUNQ-WRAP` and `always_wrap` only override the
"not worth a task" tiers (read-only, builtins, quick file operations).
"""
from __future__ import annotations

import os

from runq.hook import bashparse, programs, quickparse, wildcard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

WRAP = "wrap"
SKIP = "skip"
_SKIP_MARKERS = ("RUNQ-SKIP", "PUEUE-SKIP")
_WRAP_MARKERS = ("RUNQ-WRAP", "PUEUE-WRAP")
_STDIN_REDIRECTS = ("<", "<<", "<<<", "<&", "<<-", "<>")


class Patterns:
    """The [hook] never_wrap / always_wrap config lists."""

    __slots__ = ("always", "never")

    def __init__(self, never: list[str] | None = None, always: list[str] | None = None) -> None:
        self.never = never or []
        self.always = always or []


class Decision:
    __slots__ = ("action", "reason", "shape")

    def __init__(self, action: str, reason: str, shape: bashparse.Shape | None = None) -> None:
        self.action = action
        self.reason = reason
        self.shape = shape

    def __repr__(self) -> str:
        return f"Decision({self.action}, {self.reason!r})"


def skip(reason: str, shape: bashparse.Shape | None = None) -> Decision:
    return Decision(SKIP, reason, shape)


def decide(command: str, patterns: Patterns | None = None,
           on_path: Callable[[str], bool] | None = None) -> Decision:
    if not command.strip():
        return skip("empty")
    shape = quickparse.parse(command)
    if shape is None:
        try:
            shape = bashparse.parse(command)
        except bashparse.ParserUnavailable:
            return skip("no-parser")
    if shape.error:
        return skip("parse-error", shape)
    upper_comments = [comment.upper() for comment in shape.comments]
    if any(marker in comment for comment in upper_comments for marker in _SKIP_MARKERS):
        return skip("skip-comment", shape)
    if not shape.commands:
        return skip("empty", shape)
    if shape.background:
        return skip("background", shape)
    kinds = _classify_all(shape, on_path or executable_on_path)
    blocking = next(((kind, name) for kind, name in kinds if kind in programs.BLOCKING), None)
    if blocking is not None:
        return skip(f"{blocking[0]}: {blocking[1]}" if blocking[1] else blocking[0], shape)
    patterns = patterns or Patterns()
    never = _matching_pattern(shape, patterns.never)
    if never is not None:
        return skip(f"never_wrap: {never}", shape)
    if any(marker in comment for comment in upper_comments for marker in _WRAP_MARKERS):
        reason = "wrap-comment"
    else:
        always = _matching_pattern(shape, patterns.always)
        work = next((name for kind, name in kinds if kind == programs.WORK), None)
        if always is None and work is None:
            return skip(_trivial_reason(shape, kinds), shape)
        reason = f"always_wrap: {always}" if always is not None else f"work: {work}"
    if _moves_shell_elsewhere(shape):
        return skip("cd-inside", shape)
    return Decision(WRAP, reason, shape)


def _trivial_reason(shape: bashparse.Shape, kinds: list[tuple[str, str]]) -> str:
    if {kind for kind, _ in kinds} != {programs.READ_ONLY}:
        return "trivial"
    writes_file = any(operator in (">", ">>", "&>", ">|", "&>>") and target != "/dev/null"
                      for command in shape.commands for operator, target in command.redirects)
    return "trivial" if writes_file else programs.READ_ONLY


def _classify_all(shape: bashparse.Shape, on_path: Callable[[str], bool]) -> list[tuple[str, str]]:
    kinds = []
    for command in shape.commands:
        stdin_redirected = any(operator in _STDIN_REDIRECTS for operator, _ in command.redirects)
        kinds.append(programs.classify(command.words, stdin_redirected, shape.functions, on_path))
    return kinds


def _moves_shell_elsewhere(shape: bashparse.Shape) -> bool:
    """A top-level `cd`/`pushd`/`popd` outside the leading `cd DIR &&` chain would move the
    agent's shell after the command; inside the wrapper it can't, so leave such lines alone."""
    for command in shape.commands:
        if command.nested or not command.words:
            continue
        if command.words[0] in ("cd", "pushd", "popd") and command.start not in shape.leading_cds:
            return True
    return False


def _matching_pattern(shape: bashparse.Shape, patterns: list[str]) -> str | None:
    if not patterns:
        return None
    for command in shape.commands:
        text = command_text(command.words)
        for pattern in patterns:
            if pattern_matches(pattern, text):
                return pattern
    return None


def command_text(words: list[str | None]) -> str:
    """A simple command as config patterns see it: from its real program on, after env
    assignments and prefixes such as `sudo`, `time`, `env`; an expanded word reads `?`."""
    resolved = programs.resolve(words)
    parts = [resolved.program or "?", *("?" if word is None else word for word in resolved.args)]
    return " ".join(parts)


def pattern_matches(pattern: str, text: str) -> bool:
    """Glob with `*`; a pattern without a trailing `*` also matches longer commands at a word
    boundary, so `npm run dev` covers `npm run dev -- --port 3000`."""
    pattern = pattern.strip()
    if not pattern:
        return False
    if wildcard.matches(pattern, text):
        return True
    return not pattern.endswith("*") and wildcard.matches(pattern + " *", text)


def executable_on_path(name: str) -> bool:
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return True
    return False
