"""RUNQ_HOME on a full filesystem: a task whose output fills it ends with a clear result, the
daemon stays up, state.db stays consistent, and everything works again once space is freed.

The filesystem is a real 8 MB tmpfs mounted by the test (root only), so ENOSPC comes from the
kernel, for the log, the exit file, SQLite's WAL and history.db alike.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_until
from reliability_support import (add, alive, call, daemon_pid, group_alive, held_lock, history_rows, integrity,
                                 task_processes, tasks)
from runq.errors import RunqError


def _kill_processes_of(home: Path) -> None:
    """SIGKILL the daemon, its workers and tasks of this home, and wait until they are gone."""
    marker = f"RUNQ_HOME={home}".encode()
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
            except ProcessLookupError:
                pass
    wait_until(lambda: not any(alive(pid) for pid in killed))


@pytest.fixture
def small_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="rqfd", dir="/tmp"))  # short: the socket path must fit
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)], check=True)
    home = mount / "home"
    monkeypatch.setenv("RUNQ_HOME", str(home))
    try:
        yield home
    finally:
        _kill_processes_of(home)  # the shared teardown only knows the test's original home
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)
        shutil.rmtree(mount, ignore_errors=True)


def test_output_filling_the_disk_ends_clearly_and_runq_recovers_when_space_is_freed(runq, small_disk: Path) -> None:
    home = small_disk
    # A log cap larger than the 8 MB disk, so the task's output fills it.
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[logs]\nmax_bytes = 67108864\n")
    assert runq("group").returncode == 0
    pid = daemon_pid(home)
    before = add(home, "echo before")
    assert runq("wait", str(before)).returncode == 0

    # 20 MB of output into an 8 MB filesystem.
    filler = add(home, "head -c 20M /dev/zero")
    wait_until(lambda: shutil.disk_usage(home).free < 64 * 1024 and not task_processes(home, filler), timeout=60)

    # While the disk is full the daemon stays up, and every client gets its answer or one clear
    # line naming the full disk: never a traceback, a hang or a silent exit.
    for args in (("status",), ("add", "--", "echo while-full"), ("wait", str(filler)), ("log", str(filler))):
        result = runq(*args, timeout=60)
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            assert result.stderr.strip().count("\n") == 0 and "full" in result.stderr, (args, result.stderr)
    assert alive(pid)
    assert integrity(home / "state.db") == "ok"

    # Free the space (the log of the task that filled it) and everything works again.
    (home / "task_logs" / f"{filler}.log").unlink()
    after = add(home, "echo after")
    assert runq("wait", "-a", timeout=60).returncode == 0
    final = tasks(home)
    assert final[after]["result"] == "Success"
    assert (home / "task_logs" / f"{after}.log").read_text() == "after\n"
    assert {final[i]["result"] for i in final} == {"Success"}
    # The filler's own result is clear: the command succeeded, its log could not be kept whole.
    assert (final[filler]["result"], final[filler]["exit_code"]) == ("Success", 0)
    assert "No space left on device" in (final[filler]["spawn_error"] or ""), final[filler]
    assert final[filler]["stdout_bytes"] == 20 * 1024 * 1024
    assert call(home, "ping")["pid"] == pid
    assert integrity(home / "state.db") == "ok"
    assert integrity(home / "history.db") == "ok"
    # The history kept the filler's record through the full disk and wrote it once it could.
    wait_until(lambda: sorted(row["task_id"] for row in history_rows(home)) == [before, filler, after])


def test_state_write_failing_on_a_full_disk_does_not_lose_a_task_end(runq, small_disk: Path, tmp_path: Path) -> None:
    """The end arrives while nothing can be saved (not even the exit file): the daemon must keep
    the report and record it once space is back, not leave the task Running forever."""
    home = small_disk
    assert runq("group").returncode == 0
    pid = daemon_pid(home)
    ballast = home / "ballast"
    lock = tmp_path / "lock"  # on the real disk: the test can still let go of it
    with held_lock(lock):
        task_id = add(home, f"flock -s {lock} true; exit 3")
        pgid = wait_until(lambda: tasks(home)[task_id]["status"] == "Running" and tasks(home)[task_id]["pgid"])
        _fill(ballast)  # to the last byte; then the task ends
    wait_until(lambda: not group_alive(pgid))
    assert alive(pid)
    ballast.unlink()
    # Freed: the end is saved (in state.db itself, not only in the daemon's memory) and recorded
    # in the history once, without any client action on the task (a ping gives the loop a turn).
    wait_until(lambda: _ping(home) and _durable_status(home, task_id) == "Done", timeout=30)
    task = tasks(home)[task_id]
    assert (task["result"], task["exit_code"]) == ("Failed", 3)
    wait_until(lambda: [row["task_id"] for row in history_rows(home)] == [task_id])
    assert integrity(home / "state.db") == "ok"
    # And the queue still runs tasks.
    assert runq("wait", str(add(home, "true"))).returncode == 0


def _ping(home: Path) -> bool:
    try:
        call(home, "ping")
    except RunqError:
        return False
    return True


def _durable_status(home: Path, task_id: int) -> str:
    db = sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True)
    try:
        return json.loads(db.execute("SELECT data FROM tasks WHERE id = ?", (task_id,)).fetchone()[0])["status"]
    finally:
        db.close()


def _fill(path: Path) -> None:
    """Write zeros until the filesystem refuses even one more byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                pass
    finally:
        os.close(fd)



