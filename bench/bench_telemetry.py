"""Benchmark: `runq stats` views on a history of 1,000,000 records against the raw sqlite3 query.

Fills history.db (the real schema, through runq's own migrations) with generated rows using
executemany, then for each view times the real CLI process (`runq stats VIEW --json`, the command
`pip install .` installs, set up in a throwaway virtual environment on this interpreter)
against the same SQL run by the sqlite3 command-line shell (/usr/bin/sqlite3) on the same file,
both as fresh processes, best of REPEATS. The ratio is CLI / raw; the target is at most 3x.

    python bench/bench_telemetry.py           # 1,000,000 rows
    python bench/bench_telemetry.py --quick   # 100,000 rows

The generated database is cached under $TMPDIR keyed by row count and schema version, so a
second run skips the fill (pass --refill to force it).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from common import installed_runq  # noqa: E402
from runq.telemetry import schema
from runq.telemetry.filters import Filters
from runq.telemetry.signature import command_signature
from runq.telemetry.store import label_prefix
from runq.telemetry.views import VIEWS

SQLITE3 = "/usr/bin/sqlite3"
TARGET_RATIO = 3.0
REPEATS = 7
LIMIT = 20  # the CLI's default --limit for views that list runs
FULL_ROWS = 1_000_000
QUICK_ROWS = 100_000

COMMANDS = [
    "uv run pytest packages/{p}/tests -x", "cargo test -p {p}", "cargo build --release", "npm run build",
    "npm test", "pnpm exec vitest run", "python -m pytest tests/{p}", "make -C {p} all", "go test ./...",
    "git commit -m 'wip {p}'", "cd {p} && ruff check . 2>&1 | tail -20", "docker compose up -d",
    "python train.py --epochs {n}", "sudo apt-get install -y {p}", "FOO=1 time pytest -k {p}", "mypy src/{p}",
]
LABELS = ["test:{p}", "build:{p}", "lint:{p}", "deploy", "bench:{p}", None, None]
GROUPS = ["default", "default", "tests", "build"]
ORIGINS = ["claude-hook", "claude-hook", "cli", "run", "dag"]
RESULTS = ["Success"] * 85 + ["Failed"] * 10 + ["Killed", "Errored", "FailedToSpawn", "DependencyFailed", "TimedOut"]


def fill(path: str, rows: int, seed: int = 5) -> None:
    """Create history.db at `path` with `rows` generated attempts, in the current schema."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    schema.migrate(db, path)
    rng = random.Random(seed)
    envs = [schema.encode_env({"PATH": "/usr/bin:/bin", "HOME": "/home/agent", "N": str(i)}) for i in range(8)]
    db.execute("BEGIN")
    db.executemany("INSERT INTO environments (digest, data) VALUES (?, ?)",
                   [(schema.env_digest(env), env) for env in envs])
    db.executemany(_insert_sql(), _generated_rows(rng, rows, time.time() - 90 * 86400))
    db.execute("COMMIT")
    # no ANALYZE: the daemon never runs one, so the planner here sees what it sees on a user's file
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _insert_sql() -> str:
    from runq.telemetry.store import INSERT_SQL

    return INSERT_SQL


def _generated_rows(rng: random.Random, rows: int, start: float):  # type: ignore[no-untyped-def]
    signatures: dict[str, str] = {}
    sessions = [f"session-{i:05d}" for i in range(3000)]
    clock = start
    step = 90 * 86400 / rows
    for task_id in range(1, rows + 1):
        package = f"pkg-{rng.randrange(40)}"
        command = rng.choice(COMMANDS).format(p=package, n=rng.randrange(10))
        signature = signatures.get(command) or signatures.setdefault(command, command_signature(command))
        template = rng.choice(LABELS)
        label = template.format(p=package) if template else None
        result = rng.choice(RESULTS)
        clock += rng.expovariate(1 / step)
        enqueued = clock
        started = None if result == "DependencyFailed" else enqueued + rng.expovariate(1 / 3.0)
        run_time = rng.lognormvariate(1.0, 1.2) if started is not None else None
        ended = (started + run_time) if started is not None and run_time is not None else enqueued + 1.0
        exit_code = 0 if result == "Success" else (rng.choice([1, 2, 101]) if result == "Failed" else None)
        yield (task_id, 1, 1, command, signature, "/work/repo", rng.choice(GROUPS), label, label_prefix(label),
               rng.choice(ORIGINS), rng.choice(sessions) if rng.random() < 0.7 else None, None, None, None, None, None,
               0, "[]", enqueued, started, ended,
               started - enqueued if started is not None else None, run_time, result, exit_code,
               9 if result == "Killed" else None, rng.random(), rng.random() / 10, rng.randrange(10_000, 900_000),
               rng.randrange(0, 100_000), rng.randrange(0, 1000), None, rng.randrange(1, 9))


