"""Shared fixtures: a private RUNQ_HOME per test, a real daemon, and the real CLI as a subprocess."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.01) -> object:
    """Poll `condition` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own RUNQ_HOME; no test may touch the real one.

    The directory is short (under /tmp) because a Unix socket path must fit in 108 bytes.
    """
    root = Path(tempfile.mkdtemp(prefix="rq"))
    home = root / "home"
    monkeypatch.setenv("RUNQ_HOME", str(home))
    # No test may read or write the real user's dotfiles (~/.claude settings, XDG data).
    user_home = root / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.delenv("RUNQ_CONFIG", raising=False)
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    yield home
    _stop_daemon(home)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


def _stop_daemon(home: Path) -> None:
    """Kill the test's daemon and every process still carrying its RUNQ_HOME (shims and tasks
    outlive the daemon by design, so a test must not leave them behind)."""
    marker = f"RUNQ_HOME={home}".encode()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


RunqCli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def runq(home: Path) -> RunqCli:
    """Run the real CLI: runq("add", "--", "true") -> CompletedProcess (bytes unless text=True)."""

    def invoke(*args: str, input: bytes | str | None = None, timeout: float = 60, text: bool = True,
               cwd: str | None = None, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        return subprocess.run([sys.executable, "-m", "runq", *args], input=input, capture_output=True,
                              timeout=timeout, text=text, cwd=cwd, env=full_env, check=check)

    return invoke


@pytest.fixture
def daemon(runq: RunqCli, home: Path) -> Path:
    """A running daemon for this test's RUNQ_HOME (started the way users start it: on demand)."""
    result = runq("group")
    assert result.returncode == 0, result.stderr
    return home
