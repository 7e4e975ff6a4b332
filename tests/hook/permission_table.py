"""(settings rules, command) -> what Claude Code decides WITHOUT the hook.

The outcomes were read off the real CLI (@anthropic-ai/claude-code 2.1.332, `claude -p`, rules in
a trusted project's .claude/settings.json); tests/e2e/test_permission_table_cli.py replays the
whole table against the installed CLI, so a Claude Code release that changes its rules fails
loudly instead of silently diverging from the hook.

Outcomes: "allow" runs with no prompt, "deny" is refused by a deny rule, "ask" prompts because
of an ask rule, "prompt" prompts because nothing allows it. `mytool` and `tool2` are stub
programs the tests put on PATH.
"""
from __future__ import annotations

RULESETS: dict[str, dict[str, list[str]]] = {
    "mixed": {
        "deny": ["Bash(mytool deploy:*)", "Bash(rm -rf *)"],
        "ask": ["Bash(mytool publish *)", "Bash(mytool test --slow:*)"],
        "allow": ["Bash(mytool test:*)", "Bash(mytool run *)", "Bash(tool2)", "Bash(tool2 * main)"],
    },
    "allow-all": {"deny": ["Bash(mytool deploy)"], "allow": ["Bash"]},
    "star-with-ask": {"ask": ["Bash(tool2 push:*)"], "allow": ["Bash(*)"]},
    "none": {},
}

ROWS: list[tuple[str, str, str]] = [
    # legacy prefix form: the prefix alone or followed by a space
    ("mixed", "mytool test", "allow"),
    ("mixed", "mytool test --verbose tests/unit", "allow"),
    ("mixed", "mytool test:unit", "prompt"),
    ("mixed", "mytool testx", "prompt"),
    ("mixed", "mytool  test", "allow"),
    ("mixed", 'mytool test "a b"', "allow"),
    # redirects: descriptor copies and /dev/null are fine, a file needs approval
    ("mixed", "mytool test --x 2>&1", "allow"),
    ("mixed", "mytool test 2>/dev/null", "allow"),
    ("mixed", "mytool test &> /dev/null", "allow"),
    ("mixed", "mytool test > out.txt", "prompt"),
    ("mixed", "mytool test | head -5 > out.txt", "prompt"),
    # env assignments: only a few are seen through
    ("mixed", "FOO=1 mytool test", "prompt"),
    ("mixed", "CI=1 mytool test", "allow"),
    ("mixed", "NODE_ENV=test mytool test", "allow"),
    # wrappers Claude Code sees through (env is not one of them)
    ("mixed", "timeout 10 mytool test", "allow"),
    ("mixed", "timeout -s KILL 10 mytool test", "allow"),
    ("mixed", "nice -n 5 mytool test", "allow"),
    ("mixed", "time mytool test", "allow"),
    ("mixed", "stdbuf -oL mytool test", "allow"),
    ("mixed", "command mytool test", "allow"),
    ("mixed", "env mytool test", "prompt"),
    # compound commands: every segment must be allowed, read-only ones pass by themselves
    ("mixed", "mytool test | tail -5", "allow"),
    ("mixed", "mytool test 2>&1 | tail -n 20", "allow"),
    ("mixed", "mytool test | grep -v x | sort | uniq -c", "allow"),
    ("mixed", "mytool test | sed -n 1p", "allow"),
    ("mixed", "mytool test | wc -l", "allow"),
    ("mixed", "mytool test | xargs mytool test", "allow"),
    ("mixed", "mytool test; echo done", "allow"),
    ("mixed", "mytool test && ls -la", "allow"),
    ("mixed", "mytool test && git status", "allow"),
    ("mixed", "mytool test | awk '{print $1}'", "prompt"),
    ("mixed", "mytool test | tee log.txt", "prompt"),
    ("mixed", "mytool test && env", "prompt"),
    ("mixed", "mytool test || exit 1", "prompt"),
    ("mixed", "mytool test && :", "prompt"),
    ("mixed", "mytool test && sort -o f x", "prompt"),
    ("mixed", "mytool test && find . -exec ls {} +", "prompt"),
    ("mixed", "mytool test && sed -i s/a/b/ f", "prompt"),
    ("mixed", "echo x | mytool test", "allow"),
    ("mixed", "for i in 1 2; do mytool test; done", "allow"),
    ("mixed", "if true; then mytool test; fi", "allow"),
    ("mixed", "(mytool test)", "prompt"),
    ("mixed", "mytool test $(echo hi)", "prompt"),
    ("mixed", "bash -c 'mytool test'", "prompt"),
    # wildcard forms: a trailing ` *` also matches the bare prefix; `*` mid-pattern spans words
    ("mixed", "mytool run", "allow"),
    ("mixed", "mytool run build --watch", "allow"),
    ("mixed", "mytool runner", "prompt"),
    ("mixed", "tool2 push origin main", "allow"),
    ("mixed", "tool2 push origin dev", "prompt"),
    # exact form
    ("mixed", "tool2", "allow"),
    ("mixed", "tool2 x", "prompt"),
    ("mixed", "tool2-x", "prompt"),
    # deny wins over allow anywhere in the line, through wrappers, assignments and substitutions
    ("mixed", "mytool deploy", "deny"),
    ("mixed", "mytool deploy --prod", "deny"),
    ("mixed", "mytool test && mytool deploy", "deny"),
    ("mixed", "timeout 5 mytool deploy", "deny"),
    ("mixed", "FOO=1 mytool deploy", "deny"),
    ("mixed", "mytool deploy|cat", "deny"),
    ("mixed", "echo $(mytool deploy)", "deny"),
    ("mixed", "rm -rf build", "deny"),
    # ask wins over allow
    ("mixed", "mytool publish x", "ask"),
    ("mixed", "mytool test --slow", "ask"),
    ("mixed", "mytool test --slow && echo ok", "ask"),
    # `cd` inside the project is fine on its own, not together with writes
    ("mixed", "cd sub && mytool test", "allow"),
    ("mixed", "mkdir -p sub && cd sub && mytool test", "prompt"),
    # everything allowed, except what deny/ask rules catch
    ("allow-all", "mytool build > out.txt", "allow"),
    ("allow-all", "mytool test $(echo hi)", "allow"),
    ("allow-all", "(mytool test)", "allow"),
    ("allow-all", "mytool deploy", "deny"),
    ("allow-all", "mytool deploy --prod", "allow"),
    ("star-with-ask", "mytool anything | tail -3", "allow"),
    ("star-with-ask", "tool2 push origin", "ask"),
    # an ask rule on one part: Claude Code prompts for the whole line (the hook leaves it alone)
    ("star-with-ask", "mytool test && tool2 push", "prompt"),
    # no rules: only Claude Code's own read-only checks let anything through
    ("none", "mytool test", "prompt"),
    ("none", "ls -la | head -3", "allow"),
    ("none", "git status && git log -1", "allow"),
    ("none", "mytool test | tail -5", "prompt"),
]
