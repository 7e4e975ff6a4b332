"""Claude Code's Bash permission rules, evaluated on the ORIGINAL command (the RTK model).

Claude Code checks its rules against the command it is about to run; once the hook rewrites
a command into a `runq run` wrapper, `Bash(npm test:*)` no longer matches and a deny rule
such as `Bash(rm -rf:*)` no longer fires (anthropics/claude-code#65393). So the hook checks
the original itself, segment by segment, and chooses its answer from that:

- any segment matches a deny or ask rule: don't rewrite, let Claude Code apply its own rule;
- every segment matches an allow rule: answer `allow` with the rewrite;
- otherwise: the rewrite with no decision, so Claude Code asks exactly as it would have.

Rule syntax (code.claude.com/docs/en/permissions): `Bash` and `Bash(*)` match everything;
`Bash(npm run test:*)` is the legacy prefix form (`npm run test` alone or followed by a
space); a `*` anywhere else is a wildcard over any characters, and a single trailing ` *`
also matches the bare prefix (`Bash(git *)` matches `git`); anything else is an exact match.

Both directions err on the careful side: deny and ask rules are tried against several
spellings of each segment (as written, without env assignments, without prefixes such as
`timeout`, and the whole line), so a rule Claude Code would apply is never missed; allow is
only granted when each segment as written matches, with nothing the hook can't see through
(substitutions, heredocs, loops, file redirects).
"""
from __future__ import annotations

from runq.hook import programs, wildcard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runq.hook.bashparse import Shape, SimpleCommand

DENY = "deny"
ASK = "ask"
ALLOW = "allow"
NONE = "none"

ALL = "all"
PREFIX = "prefix"
PATTERN = "wildcard"
EXACT = "exact"


class Rule:
    __slots__ = ("kind", "source", "text", "value")

    def __init__(self, text: str, kind: str, value: str, source: str) -> None:
        self.text = text
        self.kind = kind
        self.value = value
        self.source = source

    def matches(self, command: str) -> bool:
        if self.kind == ALL:
            return True
        if self.kind == PREFIX:
            return command == self.value or command.startswith(self.value + " ")
        if self.kind == PATTERN:
            if wildcard.matches(self.value, command):
                return True
            # `git *` also matches a bare `git` when that trailing star is the only one.
            pieces = wildcard.split_pattern(self.value)
            return (len(pieces) == 3 and pieces[2] == "" and (pieces[0] or "").endswith(" ")
                    and command == (pieces[0] or "")[:-1])
        return command == self.value

    def __repr__(self) -> str:
        return f"Rule({self.text!r} from {self.source})"


def parse_rule(text: str, source: str = "") -> Rule | None:
    """A Bash rule, or None for rules about other tools."""
    rule = text.strip()
    if rule == "Bash":
        return Rule(text, ALL, "", source)
    if not (rule.startswith("Bash(") and rule.endswith(")")):
        return None
    content = rule[5:-1].replace("\\(", "(").replace("\\)", ")").strip()
    if content in ("", "*", ":*"):
        return Rule(text, ALL, "", source)
    if content.endswith(":*"):
        return Rule(text, PREFIX, content[:-2].rstrip(), source)
    if wildcard.has_wildcard(content):
        return Rule(text, PATTERN, content, source)
    return Rule(text, EXACT, content, source)


class RuleSet:
    __slots__ = ("allow", "ask", "deny")

    def __init__(self) -> None:
        self.deny: list[Rule] = []
        self.ask: list[Rule] = []
        self.allow: list[Rule] = []

    def add(self, behaviour: str, rules: object, source: str) -> None:
        if not isinstance(rules, list):
            return
        target = {DENY: self.deny, ASK: self.ask, ALLOW: self.allow}[behaviour]
        for text in rules:
            if isinstance(text, str):
                rule = parse_rule(text, source)
                if rule is not None:
                    target.append(rule)


class Verdict:
    __slots__ = ("outcome", "rule")

    def __init__(self, outcome: str, rule: Rule | None = None) -> None:
        self.outcome = outcome
        self.rule = rule

    def __repr__(self) -> str:
        return f"Verdict({self.outcome}, {self.rule!r})"


def evaluate(shape: Shape, rules: RuleSet, project_dir: str | None = None) -> Verdict:
    """`project_dir` is where Claude Code lets `cd` go without asking (the session's cwd)."""
    for behaviour, rule_list in ((DENY, rules.deny), (ASK, rules.ask)):
        for rule in rule_list:
            if any(rule.matches(text) for text in _careful_spellings(shape)):
                return Verdict(behaviour, rule)
    return _allowed(shape, rules.allow, project_dir)


def _careful_spellings(shape: Shape) -> list[str]:
    spellings = [shape.source.strip()]
    for command in shape.commands:
        spellings.append(command.text.strip())
        spellings.append(" ".join(command.raw_words))
        literal = [word for word in command.words if word is not None]
        if literal:
            spellings.append(" ".join(literal))
        resolved = programs.resolve(command.words)
        if resolved.program:
            rest = [word for word in resolved.args if word is not None]
            spellings.append(" ".join([resolved.program, *rest]))
    return spellings


