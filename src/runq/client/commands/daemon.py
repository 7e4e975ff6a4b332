"""Run the daemon in the foreground (for systemd or debugging); clients start it on demand otherwise."""
from __future__ import annotations

import argparse
import os
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--daemonize", action="store_true", help="fork into the background (as `pueued -d`)")


def run(args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "runq.engine.daemon"]
    if args.daemonize:
        argv.append("--background")
    os.execv(sys.executable, argv)
    return 1
