"""Where runq keeps its state, logs, socket and config. One override: RUNQ_HOME."""
from __future__ import annotations

import os


def home() -> str:
    explicit = os.environ.get("RUNQ_HOME")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "runq")


def state_db(root: str) -> str:
    return os.path.join(root, "state.db")


def history_db(root: str) -> str:
    return os.path.join(root, "history.db")


def task_logs(root: str) -> str:
    return os.path.join(root, "task_logs")


def task_log(root: str, task_id: int) -> str:
    return os.path.join(root, "task_logs", f"{task_id}.log")


def config_file(root: str) -> str:
    explicit = os.environ.get("RUNQ_CONFIG")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(root, "config.toml")


def runtime_dir(root: str) -> str:
    # The socket lives in a 0700 directory inside RUNQ_HOME: a path we control, short enough
    # for sun_path (108 bytes) in the usual cases, and private to the owner.
    return os.path.join(root, "run")


def socket_path(root: str) -> str:
    return os.path.join(runtime_dir(root), "daemon.sock")


def pid_file(root: str) -> str:
    return os.path.join(runtime_dir(root), "daemon.pid")


def lock_file(root: str) -> str:
    return os.path.join(runtime_dir(root), "daemon.lock")


def daemon_log(root: str) -> str:
    return os.path.join(root, "daemon.log")
