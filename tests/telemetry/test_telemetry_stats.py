"""Each `runq stats` view, through the real CLI, against the same numbers computed here from the raw records."""
from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from history_records import generated, signature_of

from runq import paths
from runq.telemetry.store import HistoryStore

LIMIT = 100_000  # larger than the data: list views compare in full


@pytest.fixture(scope="module")
def now() -> float:
    return time.time()


@pytest.fixture
def records(home: Path, now: float) -> list[dict[str, Any]]:
    home.mkdir(parents=True, exist_ok=True)
    recs = generated(400, now)
    store = HistoryStore.open(paths.history_db(str(home)))
    for rec in recs:
        store.record(rec)
    store.close()
    return recs


def stats(runq, *args: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    completed = runq("stats", "--json", "--limit", str(LIMIT), *args)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def nearest_rank(sorted_values: list[float], percent: int) -> float:
    return sorted_values[(percent * len(sorted_values) + 99) // 100 - 1]


def expect_labels(recs: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    runs: dict[Any, list[float]] = defaultdict(list)
    for rec in recs:
        if rec["started_at"] is not None:
            prefix = rec["label"].split(":")[0] if rec["label"] is not None else None
            runs[prefix].append(rec["ended_at"] - rec["started_at"])
    return {prefix: {"prefix": prefix, "runs": len(values), "avg_s": sum(values) / len(values),
                     "p50_s": nearest_rank(sorted(values), 50), "p95_s": nearest_rank(sorted(values), 95),
                     "max_s": max(values)} for prefix, values in runs.items()}


def expect_results(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    for rec in recs:
        counts[rec["result"]] += 1
    return {result: {"result": result, "runs": n, "share": n / len(recs)} for result, n in counts.items()}


def expect_signatures(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in recs:
        groups[signature_of(rec["command"])].append(rec)
    expected = {}
    for signature, members in groups.items():
        times = [r["ended_at"] - r["started_at"] for r in members if r["started_at"] is not None]
        failed = sum(r["result"] != "Success" for r in members)
        expected[signature] = {"signature": signature, "runs": len(members), "failed": failed,
                               "failure_rate": failed / len(members), "total_s": sum(times),
                               "avg_s": sum(times) / len(times) if times else None,
                               "max_s": max(times) if times else None}
    return expected


def expect_wait(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in recs:
        if rec["started_at"] is not None:
            groups[rec["group"]].append(rec)
    expected = {}
    for group, members in groups.items():
        waits = [r["started_at"] - r["enqueued_at"] for r in members]
        runs = [r["ended_at"] - r["started_at"] for r in members]
        expected[group] = {"group": group, "runs": len(members), "avg_wait_s": sum(waits) / len(waits),
                           "max_wait_s": max(waits), "total_wait_s": sum(waits), "avg_run_s": sum(runs) / len(runs),
                           "max_run_s": max(runs), "total_run_s": sum(runs),
                           "wait_share": sum(waits) / (sum(waits) + sum(runs))}
    return expected


def expect_sessions(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in recs:
        if rec["session_id"] is not None:
            groups[rec["session_id"]].append(rec)
    return {session: {
        "session_id": session, "runs": len(members), "failed": sum(r["result"] != "Success" for r in members),
        "total_run_s": sum(r["ended_at"] - r["started_at"] for r in members if r["started_at"] is not None),
        "total_wait_s": sum(r["started_at"] - r["enqueued_at"] for r in members if r["started_at"] is not None),
        "first_at": min(r["started_at"] if r["started_at"] is not None else r["ended_at"] for r in members),
        "last_at": max(r["ended_at"] for r in members),
    } for session, members in groups.items()}


def keyed(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


def assert_rows_equal(actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    assert set(actual) == set(expected)
    for key, row in expected.items():
        for field, value in row.items():
            assert actual[key][field] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, field)


def assert_all_views(output: dict[str, Any], recs: list[dict[str, Any]]) -> None:
    assert_rows_equal(keyed(output["labels"]["rows"], "prefix"), expect_labels(recs))
    assert_rows_equal(keyed(output["results"]["rows"], "result"), expect_results(recs))
    assert_rows_equal(keyed(output["signatures"]["rows"], "signature"), expect_signatures(recs))
    assert_rows_equal(keyed(output["wait"]["rows"], "group"), expect_wait(recs))
    assert_rows_equal(keyed(output["sessions"]["rows"], "session_id"), expect_sessions(recs))

    failed = sorted((r for r in recs if r["result"] != "Success"), key=lambda r: (-r["ended_at"], -r["id"]))
    assert [(row["id"], row["result"], row["exit_code"], row["signal"]) for row in output["failed"]["rows"]] == [
        (r["id"], r["result"], r["exit_code"], r["signal"]) for r in failed]
    assert output["failed"]["total"] == len(failed)

    started = [r for r in recs if r["started_at"] is not None]
    slowest = sorted(started, key=lambda r: (-(r["ended_at"] - r["started_at"]), -r["id"]))
    assert [row["id"] for row in output["slowest"]["rows"]] == [r["id"] for r in slowest]


def test_every_view_matches_the_raw_records(runq, records: list[dict[str, Any]]) -> None:
    output = stats(runq)
    assert_all_views(output, records)
    runs = [row["runs"] for row in output["labels"]["rows"]]
    assert runs == sorted(runs, reverse=True)
    totals = [row["total_s"] for row in output["signatures"]["rows"]]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize(("args", "keep"), [
    (("--group", "tests"), lambda r, now: r["group"] == "tests"),
    (("--label", "test"), lambda r, now: (r["label"] or "").startswith("test")),
    (("--label", "test:"), lambda r, now: (r["label"] or "").startswith("test:")),
    (("--since", "12h"), lambda r, now: r["ended_at"] >= now - 12 * 3600),
    (("--since", "2d", "--until", "6h"), lambda r, now: now - 6 * 3600 > r["ended_at"] >= now - 48 * 3600),
    (("--session", "sess-2"), lambda r, now: r["session_id"] == "sess-2"),
    (("--origin", "claude-hook", "--group", "default"),
     lambda r, now: r["origin"] == "claude-hook" and r["group"] == "default"),
    (("--command", "*pytest*"), lambda r, now: "pytest" in r["command"]),
    (("--result", "failed"), lambda r, now: r["result"] == "Failed"),
])
def test_filtered_views_match_the_filtered_records(runq, records, now, args, keep) -> None:  # type: ignore[no-untyped-def]
    subset = [r for r in records if keep(r, now)]
    assert 0 < len(subset) < len(records)
    assert_all_views(stats(runq, *args), subset)


def test_since_and_until_accept_dates_and_datetimes(runq, records, now) -> None:  # type: ignore[no-untyped-def]
    cutoff = datetime.fromtimestamp(now - 20 * 3600).replace(minute=0, second=0, microsecond=0)
    subset = [r for r in records if r["ended_at"] < cutoff.timestamp()]
    output = stats(runq, "--until", cutoff.isoformat(timespec="minutes"))
    assert output["results"]["rows"] and sum(row["runs"] for row in output["results"]["rows"]) == len(subset)
    day = datetime.fromtimestamp(now).date().isoformat()
    today = [r for r in records if r["ended_at"] >= datetime.fromisoformat(day).timestamp()]
    assert sum(row["runs"] for row in stats(runq, "--since", day)["results"]["rows"]) == len(today)


def test_limit_cuts_list_views_and_keeps_the_total(runq, records) -> None:  # type: ignore[no-untyped-def]
    completed = runq("stats", "failed", "--json", "--limit", "3")
    output = json.loads(completed.stdout)
    assert list(output) == ["filters", "failed"]
    assert len(output["failed"]["rows"]) == 3
    assert output["failed"]["total"] == sum(r["result"] != "Success" for r in records)


def test_table_output_shows_every_view(runq, records) -> None:  # type: ignore[no-untyped-def]
    completed = runq("stats")
    assert completed.returncode == 0, completed.stderr
    for title in ("Run time by label prefix", "Failed runs", "Runs by result", "Slowest runs",
                  "per command signature", "Queue wait against run time", "Agent sessions"):
        assert title in completed.stdout
    assert "cargo test" in completed.stdout and "sess-1" in completed.stdout


def test_stats_on_a_home_without_history_is_empty_not_an_error(runq, home) -> None:  # type: ignore[no-untyped-def]
    output = stats(runq)
    assert all(output[view]["rows"] == [] for view in ("labels", "failed", "results", "sessions"))
    assert not Path(paths.history_db(str(home))).exists()
