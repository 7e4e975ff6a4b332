"""Run a command through the queue as if it ran here: same output, same exit status.

runq run [-w DIR] [-g GROUP] [-l LABEL] [--timeout S] [--retries N] [--detach] [-v|--footer] -- CMD...

The caller's own stdin, stdout and stderr are handed to the daemon (SCM_RIGHTS), and the task's
supervisor writes to them directly while it logs, so output is live and byte-exact. When stdout
and stderr are one file (how agents run commands), the task gets one pipe for both, so their
interleaving is exactly a direct run's. Signals to this process go to the task's process group.

This module is the hot path: no argparse, no json, no re, no socket module.
"""
from __future__ import annotations

import os
import sys

from runq.client.commands._command import command_string
from runq.errors import EXIT_TIMEOUT, EXIT_UNREACHABLE, EXIT_USAGE

USAGE = "usage: runq run [-w DIR] [-g GROUP] [-l LABEL] [--timeout SECONDS] [--retries N] [--detach] [-v] -- CMD..."
VALUE_FLAGS = {"-w": "cwd", "--working-directory": "cwd", "-g": "group", "--group": "group", "-l": "label",
               "--label": "label", "--timeout": "timeout", "--retries": "retries", "--origin": "origin",
               "--session-id": "session_id", "--tool-use-id": "tool_use_id", "--prompt-id": "prompt_id",
               "--agent-id": "agent_id", "-o": "priority", "--priority": "priority"}
BOOL_FLAGS = {"--detach": "detach", "-v": "verbose", "--verbose": "verbose", "--footer": "verbose"}
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP")
REATTACH_TRIES = 20  # reconnects after the daemon vanished mid-run (about 2 s of back-off in all)


class _Usage(Exception):
    pass


def parse(argv: list[str]) -> tuple[dict, list[str]]:
    options: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return options, argv[i + 1:]
        if arg in ("-h", "--help"):
            raise _Usage(__doc__ or "")
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in VALUE_FLAGS:
            if eq:
                value = inline
            else:
                i += 1
                if i >= len(argv):
                    raise _Usage(f"runq: {arg} needs a value")
                value = argv[i]
            options[VALUE_FLAGS[name]] = value
        elif arg in BOOL_FLAGS:
            options[BOOL_FLAGS[arg]] = True
        elif arg.startswith("-") and len(arg) > 1:
            raise _Usage(f"runq: unknown option {arg}\n{USAGE}")
        else:
            return options, argv[i:]
        i += 1
    return options, []


def build_request(options: dict, command: list[str]) -> dict:
    if not command:
        raise _Usage(f"runq: run needs a command\n{USAGE}")
    cwd = options.get("cwd")
    cwd = os.path.realpath(cwd) if cwd else os.getcwd()
    request = {"cmd": "run", "command": command_string(command), "cwd": cwd, "env": dict(os.environ),
               "stdio": "same" if _same_file(1, 2) else "split", "detach": bool(options.get("detach")),
               "umask": _umask()}
    for key in ("group", "label", "origin", "session_id", "tool_use_id", "prompt_id", "agent_id"):
        if options.get(key) is not None:
            request[key] = options[key]
    for key, kind in (("timeout", float), ("retries", int), ("priority", int)):
        if key in options:
            try:
                request[key] = kind(options[key])
            except ValueError:
                raise _Usage(f"runq: --{key} needs a number, not {options[key]!r}") from None
    return request


def _umask() -> int:
    # The only way to read the umask is to set it; set it straight back (this process is single-threaded).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(a: int, b: int) -> bool:
    try:
        first, second = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def exit_status(reply: dict) -> int:
    if reply.get("timed_out"):
        return EXIT_TIMEOUT
    result = reply.get("result")
    if reply.get("signal") is not None:
        return 128 + int(reply["signal"])
    if result == "Success":
        return 0
    if result == "Failed":
        return int(reply.get("exit_code") or 1)
    if result == "FailedToSpawn":
        sys.stderr.write(f"runq: {reply.get('error')}\n")
        return 127
    if result == "Killed":
        return 137
    sys.stderr.write(f"runq: task ended as {result}: {reply.get('error') or 'no detail'}\n")
    return EXIT_UNREACHABLE


def main_fast(argv: list[str]) -> int:
    try:
        options, command = parse(argv)
        request = build_request(options, command)
    except _Usage as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        sys.stderr.write(f"runq: cannot read the current directory: {exc.strerror}\n")
        return EXIT_UNREACHABLE
    from runq.client.connection import connect
    from runq.errors import RunqError

    try:
        conn = connect()
        conn.send(request, fds=[0, 1, 2])
        _forward_signals(conn)
        return _await_end(conn, bool(options.get("verbose")))
    except RunqError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_UNREACHABLE
    except OSError as exc:
        sys.stderr.write(f"runq: lost the daemon: {exc.strerror or exc}\n")
        return EXIT_UNREACHABLE


def _await_end(conn, verbose: bool) -> int:  # type: ignore[no-untyped-def]
    import time

    from runq.errors import DaemonUnreachable

    task_id = None
    started = time.monotonic()
    while True:
        try:
            reply = conn.receive()
        except DaemonUnreachable:
            if task_id is None:
                raise
            reply = _reattach(task_id)
        if reply.get("event") == "started":
            task_id = reply["id"]
            continue
        if reply.get("done"):
            code = exit_status(reply)
            if verbose:
                sys.stderr.write(f"runq: task {reply.get('id', task_id)} {reply.get('result')} "
                                 f"(exit {code}) in {time.monotonic() - started:.3f}s\n")
            return code


def _reattach(task_id: int) -> dict:
    """The daemon went away mid-run: the task keeps running; wait for it through the next daemon.

    The dying daemon's listening socket can outlive the connection we just lost (a killed
    process's sockets are released in no fixed order), so the first reconnect may be accepted
    and then dropped unanswered: such a connection is retried, and the retry starts a new daemon.
    """
    import time

    from runq.client.connection import connect
    from runq.errors import DaemonUnreachable

    for attempt in range(REATTACH_TRIES):
        conn = connect()
        _forward_signals(conn, task_id)  # this connection is not the task's: name it
        try:
            for reply in conn.stream("wait", ids=[task_id], target="done"):
                if reply.get("done"):
                    task = reply["tasks"][0]
                    return {"done": True, "id": task_id, "result": task["result"], "exit_code": task["exit_code"],
                            "signal": task["signal"], "timed_out": task["timed_out"], "error": task["spawn_error"]}
        except (DaemonUnreachable, OSError):
            conn.close()
            if attempt == REATTACH_TRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise OSError(f"task {task_id} vanished")


def _forward_signals(conn, task_id: int | None = None) -> None:  # type: ignore[no-untyped-def]
    import _signal

    message = {"cmd": "signal"} if task_id is None else {"cmd": "signal", "id": task_id}

    def forward(number: int, frame: object) -> None:
        try:
            conn.send({**message, "signal": str(number)})
        except OSError:
            pass

    for name in FORWARDED:
        _signal.signal(getattr(_signal, name), forward)


def configure(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("args", nargs="*")


def run(args) -> int:  # type: ignore[no-untyped-def]
    return main_fast(list(args.args))
