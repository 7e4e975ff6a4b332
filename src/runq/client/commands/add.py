"""Enqueue a task for later execution."""
from __future__ import annotations

import argparse
import os
import sys

from runq.client.commands._command import command_string
from runq.client.common import open_connection, parse_delay
from runq.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command", nargs=argparse.REMAINDER, help="one shell string, or a program and its arguments")
    parser.add_argument("-w", "--working-directory", help="the task's working directory (default: here)")
    parser.add_argument("-e", "--escape", action="store_true", help="shell-escape every argument")
    parser.add_argument("-i", "--immediate", action="store_true", help="start now, ignoring slots, pauses and dependencies")
    parser.add_argument("--follow", action="store_true", help="with --immediate: follow the output")
    parser.add_argument("-s", "--stashed", action="store_true", help="add it stashed (start it with `enqueue`)")
    parser.add_argument("-d", "--delay", help="stash it until then (seconds, 30s, 5m, 2h, or an ISO date-time)")
    parser.add_argument("-g", "--group", default=None, help="the group (default: default)")
    parser.add_argument("-a", "--after", nargs="+", action="extend", type=int, default=[], metavar="ID", help="start only after these tasks succeeded")
    parser.add_argument("-o", "--priority", type=int, default=0, help="higher starts first")
    parser.add_argument("-l", "--label", help="free text shown in status")
    parser.add_argument("-p", "--print-task-id", action="store_true", help="print only the new id")
    parser.add_argument("--timeout", type=float, help="seconds before SIGTERM (then SIGKILL after the grace period)")
    parser.add_argument("--retries", type=int, default=0, help="re-run a failed attempt up to N times, with backoff")


def request_from(args: argparse.Namespace, command: list[str]) -> dict:
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("runq: add needs a command, e.g. runq add -- make test")
    try:
        cwd = os.path.realpath(args.working_directory) if args.working_directory else os.getcwd()
    except OSError as exc:  # the shell's current directory was removed under it
        raise UsageError(f"runq: cannot read the current directory ({exc.strerror}); pass -w DIR") from None
    request = {
        "command": command_string(command, args.escape), "cwd": cwd, "env": dict(os.environ),
        "group": args.group, "label": args.label, "after": args.after, "priority": args.priority,
        "timeout": args.timeout, "retries": args.retries, "origin": "cli",
    }
    if args.working_directory and not os.path.isdir(cwd):
        raise UsageError(f"runq: working directory does not exist: {args.working_directory}")
    return request


def run(args: argparse.Namespace) -> int:
    if args.follow and not args.immediate:
        raise UsageError("runq: --follow needs --immediate")
    if args.follow and args.print_task_id:
        raise UsageError("runq: --follow and --print-task-id cannot be combined")
    if args.immediate and (args.stashed or args.delay):
        raise UsageError("runq: --immediate cannot be combined with --stashed or --delay")
    request = request_from(args, args.command)
    if args.delay:
        request["delay_until"] = parse_delay(args.delay)
    with open_connection() as conn:
        reply = conn.call("add", stashed=args.stashed, immediate=args.immediate, **request)
    task_id = reply["id"]
    if args.print_task_id:
        sys.stdout.write(f"{task_id}\n")
        return 0
    out = sys.stderr if args.follow else sys.stdout
    out.write(f"New task added (id {task_id}).\n")
    if reply.get("group_paused") and not args.follow:
        out.write("The group of this task is currently paused!\n")
    if args.follow:
        from runq.client.commands.follow import follow_task

        return follow_task(task_id, None)
    return 0
