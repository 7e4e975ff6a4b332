"""`runq history` list/show/prune/export and the one-line errors of both telemetry commands."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from history_records import record

from runq import paths
from runq.telemetry.redact import REDACTED
from runq.telemetry.store import HistoryStore


@pytest.fixture
def history(home: Path) -> str:
    home.mkdir(parents=True, exist_ok=True)
    path = paths.history_db(str(home))
    now = time.time()
    store = HistoryStore.open(path)
    log = home / "3.log"
    log.write_text("output\n")
    store.record(record(id=1, command="make old", ended_at=now - 40 * 86400, started_at=now - 40 * 86400 - 1,
                        enqueued_at=now - 40 * 86400 - 2))
    store.record(record(id=2, command="pytest -x", group="tests", label="test:a", result="Failed", exit_code=1,
                        ended_at=now - 3600, started_at=now - 3601, enqueued_at=now - 3602, session_id="s-1"))
    for attempt in (1, 2):
        store.record(record(id=3, attempt=attempt, final=attempt == 2, command="cargo build",
                            result="Failed" if attempt == 1 else "Success", exit_code=attempt - 1 if attempt == 2 else 1,
                            ended_at=now - 60 + attempt, started_at=now - 70 + attempt, enqueued_at=now - 80,
                            log_path=str(log), env={"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "LANG": "C"}))
    store.close()
    return path


def test_list_is_newest_first_with_filters_and_limit(runq, history) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(runq("history", "--json").stdout)
    assert [(r["id"], r["attempt"]) for r in listed] == [(3, 2), (3, 1), (2, 1), (1, 1)]
    assert "env" not in listed[0]
    assert [r["id"] for r in json.loads(runq("history", "--json", "--group", "tests").stdout)] == [2]
    assert [r["id"] for r in json.loads(runq("history", "--json", "--since", "2d").stdout)] == [3, 3, 2]
    assert [r["id"] for r in json.loads(runq("history", "--json", "--command", "cargo*").stdout)] == [3, 3]
    assert [r["id"] for r in json.loads(runq("history", "--json", "--session", "s-1").stdout)] == [2]
    assert len(json.loads(runq("history", "--json", "--limit", "1").stdout)) == 1
    table = runq("history")
    assert table.returncode == 0 and "cargo build" in table.stdout and "make old" in table.stdout


def test_log_path_is_given_only_while_the_log_exists(runq, history, home) -> None:  # type: ignore[no-untyped-def]
    latest = json.loads(runq("history", "--json", "--limit", "1").stdout)[0]
    assert latest["log_path"] == str(home / "3.log")
    (home / "3.log").unlink()
    assert json.loads(runq("history", "--json", "--limit", "1").stdout)[0]["log_path"] is None
    assert "(removed)" in runq("history", "show", "3").stdout


def test_show_gives_every_attempt_in_full_with_the_env_redacted(runq, history) -> None:  # type: ignore[no-untyped-def]
    shown = json.loads(runq("history", "show", "3", "--json").stdout)
    assert [a["attempt"] for a in shown["attempts"]] == [1, 2]
    assert [a["final"] for a in shown["attempts"]] == [False, True]
    assert shown["attempts"][0]["env"] == {"AWS_SECRET_ACCESS_KEY": REDACTED, "LANG": "C"}
    text = runq("history", "show", "3")
    assert "attempt 1 (retried)" in text.stdout and f"AWS_SECRET_ACCESS_KEY={REDACTED}" in text.stdout
    raw = runq("history", "show", "3", "--raw")
    assert raw.returncode == 0 and "never written" in raw.stderr and REDACTED in raw.stdout


def test_show_of_an_unknown_task_is_one_line(runq, history) -> None:  # type: ignore[no-untyped-def]
    missing = runq("history", "show", "99")
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "runq: no history for task 99 (see `runq history` for recorded ids)")


def test_prune_deletes_only_older_records(runq, history) -> None:  # type: ignore[no-untyped-def]
    pruned = runq("history", "prune", "--older-than", "30d")
    assert pruned.returncode == 0 and pruned.stdout.startswith("pruned 1 record ")
    assert [r["id"] for r in json.loads(runq("history", "--json").stdout)] == [3, 3, 2]


def test_export_jsonl_and_csv_carry_every_field(runq, history, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = runq("history", "export", "--format", "jsonl").stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert [(r["id"], r["attempt"]) for r in exported] == [(1, 1), (2, 1), (3, 1), (3, 2)]
    assert exported[-1]["env"]["AWS_SECRET_ACCESS_KEY"] == REDACTED
    target = tmp_path / "out.csv"
    written = runq("history", "export", "--format", "csv", "--output", str(target), "--group", "default")
    assert written.returncode == 0 and "exported 3 records" in written.stderr
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [row["id"] for row in table] == ["1", "3", "3"]
    assert set(table[0]) == set(exported[0])
    assert json.loads(table[2]["env"])["LANG"] == "C"


@pytest.mark.parametrize(("args", "message"), [
    (("stats", "--since", "yesterday"), "runq: --since: cannot read 'yesterday'"),
    (("stats", "--until", "2024-13-45"), "runq: --until: cannot read '2024-13-45'"),
    (("stats", "--since", "1h", "--until", "2h"), "runq: --since (1h) must be earlier than --until (2h)"),
    (("stats", "--limit", "0"), "runq: --limit must be a positive whole number, not '0'"),
    (("stats", "--limit", "ten"), "runq: --limit must be a positive whole number, not 'ten'"),
    (("stats", "--result", "Maybe"), "runq: --result must be one of"),
    (("stats", "--group", ""), "runq: --group must not be empty"),
    (("stats", "--command", " "), "runq: --command must not be empty"),
    (("stats", "nosuchview"), "runq: stats: unknown view 'nosuchview'"),
    (("history", "--since", "3 fortnights"), "runq: --since: cannot read '3 fortnights'"),
    (("history", "show", "abc"), "runq: history show: task id must be a whole number"),
    (("history", "prune", "--older-than", "soon"), "runq: --older-than: cannot read 'soon'"),
    (("history", "export", "--format", "xml"), "runq: history export: --format must be one of jsonl, csv"),
])
def test_bad_filter_values_get_one_clear_line(runq, history, args, message) -> None:  # type: ignore[no-untyped-def]
    completed = runq(*args)
    assert completed.returncode == 2
    assert completed.stderr.startswith(message) and completed.stderr.count("\n") == 1
    assert completed.stdout == ""


@pytest.mark.parametrize("command", [("stats",), ("history",), ("history", "show", "1"), ("history", "export")])
def test_a_corrupt_history_is_one_line_and_a_failure(runq, home, command) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True, exist_ok=True)
    Path(paths.history_db(str(home))).write_bytes(b"\x00garbage, not sqlite\n" * 512)
    completed = runq(*command)
    assert completed.returncode == 1
    assert completed.stderr.startswith("runq: history database ") and "is damaged" in completed.stderr
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr


def test_a_history_with_damaged_pages_is_one_line(runq, history) -> None:  # type: ignore[no-untyped-def]
    with open(history, "r+b") as handle:
        handle.seek(4096)  # keep the header page, scribble over the table and index pages
        handle.write(b"\xff" * 64 * 1024)
    completed = runq("stats")
    assert completed.returncode == 1 and completed.stderr.startswith("runq: history database ")
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr


def test_a_locked_history_is_one_line(runq, history) -> None:  # type: ignore[no-untyped-def]
    # a process holding an exclusive lock, as a crashed tool or a VACUUM would
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys\n"
        f"db = sqlite3.connect({history!r}, isolation_level=None)\n"
        "db.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "db.execute('INSERT INTO environments (digest, data) VALUES (x\\'00\\', \\'{}\\')')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        completed = runq("stats")
        assert completed.returncode == 1
        assert "is locked by another process" in completed.stderr and completed.stderr.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_database_from_an_older_runq_is_migrated_by_the_reader(runq, home) -> None:  # type: ignore[no-untyped-def]
    from test_telemetry_store import SCHEMA_V1

    home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(paths.history_db(str(home)))
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO attempts (task_id, attempt, final, command, ended_at, result) "
               "VALUES (5, 1, 1, 'go test ./...', 10.0, 'Success')")
    db.commit()
    db.close()
    listed = json.loads(runq("history", "--json").stdout)
    assert [(r["id"], r["signature"]) for r in listed] == [(5, "go test")]
