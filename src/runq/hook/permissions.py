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
    __slots__ = ("text", "kind", "value", "source")

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
    __slots__ = ("deny", "ask", "allow")

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


def evaluate(shape: Shape, rules: RuleSet) -> Verdict:
    for behaviour, rule_list in ((DENY, rules.deny), (ASK, rules.ask)):
        for rule in rule_list:
            if any(rule.matches(text) for text in _careful_spellings(shape)):
                return Verdict(behaviour, rule)
    return _allowed(shape, rules.allow)


def _careful_spellings(shape: Shape) -> list[str]:
    spellings = [shape.source.strip()]
    for command in shape.commands:
        spellings.append(command.text.strip())
        literal = [word for word in command.words if word is not None]
        if literal:
            spellings.append(" ".join(literal))
        resolved = programs.resolve(command.words)
        if resolved.program:
            rest = [word for word in resolved.args if word is not None]
            spellings.append(" ".join([resolved.program, *rest]))
    return spellings


def _allowed(shape: Shape, allow: list[Rule]) -> Verdict:
    everything = next((rule for rule in allow if rule.kind == ALL), None)
    if everything is not None:
        return Verdict(ALLOW, everything)
    if shape.substitution or shape.heredoc or shape.compound or not shape.commands:
        return Verdict(NONE)
    first: Rule | None = None
    for command in shape.commands:
        rule = _segment_rule(command, allow)
        if rule is None:
            return Verdict(NONE)
        first = first or rule
    return Verdict(ALLOW, first)


def _segment_rule(command: SimpleCommand, allow: list[Rule]) -> Rule | None:
    if not all(_harmless_redirect(op, target) for op, target in command.redirects):
        return None
    text = command.text.strip()
    return next((rule for rule in allow if rule.matches(text)), None)


def _harmless_redirect(operator: str, target: str | None) -> bool:
    """/dev/null and descriptor copies (`2>&1`) write no file; anything else might."""
    if target == "/dev/null":
        return True
    return operator in (">&", "<&") and target is not None and (target.isdigit() or target == "-")