def _allowed(shape: Shape, allow: list[Rule], project_dir: str | None) -> Verdict:
    everything = next((rule for rule in allow if rule.kind == ALL), None)
    if everything is not None:
        return Verdict(ALLOW, everything)
    if shape.substitution or shape.heredoc or shape.compounds - _LOOPS or not shape.commands:
        return Verdict(NONE)
    writes = any(_writes(command) for command in shape.commands)
    first: Rule | None = None
    for command in shape.commands:
        if not all(_harmless_redirect(op, target) for op, target in command.redirects):
            return Verdict(NONE)
        if auto_allowed(command, project_dir, writes):
            continue
        rule = _segment_rule(command, allow)
        if rule is None:
            return Verdict(NONE)
        first = first or rule
    return Verdict(ALLOW, first)  # no rule at all: every segment passed Claude Code's read-only checks


# What Claude Code (checked against 2.1.332, see tests/hook/permission_table.py) lets through
# without any rule, and what it sees through before matching allow rules. Only behaviour seen
# in the real CLI is listed; anything else counts as "would prompt", which keeps the hook
# from ever granting more than Claude Code would.
_LOOPS = frozenset({"for_statement", "while_statement", "if_statement"})
SAFE_ENV = frozenset({"CI", "NODE_ENV", "RUST_BACKTRACE"})
SAFE_WRAPPERS = frozenset({"timeout", "nice", "time", "stdbuf", "nohup", "command", "xargs"})
AUTO_READ_ONLY = frozenset({"head", "tail", "wc", "uniq", "cut", "tr", "jq", "grep", "rg", "column", "cat",
                            "ls", "pwd", "true", "false", "date", "which", "sleep", "basename", "echo",
                            "printf", "test", "["})
GIT_AUTO_READ_ONLY = frozenset({"status", "log", "diff", "show", "rev-parse"})
_WRITERS = programs.QUICK_PROGRAMS | {"tee"}


def auto_allowed(command: SimpleCommand, project_dir: str | None, writes: bool) -> bool:
    """Whether Claude Code runs this segment with no rule at all (its read-only checks)."""
    words = command.words
    if not words or words[0] is None or command.assignments:
        return False
    name = words[0]
    if name in ("echo", "printf"):
        return True
    if any(word is None for word in words[1:]):
        return False
    args = [word for word in words[1:] if word is not None]
    if name in AUTO_READ_ONLY:
        return True
    if name == "sort":
        return not any(arg == "-o" or arg.startswith("--output") for arg in args)
    if name == "sed":
        return not any(arg.startswith(("-i", "--in-place")) for arg in args)
    if name == "find":
        return not any(arg in ("-exec", "-execdir", "-ok", "-okdir", "-delete") or arg.startswith("-fprint")
                       for arg in args)
    if name == "git":
        return (bool(args) and args[0] in GIT_AUTO_READ_ONLY) or args in (["branch"], ["branch", "--show-current"])
    if name == "cd":
        return not writes and len(args) == 1 and _inside(args[0], project_dir)
    return False


def _inside(target: str, project_dir: str | None) -> bool:
    if not project_dir or target.startswith(("~", "-")):
        return False
    import os

    path = os.path.normpath(os.path.join(project_dir, target))
    return path == project_dir or path.startswith(project_dir.rstrip("/") + "/")


def _writes(command: SimpleCommand) -> bool:
    name = command.words[0] if command.words else None
    return name in _WRITERS or any(op in (">", ">>", "&>", ">|") and target != "/dev/null"
                                   for op, target in command.redirects)


def _segment_rule(command: SimpleCommand, allow: list[Rule]) -> Rule | None:
    """The allow rule this segment matches, seen as Claude Code sees it: words as written,
    whitespace normalised, safe env assignments and wrappers (`timeout 60`, `nice`) dropped."""
    if any(name not in SAFE_ENV for name in command.assignments):
        return None
    if any(word is None for word in command.words):
        return None
    raw = command.raw_words
    start = _after_wrappers(command.words)
    if start is None or start >= len(raw):
        return None
    text = " ".join(raw[start:])
    if any(word is None for word in command.words[start:]):
        return None
    rule = next((rule for rule in allow if rule.matches(text)), None)
    if rule is not None and rule.kind == PREFIX and not _prefix_safe(command.words[start:], rule):
        return None
    return rule


def _after_wrappers(words: list[str | None]) -> int | None:
    index = 0
    while index < len(words) and words[index] in SAFE_WRAPPERS:
        name = words[index]
        if name == "xargs" and index + 1 < len(words) and (words[index + 1] or "-").startswith("-"):
            return None  # xargs options change what runs; only a bare `xargs cmd` is seen through
        options = programs.PREFIX_OPTIONS.get(name or "", frozenset())
        index = programs.skip_prefix_arguments(name or "", words, index + 1, options)
    return index


def _prefix_safe(words: list[str | None], rule: Rule) -> bool:
    # Claude Code refuses to let a `find` prefix rule cover -exec/-delete.
    return not (words and words[0] == "find" and any(w in ("-exec", "-execdir", "-ok", "-okdir", "-delete")
                                                     for w in words))


def _harmless_redirect(operator: str, target: str | None) -> bool:
    """/dev/null and descriptor copies (`2>&1`) write no file; anything else might."""
    if target == "/dev/null":
        return True
    return operator in (">&", "<&") and target is not None and (target.isdigit() or target == "-")
