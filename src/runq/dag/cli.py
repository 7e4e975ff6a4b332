"""Run a declarative DAG file of tasks (groups, dependencies, timeouts, retries) through the daemon."""
from __future__ import annotations

import argparse
import sys

from runq.errors import EXIT_FAILURE, EXIT_OK, UsageError

EXIT_INTERRUPTED = 130


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dag_command", metavar="ACTION")
    run_parser = sub.add_parser("run", help="validate FILE, queue its tasks and follow them to the end",
                                description="Validate FILE, queue its tasks and follow them to the end. "
                                            "Exit 0 only if every task succeeded (1 otherwise, 2 for an invalid "
                                            "file, 130 when interrupted).")
    run_parser.add_argument("file", metavar="FILE", help="a TOML file with [groups.NAME] and [tasks.NAME] tables")
    run_parser.add_argument("--fail-fast", action="store_true",
                            help="at the first failure, kill the running tasks and cancel the rest")
    run_parser.add_argument("--rerun-failed", action="store_true",
                            help="run only the tasks that failed or never ran in the last run of FILE")
    run_parser.add_argument("--json", action="store_true", help="print only a machine-readable summary")
    check_parser = sub.add_parser("validate", help="check FILE and print the order its tasks would be queued in")
    check_parser.add_argument("file", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    if args.dag_command == "validate":
        return validate(args.file)
    if args.dag_command == "run":
        return run_file(args.file, fail_fast=args.fail_fast, rerun_failed=args.rerun_failed, json_output=args.json)
    raise UsageError("runq: dag needs an action: `runq dag run FILE` or `runq dag validate FILE`")


def validate(path: str) -> int:
    from runq.dag.parse import load
    from runq.dag.plan import plan_run

    dag = load(path)
    order = plan_run(dag).order
    groups = sorted({t.group for t in dag.tasks})
    sys.stdout.write(f"{path}: ok: {len(dag.tasks)} task(s) in group(s) {', '.join(groups)}\n")
    sys.stdout.write("order: " + " ".join(t.name for t in order) + "\n")
    return EXIT_OK


def run_file(path: str, fail_fast: bool, rerun_failed: bool, json_output: bool) -> int:
    from runq.dag.execute import execute
    from runq.dag.parse import load
    from runq.dag.summary import render_json, render_text

    dag = load(path)
    outcome = execute(dag, fail_fast=fail_fast, rerun_failed=rerun_failed, json_output=json_output)
    sys.stdout.write((render_json(outcome) if json_output else render_text(outcome)) + "\n")
    sys.stdout.flush()
    if outcome.ok:
        return EXIT_OK
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_FAILURE
