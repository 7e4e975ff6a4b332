"""Wait until tasks are done (or reach another status); event-driven, no polling."""
from __future__ import annotations

import argparse
import sys
import time

from runq.client.common import add_selection, open_connection, selection
from runq.client.render import status_text
from runq.errors import DaemonUnreachable


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection(parser, verb="wait for")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    parser.add_argument("-s", "--status", default="done", type=str.lower,
                        choices=["done", "success", "queued", "running"],
                        help="the status to wait for; with `success` exit 1 as soon as one fails")


def run(args: argparse.Namespace) -> int:
    say = (lambda text: None) if args.quiet else _printer()
    for attempt in range(3):
        try:
            return _wait(args, say)
        except DaemonUnreachable:
            # The daemon died mid-wait (a crash or a restart): tasks outlive it, so wait on the next one.
            if attempt == 2:
                raise
            sys.stderr.write("runq: lost the daemon while waiting; reattaching\n")
    return 1


def _wait(args: argparse.Namespace, say) -> int:  # type: ignore[no-untyped-def]
    with open_connection() as conn:
        for reply in conn.stream("wait", target=args.status, quiet=args.quiet, **selection(args)):
            if reply.get("empty"):
                sys.stderr.write("No tasks found for this selection.\n")
                return 0
            event = reply.get("event")
            if event == "start":
                for task in reply["tasks"]:
                    if task["status"] in ("Running", "Paused"):
                        say(f"Found active Task {task['id']} with status {task['status']}")
            elif event == "task":
                say(_describe(reply["task"], reply.get("previous")))
            if reply.get("done"):
                return 1 if args.status == "success" and reply.get("failed") is not None else 0
    return 0


def _printer():  # type: ignore[no-untyped-def]
    def say(text: str) -> None:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} - {text}\n")
        sys.stdout.flush()
    return say


def _describe(task: dict, previous: str | None) -> str:
    number = task["id"]
    if previous is None:
        return f"New task {number} with status {task['status']}"
    if previous == "Removed":
        return f"Task {number} was removed"
    if task["status"] != "Done":
        return f"Task {number} changed from {previous} to {task['status']}"
    result = task["result"]
    if result == "Success":
        return f"Task {number} succeeded with 0"
    if result == "Failed":
        return f"Task {number} failed with {task['exit_code']}"
    if result == "DependencyFailed":
        return f"Task {number} failed due to failed dependencies"
    if result == "FailedToSpawn":
        return f"Task {number} failed to spawn"
    if result == "Errored":
        return f"Task {number} experienced an IO error."
    return f"Task {number} has been killed" if not task.get("timed_out") else f"Task {number} timed out ({status_text(task)})"
