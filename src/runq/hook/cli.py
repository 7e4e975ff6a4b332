"""Set up the Claude Code hook: runq hook install | uninstall | status | claude."""
from __future__ import annotations

import argparse
import os
import sys

from runq.errors import UsageError
from runq.hook import install


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hook_command", metavar="SUBCOMMAND")
    add = sub.add_parser("install", help="add runq's hook to a Claude Code settings file",
                         description="Add runq's PreToolUse/PostToolUse Bash hook to a Claude Code settings file.")
    _scope_flags(add, "user")
    add.add_argument("--dry-run", action="store_true", help="show the change without writing it")
    add.add_argument("--timeout", type=int, help="hook timeout in seconds (default: [hook] timeout, 10)")
    add.add_argument("--shell-form", action="store_true",
                     help="write one command string instead of command+args (Claude Code before 2.1.139)")
    remove = sub.add_parser("uninstall", help="remove runq's hook from Claude Code settings",
                            description="Remove runq's hook entries (from every scope unless one is given).")
    _scope_flags(remove, None)
    remove.add_argument("--dry-run", action="store_true", help="show the change without writing it")
    status = sub.add_parser("status", help="where the hook is installed and what it did lately")
    status.add_argument("-n", "--limit", type=int, default=20, help="recent decisions to show (default 20)")
    status.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("claude", help="the hook itself: reads a Claude Code hook payload on stdin")


def _scope_flags(parser: argparse.ArgumentParser, default: str | None) -> None:
    group = parser.add_mutually_exclusive_group()
    for scope, where in (("user", "~/.claude/settings.json"), ("project", ".claude/settings.json"),
                         ("local", ".claude/settings.local.json")):
        group.add_argument(f"--{scope}", dest="scope", action="store_const", const=scope,
                           help=f"{where}{' (default)' if scope == default else ''}")
    parser.set_defaults(scope=default)


def run(args: argparse.Namespace) -> int:
    command = args.hook_command
    if command == "install":
        return _install(args)
    if command == "uninstall":
        return _uninstall(args)
    if command == "status":
        from runq.hook import status

        return status.show(args.limit, args.json)
    if command == "claude":
        from runq.hook import claude

        return claude.main([])
    raise UsageError("runq: hook needs a subcommand: install, uninstall, status or claude")


def _install(args: argparse.Namespace) -> int:
    timeout = args.timeout
    if timeout is None:
        from runq import config

        timeout = config.load().get("hook", "timeout")
    if timeout <= 0:
        raise UsageError("runq: --timeout must be a positive number of seconds")
    path = install.settings_path(args.scope, os.getcwd())
    current = install.read(path)
    updated = install.with_hook(current, install.handler(timeout, shell_form=args.shell_form))
    return _apply(path, current, updated, args.dry_run, "installed")


def _uninstall(args: argparse.Namespace) -> int:
    scopes = [args.scope] if args.scope else list(install.SCOPES)
    changed = 0
    for scope in scopes:
        path = install.settings_path(scope, os.getcwd())
        current = install.read(path)
        updated = install.without_hook(current)
        if updated != current:
            _apply(path, current, updated, args.dry_run, "removed")
            changed += 1
    if not changed:
        print("runq: no runq hook found in " + ", ".join(install.settings_path(s, os.getcwd()) for s in scopes))
    return 0


def _apply(path: str, current: dict, updated: dict, dry_run: bool, verb: str) -> int:
    if updated == current:
        print(f"runq: hook already {verb} in {path}; nothing to change")
        return 0
    if dry_run:
        import difflib

        diff = difflib.unified_diff(install.render(current).splitlines(keepends=True),
                                    install.render(updated).splitlines(keepends=True), path, path + " (new)")
        sys.stdout.writelines(diff)
        print(f"runq: dry run, {path} not changed")
        return 0
    install.write(path, updated)
    print(f"runq: hook {verb} in {path}")
    return 0
