"""Entry point: `runq COMMAND ...`. It only dispatches.

`run` and `hook claude` take a fast path that skips argparse: every agent command pays their
start-up twice (the hook, then the wrapper), and argparse alone costs about 7 ms here. So do
`status --json` (what jq pipelines call) and `stats` without filters (an index-only view costs
little more than the start).
"""
from __future__ import annotations

import sys

from runq.errors import RunqError, UsageError

# subcommand -> module exposing configure(parser) and run(args) -> int
COMMANDS: dict[str, str] = {
    "add": "runq.client.commands.add",
    "status": "runq.client.commands.status",
    "log": "runq.client.commands.log",
    "follow": "runq.client.commands.follow",
    "wait": "runq.client.commands.wait",
    "kill": "runq.client.commands.kill",
    "clean": "runq.client.commands.clean",
    "remove": "runq.client.commands.remove",
    "restart": "runq.client.commands.restart",
    "pause": "runq.client.commands.pause",
    "start": "runq.client.commands.start",
    "stash": "runq.client.commands.stash",
    "enqueue": "runq.client.commands.enqueue",
    "group": "runq.client.commands.group",
    "parallel": "runq.client.commands.parallel",
    "reset": "runq.client.commands.reset",
    "shutdown": "runq.client.commands.shutdown",
    "daemon": "runq.client.commands.daemon",
    "run": "runq.client.commands.run",
    "hook": "runq.hook.cli",
    "stats": "runq.telemetry.cli_stats",
    "history": "runq.telemetry.cli_history",
    "dag": "runq.dag.cli",
}
ALIASES = {"rm": "remove", "re": "restart", "fo": "follow", "cleanup": "clean", "clear": "clean"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and (argv[0] == "run" or argv[0] == "--"):
            from runq.client.commands import run

            return run.main_fast(argv[1:] if argv[0] == "run" else argv)
        if _is_plain_status_json(argv):
            from runq.client.commands import status

            group = argv[argv.index("-g") + 1] if "-g" in argv else argv[argv.index("--group") + 1] if "--group" in argv else None
            return status.print_json(group)
        if argv and argv[0] == "stats" and "-h" not in argv and "--help" not in argv:
            from runq.telemetry import cli_stats

            answered = cli_stats.plain(argv[1:])
            if answered is not None:
                return answered
        if argv[:2] == ["hook", "claude"]:
            from runq.hook import claude

            return claude.main(argv[2:])
        return _dispatch(argv)
    except RunqError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141


def _is_plain_status_json(argv: list[str]) -> bool:
    """`status --json [-g GROUP]`, the call agents and jq pipelines make most: skip argparse."""
    if len(argv) not in (2, 4) or argv[0] != "status" or not ({"--json", "-j"} & set(argv)):
        return False
    rest = [a for a in argv[1:] if a not in ("--json", "-j")]
    return len(rest) == 0 or (len(rest) == 2 and rest[0] in ("-g", "--group") and not rest[1].startswith("-"))


def _dispatch(argv: list[str]) -> int:
    import argparse
    import importlib

    from runq import __version__

    name = ALIASES.get(argv[0], argv[0]) if argv else "status"
    if name in COMMANDS and argv:
        # A known command needs its own parser only: building one per command (argparse's
        # subparsers) cost ~9 ms before the command even started.
        return _run_command(name, argv[1:])
    parser = argparse.ArgumentParser(prog="runq", description="A local task queue for shell commands (pueue-compatible).")
    parser.add_argument("--version", action="version", version=f"runq {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    if not argv:
        argv = ["status"]
    modules = {}
    for command, module_path in COMMANDS.items():
        if command == name or name not in COMMANDS:
            try:
                module = importlib.import_module(module_path)
            except ModuleNotFoundError as exc:
                # A subcommand listed before its module exists must not break `--help` or the others.
                if exc.name != module_path:
                    raise
                if command == name:
                    raise UsageError(f"runq: `{command}` is not available in this version of runq") from None
                sub.add_parser(command, add_help=False)
                continue
            modules[command] = module
            aliases = [a for a, target in ALIASES.items() if target == command]
            doc = (module.__doc__ or "").strip().splitlines()
            command_parser = sub.add_parser(command, aliases=aliases, help=doc[0] if doc else None,
                                            description=doc[0] if doc else None)
            module.configure(command_parser)
        else:
            sub.add_parser(command, add_help=False)
    args = parser.parse_args(argv)
    command = ALIASES.get(args.subcommand, args.subcommand)
    return int(modules[command].run(args) or 0)


def _run_command(name: str, argv: list[str]) -> int:
    import argparse
    import importlib

    module_path = COMMANDS[name]
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if exc.name != module_path:
            raise
        raise UsageError(f"runq: `{name}` is not available in this version of runq") from None
    doc = (module.__doc__ or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=f"runq {name}", description=doc[0] if doc else None)
    module.configure(parser)
    args = parser.parse_args(argv)
    args.subcommand = name
    return int(module.run(args) or 0)
