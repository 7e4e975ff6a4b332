"""Where Claude Code's permission rules come from, read the way the hook needs them.

Files (code.claude.com/docs/en/settings): managed settings, the user's settings.json, the
project's .claude/settings.json and .claude/settings.local.json; plus the running `claude`
process's own `--allowedTools`, `--disallowedTools` and `--settings` arguments, read from
/proc because a hook gets no other view of them.

Deny and ask rules are gathered from every candidate project directory (CLAUDE_PROJECT_DIR
and each parent of the payload's cwd), so none is missed. Allow rules come from the project
only when Claude Code would honour them: in a workspace whose trust dialog was accepted.
"""
from __future__ import annotations

import os

from runq.hook.permissions import ALLOW, ASK, DENY, RuleSet
from runq.protocol import fastjson

MANAGED_DIR = "/etc/claude-code"
_CLI_LISTS = {"--allowedTools": ALLOW, "--allowed-tools": ALLOW,
              "--disallowedTools": DENY, "--disallowed-tools": DENY}


class Sources:
    """Rules from everything but the project's allow lists, which wait for a trust check."""

    __slots__ = ("project_allow", "project_dirs", "rules", "sandboxed")

    def __init__(self) -> None:
        self.rules = RuleSet()
        self.project_allow = RuleSet()
        self.project_dirs: list[str] = []
        self.sandboxed = False


def config_dir() -> str:
    return os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")


def global_state_file() -> str:
    explicit = os.environ.get("CLAUDE_CONFIG_DIR")
    return os.path.join(explicit, ".claude.json") if explicit else os.path.join(os.path.expanduser("~"), ".claude.json")


def project_candidates(cwd: str | None) -> list[str]:
    dirs: list[str] = []
    explicit = os.environ.get("CLAUDE_PROJECT_DIR")
    if explicit:
        dirs.append(os.path.abspath(explicit))
    if cwd:
        current = os.path.abspath(cwd)
        while True:
            if current not in dirs:
                dirs.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return dirs


def load(cwd: str | None, claude_argv: list[str] | None) -> Sources:
    sources = Sources()
    for path in _managed_files():
        _add_file(sources, sources.rules, path, "managed")
    user = config_dir()
    _add_file(sources, sources.rules, os.path.join(user, "settings.json"), "user")
    explicit = os.environ.get("CLAUDE_PROJECT_DIR")
    explicit = os.path.abspath(explicit) if explicit else None
    for directory in project_candidates(cwd):
        # Allow rules count only from the one project Claude Code reads: CLAUDE_PROJECT_DIR,
        # or failing that the nearest directory that has settings.
        allow_target = sources.project_allow if not sources.project_dirs else RuleSet()
        found = False
        for name, label in (("settings.json", "project"), ("settings.local.json", "local")):
            path = os.path.join(directory, ".claude", name)
            if _add_file(sources, allow_target, path, f"{label} {path}"):
                found = True
        if found or (directory == explicit and not sources.project_dirs):
            sources.project_dirs.append(directory)
    if claude_argv:
        _add_cli(sources, claude_argv)
    return sources


def _managed_files() -> list[str]:
    files = [os.path.join(MANAGED_DIR, "managed-settings.json")]
    drop_in = os.path.join(MANAGED_DIR, "managed-settings.d")
    try:
        files.extend(os.path.join(drop_in, name) for name in sorted(os.listdir(drop_in)) if name.endswith(".json"))
    except OSError:
        pass
    return files


def _add_file(sources: Sources, allow_target: RuleSet, path: str, label: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            data = fastjson.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    _add_settings(sources, allow_target, data, label)
    return True


def _add_settings(sources: Sources, allow_target: RuleSet, data: object, label: str) -> None:
    if not isinstance(data, dict):
        return
    permissions = data.get("permissions")
    if isinstance(permissions, dict):
        sources.rules.add(DENY, permissions.get("deny"), label)
        sources.rules.add(ASK, permissions.get("ask"), label)
        allow_target.add(ALLOW, permissions.get("allow"), label)
    sandbox = data.get("sandbox")
    if isinstance(sandbox, dict) and sandbox.get("enabled") is True:
        sources.sandboxed = True


def _add_cli(sources: Sources, argv: list[str]) -> None:
    index = 0
    while index < len(argv):
        arg = argv[index]
        name, _, inline = arg.partition("=")
        if name in _CLI_LISTS:
            values = [inline] if inline else []
            index += 1
            while not inline and index < len(argv) and not argv[index].startswith("-"):
                values.append(argv[index])
                index += 1
            rules = [rule for value in values for rule in split_tool_list(value)]
            sources.rules.add(_CLI_LISTS[name], rules, f"command line {name}")
            continue
        if name == "--settings" and index + 1 < len(argv):
            value = inline or argv[index + 1]
            _add_cli_settings(sources, value)
        index += 1


def _add_cli_settings(sources: Sources, value: str) -> None:
    text = value
    if not value.lstrip().startswith("{"):
        try:
            with open(value, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            return
    try:
        _add_settings(sources, sources.rules, fastjson.loads(text), "command line --settings")
    except ValueError:
        return


def split_tool_list(value: str) -> list[str]:
    """`"Bash(git log:*) Edit,Read"` -> its rules; separators inside parentheses don't split."""
    rules: list[str] = []
    depth = 0
    current: list[str] = []
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if depth == 0 and char in ", ":
            if current:
                rules.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        rules.append("".join(current))
    return rules


def workspace_trusted(directories: list[str]) -> bool:
    """Whether Claude Code's trust dialog was accepted for any of these directories' trees."""
    try:
        with open(global_state_file(), encoding="utf-8") as handle:
            state = fastjson.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    projects = state.get("projects") if isinstance(state, dict) else None
    if not isinstance(projects, dict):
        return False
    for directory in directories:
        current = directory
        while True:
            entry = projects.get(current)
            if isinstance(entry, dict) and entry.get("hasTrustDialogAccepted") is True:
                return True
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return False


def claude_argv() -> list[str] | None:
    """The argv of the `claude` process that ran this hook (parent or grandparent)."""
    pid = os.getppid()
    for _ in range(3):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = [part.decode("utf-8", "surrogateescape") for part in handle.read().split(b"\0") if part]
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            return None
        if any("claude" in part for part in argv[:2]):
            return argv
        # the parent pid is the 4th field, after the ")" that ends the command name
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) < 2:
            return None
        pid = int(fields[1])
        if pid <= 1:
            return None
    return None
