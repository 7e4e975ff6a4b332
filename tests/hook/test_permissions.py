"""The hook's permission verdict on the ORIGINAL command equals what Claude Code decides."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from permission_table import ROWS, RULESETS

from runq.hook import bashparse, permissions

# Claude Code's outcome -> the hook verdicts that keep it. DENY and ASK leave the command
# unrewritten, so Claude Code decides on the original; NONE rewrites and lets Claude Code prompt.
FAITHFUL = {"allow": {permissions.ALLOW}, "deny": {permissions.DENY}, "ask": {permissions.ASK},
            "prompt": {permissions.NONE, permissions.ASK}}


def rules_for(name: str) -> permissions.RuleSet:
    rules = permissions.RuleSet()
    for behaviour, texts in RULESETS[name].items():
        rules.add(behaviour, texts, "test")
    return rules


@pytest.mark.parametrize(("ruleset", "command", "claude_outcome"), ROWS)
def test_verdict_matches_claude_code(ruleset: str, command: str, claude_outcome: str) -> None:
    shape = bashparse.parse(command)
    verdict = permissions.evaluate(shape, rules_for(ruleset), "/proj")
    assert verdict.outcome in FAITHFUL[claude_outcome], verdict


@pytest.mark.parametrize(("rule", "kind", "value"), [
    ("Bash", permissions.ALL, ""),
    ("Bash(*)", permissions.ALL, ""),
    ("Bash(npm run test:*)", permissions.PREFIX, "npm run test"),
    ("Bash(npm run *)", permissions.PATTERN, "npm run *"),
    ("Bash(* --version)", permissions.PATTERN, "* --version"),
    ("Bash(npm run build)", permissions.EXACT, "npm run build"),
    ("Bash(echo \\(hi\\))", permissions.EXACT, "echo (hi)"),
])
def test_rule_syntax(rule: str, kind: str, value: str) -> None:
    parsed = permissions.parse_rule(rule)
    assert parsed is not None and (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize("rule", ["Read(./x)", "WebFetch", "mcp__x__y", "Bashful", "Bash(x"])
def test_rules_for_other_tools_are_ignored(rule: str) -> None:
    assert permissions.parse_rule(rule) is None


def test_an_unmatched_segment_keeps_the_prompt_even_when_others_are_allowed() -> None:
    rules = rules_for("mixed")
    verdict = permissions.evaluate(bashparse.parse("mytool test && mytool other"), rules, "/proj")
    assert verdict.outcome == permissions.NONE  # rtk#1213: one allowed segment never allows the chain