def test_history_store_keeps_a_record_whose_commit_failed_on_a_full_disk(small_disk: Path) -> None:
    """The daemon's history writer keeps a record it could not write and writes it before the
    next one (it used to drop a record whose COMMIT failed). Driven directly, with the daemon's
    own call, so the outcome does not depend on which database hits the full disk first."""
    from runq.telemetry.schema import HistoryError
    from runq.telemetry.store import HistoryStore

    small_disk.mkdir()
    store = HistoryStore.open(str(small_disk / "history.db"))
    record = {"command": "true", "ended_at": 1.0, "result": "Success", "env": {"PAD": "x" * 2000}}
    try:
        store.record({**record, "id": 1})
        _fill(small_disk / "ballast")
        with pytest.raises(HistoryError):
            store.record({**record, "id": 2})
        (small_disk / "ballast").unlink()
        store.record({**record, "id": 3})
    finally:
        store.close()
    db = sqlite3.connect(str(small_disk / "history.db"))
    try:
        assert [row[0] for row in db.execute("SELECT task_id FROM attempts ORDER BY id")] == [1, 2, 3]
    finally:
        db.close()


def test_tasks_started_or_added_while_nothing_can_be_saved_run_once_or_not_at_all(runq, small_disk: Path, tmp_path: Path) -> None:
    """A start the disk refused to save must not happen anyway once space is back: a queued task
    runs exactly once, and an add the client was told failed never runs."""
    home = small_disk
    assert runq("group").returncode == 0
    lock = tmp_path / "lock"
    runs = tmp_path / "runs"  # on the real disk
    with held_lock(lock):
        first = add(home, f"flock -s {lock} true")
        queued = add(home, f"echo queued >> {runs}")  # one slot: waits behind the first
        wait_until(lambda: tasks(home)[first]["status"] == "Running" and tasks(home)[first]["pgid"])
        pgid = tasks(home)[first]["pgid"]
        _fill(home / "ballast")
    wait_until(lambda: not group_alive(pgid))  # the end, then the start of `queued`: unsaved
    refused = runq("add", "--", f"echo refused >> {runs}")
    assert refused.returncode != 0 and "full" in refused.stderr, refused.stderr
    (home / "ballast").unlink()
    wait_until(lambda: _ping(home) and _durable_status(home, queued) == "Done", timeout=30)
    assert runq("wait", "-a").returncode == 0
    assert runs.read_text() == "queued\n"
    assert sorted(tasks(home)) == [first, queued]