def inline(sql: str, params: list[object]) -> str:
    """The statement with its parameters written in, for the sqlite3 shell (ints and strings only)."""
    pieces = iter(params)

    def literal(_: re.Match[str]) -> str:
        value = next(pieces)
        return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"\?", literal, sql)


def best_of(argv: list[str], env: dict[str, str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        completed = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        elapsed = time.perf_counter() - began
        if completed.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv[:6])} failed: {completed.stderr.decode().strip()}")
        best = min(best, elapsed)
    return best


RAW_PYTHON_QUERY = (
    "import sqlite3, sys\n"
    "db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n"
    "for statement in sys.argv[2].split(';\\n'):\n"
    "    if statement.strip().rstrip(';'):\n"
    "        db.execute(statement.strip().rstrip(';')).fetchall()\n"
)


def best_of_interleaved(first: list[str], second: list[str], env: dict[str, str], repeats: int) -> tuple[float, float]:
    """Best times of two commands run in turns, so a noisy moment on a shared machine hits both."""
    bests = [float("inf"), float("inf")]
    for _ in range(repeats):
        for index, argv in enumerate((first, second)):
            bests[index] = min(bests[index], best_of(argv, env, 1))
    return bests[0], bests[1]


def cached_history(rows: int, refill: bool) -> str:
    folder = Path(tempfile.gettempdir()) / f"runq-bench-telemetry-{rows}-v{schema.CURRENT_VERSION}"
    path = folder / "history.db"
    if refill or not path.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        began = time.perf_counter()
        fill(str(path), rows)
        print(f"filled {rows:,} rows in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return str(folder)


def run(quick: bool, refill: bool = False) -> list[dict]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    home = cached_history(rows, refill)
    env = dict(os.environ, RUNQ_HOME=home)
    env.pop("RUNQ_CONFIG", None)
    with installed_runq() as installed:
        return _measure(installed["launcher"], home, rows, env)


def _measure(runq: str, home: str, rows: int, env: dict[str, str]) -> list[dict]:
    db_path = os.path.join(home, "history.db")
    results = [*_python_floor(env), _startup_floor(runq, env)]
    for name, view in VIEWS.items():
        statements = view.statements(Filters(), LIMIT)
        raw_sql = ";\n".join(inline(sql, params) for sql, params in statements) + ";"
        raw, cli = best_of_interleaved(
            [SQLITE3, "-readonly", db_path, raw_sql],
            [runq, "stats", name, "--json", "--limit", str(LIMIT)], env, REPEATS)
        results.append({"name": f"runq stats {name} ({rows:,} rows)", "value": round(cli * 1000, 1), "unit": "ms",
                        "baseline_name": "sqlite3 shell, same SQL", "baseline": round(raw * 1000, 1),
                        "ratio": round(cli / raw, 2), "target": f"<= {TARGET_RATIO:g}x"})
        # The same view through the site-less launcher the hook uses (python -I -S fastpath.py),
        # against the same SQL run by Python's own sqlite3 module in a fresh `python -I -S`: both
        # pay one interpreter start, so the ratio is what runq's CLI and views add to the query.
        # (Against the C shell, index-only views are bound by the interpreter's start, not SQL.)
        raw_py, fast = best_of_interleaved(
            [sys.executable, "-I", "-S", "-c", RAW_PYTHON_QUERY, db_path, raw_sql],
            [sys.executable, "-I", "-S", str(REPO / "src" / "runq" / "fastpath.py"), "stats", name, "--json",
             "--limit", str(LIMIT)], env, REPEATS)
        results.append({"name": f"runq stats {name}, fast launcher ({rows:,} rows)", "value": round(fast * 1000, 1),
                        "unit": "ms", "baseline_name": "same SQL, python -I -S sqlite3 module", "baseline": round(raw_py * 1000, 1),
                        "ratio": round(fast / raw_py, 2), "target": f"<= {TARGET_RATIO:g}x"})
    results.append(_record_latency(db_path, rows))
    return results


def _python_floor(env: dict[str, str]) -> list[dict]:
    """What any Python program pays before its first query: the interpreter's start without
    site, then with the sqlite3 module loaded (libsqlite3 linked in), against the shell's
    `SELECT 1`. A view is within 3x of the C shell only if its shell time is over a third of this."""
    rows = []
    for label, code in (("bare", "pass"), ("with sqlite3 imported", "import sqlite3")):
        raw, python = best_of_interleaved([SQLITE3, ":memory:", "SELECT 1;"],
                                          [sys.executable, "-I", "-S", "-c", code], env, REPEATS)
        rows.append({"name": f"floor: python -I -S, {label}", "value": round(python * 1000, 1), "unit": "ms",
                     "baseline_name": "sqlite3 shell, SELECT 1", "baseline": round(raw * 1000, 1),
                     "ratio": round(python / raw, 2), "target": "(information)"})
    return rows


def _startup_floor(runq: str, env: dict[str, str]) -> dict:
    """What any view pays before its query: the CLI on an empty history against the shell's `SELECT 1`."""
    with tempfile.TemporaryDirectory() as empty_home:
        floor_env = dict(env, RUNQ_HOME=empty_home)
        raw, cli = best_of_interleaved([SQLITE3, ":memory:", "SELECT 1;"],
                                       [runq, "stats", "slowest", "--json"], floor_env, REPEATS)
    return {"name": "start-up floor: runq stats on an empty history", "value": round(cli * 1000, 1), "unit": "ms",
            "baseline_name": "sqlite3 shell, SELECT 1", "baseline": round(raw * 1000, 1),
            "ratio": round(cli / raw, 2), "target": "(information)"}


def _record_latency(db_path: str, rows: int, count: int = 500) -> dict:
    """HistoryStore.record into a copy of the full history (all indexes) against a bare INSERT and
    COMMIT of the same values into an index-less table in the same directory."""
    from runq.telemetry.store import HistoryStore

    folder = tempfile.mkdtemp(prefix="runq-bench-record-")
    try:
        copy = os.path.join(folder, "history.db")
        shutil.copyfile(db_path, copy)
        store = HistoryStore.open(copy)
        rec = {"id": 0, "attempt": 1, "command": "cd repo && uv run pytest -x tests/a", "cwd": "/work/repo",
               "group": "default", "label": "test:a", "origin": "claude-hook", "session_id": "s", "tool_use_id": "t",
               "prompt_id": None, "agent_id": None, "dag_run": None, "dag_task": None, "priority": 0,
               "dependencies": [], "enqueued_at": 0.0, "started_at": 0.5, "ended_at": 2.0, "result": "Success",
               "exit_code": 0, "signal": None, "user_cpu": 0.1, "sys_cpu": 0.01, "max_rss_kb": 1000,
               "stdout_bytes": 10, "stderr_bytes": 0, "log_path": None, "env": dict(os.environ), "final": True}
        timings = []
        for task_id in range(count):
            rec["id"] = task_id
            began = time.perf_counter()
            store.record(rec)
            timings.append(time.perf_counter() - began)
        store.close()
        bare = sqlite3.connect(os.path.join(folder, "bare.db"), isolation_level=None)
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = NORMAL")
        bare.execute(f"CREATE TABLE t ({', '.join(f'c{i}' for i in range(33))})")
        bare_timings = []
        for task_id in range(count):
            began = time.perf_counter()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute(f"INSERT INTO t VALUES ({', '.join('?' * 33)})", (task_id, *range(32)))
            bare.execute("COMMIT")
            bare_timings.append(time.perf_counter() - began)
        bare.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median, bare_median = sorted(timings)[count // 2], sorted(bare_timings)[count // 2]
    return {"name": f"HistoryStore.record, median of {count} ({rows:,}-row history)",
            "value": round(median * 1e6), "unit": "us", "baseline_name": "bare INSERT+COMMIT, no indexes",
            "baseline": round(bare_median * 1e6), "ratio": round(median / bare_median, 2), "target": "< 1000 us"}


def print_table(rows: list[dict]) -> None:
    print("| measured | value | baseline | baseline value | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    for row in rows:
        print(f"| {row['name']} | {row['value']} {row['unit']} | {row['baseline_name']} | "
              f"{row['baseline']} {row['unit']} | {row['ratio']} | {row['target']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows instead of {FULL_ROWS:,}")
    parser.add_argument("--refill", action="store_true", help="regenerate the cached database")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version} (module), shell {SQLITE3}, "
          f"best of {REPEATS} fresh processes each", file=sys.stderr)
    print_table(run(args.quick, args.refill))
    return 0


if __name__ == "__main__":
    sys.exit(main())
