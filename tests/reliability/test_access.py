"""Only the owner reaches the daemon, the logs and the state.

As root, the test creates a second local user and runs a real runq client as that user against
the root daemon's RUNQ_HOME: refused with one clear line, and nothing under the home readable.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import runq as runq_package
from reliability_support import add, call, tasks

SRC = str(Path(runq_package.__file__).resolve().parents[1])
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def test_home_socket_and_every_file_are_private_to_the_owner(runq, daemon: Path) -> None:
    task_id = add(daemon, "echo secret-output")
    assert runq("wait", str(task_id)).returncode == 0
    entries = [daemon, *daemon.rglob("*")]
    assert len(entries) > 8  # state.db, history.db, the log, the socket, ...
    loose = {str(p.relative_to(daemon)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in entries
             if stat.S_IMODE(p.lstat().st_mode) & 0o077}
    assert loose == {}
    socket_mode = (daemon / "run" / "daemon.sock").lstat().st_mode
    assert stat.S_ISSOCK(socket_mode) and stat.S_IMODE(socket_mode) == 0o600
    for directory in (daemon, daemon / "run", daemon / "task_logs"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.fixture
def other_user() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("creating a second local user needs root")
    name = f"rq{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "--force", name], check=False)


def _python_for(user: str) -> str:
    """An interpreter (3.11+) that the other user can run and that can import runq from here."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([RUNUSER, "-u", user, "--", candidate, "-c",
                                "import sys; assert sys.version_info >= (3, 11); import runq"],
                               env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}, capture_output=True)
        if probe.returncode == 0:
            return candidate
    pytest.skip(f"no Python 3.11+ that user {user} can run with runq importable from {SRC}")


def _as_user(user: str, python: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "RUNQ_HOME": str(home), "HOME": "/nonexistent"}
    return subprocess.run([RUNUSER, "-u", user, "--", python, *args], env=env, capture_output=True,
                          text=True, timeout=60, cwd="/")


PROBE_READS = """
import os, sys
readable = []
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
        readable.append(path)
    except OSError:
        pass
print("\\n".join(readable))
"""


def test_other_user_is_refused_and_can_read_no_log_or_state(runq, daemon: Path, other_user: str) -> None:
    home = daemon
    task_id = add(home, "echo secret-output")
    assert runq("wait", str(task_id)).returncode == 0
    home.parent.chmod(0o755)  # only runq's own modes stand between the user and the home now
    python = _python_for(other_user)

    for args in (("status",), ("log", str(task_id)), ("add", "--", "touch /tmp/pwned"), ("status", "--json")):
        result = _as_user(other_user, python, home, "-m", "runq", *args)
        assert result.returncode != 0, (args, result)
        assert "secret-output" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip() and result.stderr.strip().count("\n") == 0, result.stderr
        assert "permission denied" in result.stderr.lower(), result.stderr
    run = _as_user(other_user, python, home, "-m", "runq", "run", "--", "echo from-the-other-user")
    assert run.returncode == 125 and "from-the-other-user" not in run.stdout
    assert "permission denied" in run.stderr.lower(), run.stderr

    targets = [str(p) for p in [home, *home.rglob("*")]]
    probe = _as_user(other_user, python, home, "-c", PROBE_READS, *targets)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "", f"readable by another user: {probe.stdout}"
    assert list(tasks(home)) == [task_id]  # nothing was added by the refused client


def test_daemon_refuses_another_uid_even_through_a_reachable_socket(runq, daemon: Path, other_user: str) -> None:
    """Defence in depth: with the directories opened up by mistake, SO_PEERCRED still refuses."""
    home = daemon
    python = _python_for(other_user)
    home.parent.chmod(0o755)
    home.chmod(0o711)
    (home / "run").chmod(0o711)
    (home / "run" / "daemon.sock").chmod(0o666)
    try:
        for args in (("status",), ("add", "--", "echo injected")):
            result = _as_user(other_user, python, home, "-m", "runq", *args)
            assert result.returncode != 0, (args, result)
            assert "serves only its owner" in result.stderr, result.stderr
            assert result.stderr.strip().count("\n") == 0, result.stderr
    finally:
        home.chmod(0o700)
        (home / "run").chmod(0o700)
        (home / "run" / "daemon.sock").chmod(0o600)
    assert tasks(home) == {}
    assert call(home, "ping")["ok"] is True
