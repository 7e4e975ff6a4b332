"""Stop the daemon. Running tasks follow daemon.shutdown_policy (default: keep running, adopted on restart)."""
from __future__ import annotations

import argparse
import os
import time

from runq import paths
from runq.client.connection import connect
from runq.errors import DaemonUnreachable


def configure(parser: argparse.ArgumentParser) -> None:
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--kill-tasks", dest="policy", action="store_const", const="kill", help="kill running tasks first")
    policy.add_argument("--wait-tasks", dest="policy", action="store_const", const="wait", help="wait for running tasks first")
    policy.add_argument("--detach-tasks", dest="policy", action="store_const", const="detach", help="leave them running")


def run(args: argparse.Namespace) -> int:
    try:
        conn = connect(autostart=False)
    except DaemonUnreachable:
        print("runq: no daemon is running")
        return 0
    with conn:
        pid = conn.call("ping")["pid"]
        reply = conn.call("shutdown", policy=args.policy)
    print(reply.get("message", "Daemon is shutting down"))
    if args.policy != "wait":
        _wait_gone(pid, paths.home())
    return 0


def _wait_gone(pid: int, root: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and os.path.exists(paths.pid_file(root)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
