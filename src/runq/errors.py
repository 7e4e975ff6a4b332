"""runq's error type and the exit-code table. Expected failures print one line, never a traceback."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # a request the daemon refused (unknown id, bad group, ...), as pueue does
EXIT_USAGE = 2  # bad command-line arguments
EXIT_TIMEOUT = 124  # `run --timeout` fired, as coreutils `timeout`
EXIT_UNREACHABLE = 125  # runq itself could not reach or start its daemon (as env, nohup and timeout use 125)


class RunqError(Exception):
    """An error a user can hit; its message is one actionable line."""

    exit_code = EXIT_FAILURE


class UsageError(RunqError):
    exit_code = EXIT_USAGE


class DaemonUnreachable(RunqError):
    exit_code = EXIT_UNREACHABLE


class ProtocolError(RunqError):
    """A frame that breaks the wire format."""


class ConfigError(RunqError):
    """A config file that cannot be read or has a bad key."""
