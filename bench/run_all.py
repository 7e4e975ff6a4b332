"""Run every benchmark of the project and write docs/benchmarks.md.

    python bench/run_all.py            # full sizes
    python bench/run_all.py --quick    # smaller sizes, fewer runs
    python bench/run_all.py --only engine run

Each benchmark module (bench/bench_<name>.py) exposes `run(quick) -> list[dict]` rows of
{"name", "value", "unit", "baseline_name", "baseline", "ratio", "target"}, measured against its
baseline in the same run. Each runs in its own process, so one that crashes, hangs or is not
written yet is reported as such (never as a number) and the others still run. Daemon memory
(VmRSS from /proc) idle and with 10,000 tasks in the state is measured here.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
SRC = REPO / "src"
OUTPUT = REPO / "docs" / "benchmarks.md"
BENCHMARKS = {
    "engine": "bench_engine",  # queue: enqueue, round trip, throughput, status --json (vs task-spooler)
    "run": "bench_run",  # `runq run -- CMD`: start-up and streaming (vs the bare interpreter, a pipe)
    "hook": "bench_hook",  # the Claude Code PreToolUse hook's cost per Bash call
    "telemetry": "bench_telemetry",  # `runq stats` views on a large history (vs raw sqlite3)
    "dag": "bench_dag",  # `runq dag run` (vs xargs -P)
}
TIMEOUT = {"quick": 1800, "full": 5400}  # seconds per benchmark process
STATE_TASKS = 10_000


# ---- one benchmark, in a child process ----------------------------------------------------------


def child(module_name: str, quick: bool, rows_file: str) -> int:
    """Import one benchmark module and write its rows (or why there are none) as JSON."""
    sys.path[:0] = [str(BENCH), str(SRC)]
    outcome: dict = {"rows": [], "status": "ok", "detail": ""}
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name == module_name
        outcome.update(status="missing" if missing else "failed",
                       detail="not written yet" if missing else f"import failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not fatal
        outcome.update(status="failed", detail=f"import failed: {type(exc).__name__}: {exc}")
    else:
        if not callable(getattr(module, "run", None)):
            outcome.update(status="missing", detail=f"{module_name}.py has no run(quick) function")
        else:
            try:
                outcome["rows"] = _checked_rows(module.run(quick))
            except Exception as exc:  # noqa: BLE001
                outcome.update(status="failed", detail=f"{type(exc).__name__}: {exc}")
    Path(rows_file).write_text(json.dumps(outcome))
    return 0


def _checked_rows(rows: object) -> list[dict]:
    keys = ("name", "value", "unit", "baseline_name", "baseline", "ratio", "target")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(k in r for k in keys) for r in rows):
        raise TypeError(f"run() must return a list of rows with keys {keys}, got {rows!r:.200}")
    return [{k: r[k] for k in keys} for r in rows]


def run_benchmark(label: str, module_name: str, quick: bool) -> dict:
    with tempfile.NamedTemporaryFile(prefix="rqbench", suffix=".json", delete=False) as handle:
        rows_file = handle.name
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", module_name, "--rows-file", rows_file]
    if quick:
        argv.append("--quick")
    started = time.monotonic()
    print(f"== {label} ({module_name}.py) ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT["quick" if quick else "full"])
        try:
            outcome = json.loads(Path(rows_file).read_text())
        except (OSError, ValueError):
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            outcome = {"rows": [], "status": "failed",
                       "detail": f"the benchmark process exited {proc.returncode}: {' / '.join(tail) or 'no output'}"}
    except subprocess.TimeoutExpired:
        outcome = {"rows": [], "status": "failed", "detail": f"timed out after {TIMEOUT['quick' if quick else 'full']} s"}
    finally:
        Path(rows_file).unlink(missing_ok=True)
    outcome.update(label=label, module=module_name, seconds=round(time.monotonic() - started, 1))
    print(f"   {outcome['status']} in {outcome['seconds']} s {outcome['detail']}", file=sys.stderr, flush=True)
    return outcome


# ---- daemon memory --------------------------------------------------------------------------------


def _vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _bare_interpreter_rss_kb() -> int:
    """VmRSS of the interpreter runq runs on, started bare and idle: the floor for any Python daemon."""
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", "import sys; sys.stdout.write('up\\n'); "
                             "sys.stdout.flush(); sys.stdin.read()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        return _vm_rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def daemon_memory() -> dict:
    """The daemon's VmRSS idle, then with 10,000 finished tasks in its state (after a status --json)."""
    sys.path.insert(0, str(SRC))
    from runq.client.connection import connect

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="rqmem", dir="/tmp"))  # short: the socket path must fit
    home = scratch / "home"
    env = dict(os.environ, RUNQ_HOME=str(home), PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    env.pop("RUNQ_CONFIG", None)

    def cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "runq", *args], env=env, check=True, stdout=subprocess.DEVNULL)

    try:
        cli("parallel", "8")
        pid = int((home / "run" / "daemon.pid").read_text())
        with connect(str(home), autostart=False) as conn:
            for _ in range(20):
                conn.call("status")
        idle = _vm_rss_kb(pid)
        bare = _bare_interpreter_rss_kb()
        # Ten thousand real tasks (`true`, each with this process's environment, as `runq add`
        # captures it), run to the end: the state a busy day leaves behind before a clean.
        task_env = {k: v for k, v in os.environ.items() if k != "RUNQ_HOME"}
        with connect(str(home), autostart=False) as conn:
            for _ in range(STATE_TASKS):
                conn.call("add", command="true", cwd="/", env=task_env)
        cli("wait", "-a", "-q")
        cli("status", "--json")
        loaded = _vm_rss_kb(pid)
        cli("shutdown")
        rows = [
            {"name": "daemon RSS, idle (after start and 20 status calls)", "value": round(idle / 1024, 1), "unit": "MB",
             "baseline_name": "bare `python -I -S` process", "baseline": round(bare / 1024, 1),
             "ratio": round(idle / bare, 2), "target": None},
            {"name": f"daemon RSS, {STATE_TASKS:,} finished tasks in the state (after status --json)",
             "value": round(loaded / 1024, 1), "unit": "MB", "baseline_name": "the same daemon idle",
             "baseline": round(idle / 1024, 1), "ratio": round(loaded / idle, 2), "target": None},
            {"name": f"daemon RSS per task in the state ({STATE_TASKS:,} tasks)",
             "value": round((loaded - idle) / STATE_TASKS, 2), "unit": "kB", "baseline_name": None,
             "baseline": None, "ratio": None, "target": None},
        ]
        outcome: dict = {"rows": rows, "status": "ok", "detail": ""}
    except Exception as exc:  # noqa: BLE001 - reported in the table, never a made-up number
        outcome = {"rows": [], "status": "failed", "detail": f"{type(exc).__name__}: {exc}"}
    finally:
        _stop_everything_of(home)
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.update(label="daemon memory", module="run_all.py", seconds=round(time.monotonic() - started, 1))
    return outcome


def _stop_everything_of(home: Path) -> None:
    """Kill what this measurement started (daemon, supervisors), found by its private RUNQ_HOME."""
    import signal

    marker = f"RUNQ_HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


# ---- the report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "bench"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    commit += " (with uncommitted changes in src/ or bench/)" if dirty else ""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": cpu,
        "memory": memory,
        "Python": f"{platform.python_version()} ({sys.executable})",
        "kernel": f"{platform.system()} {platform.release()}",
        "runq commit": commit or "unknown",
    }


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def ratio_target(target: object) -> float | None:
    """The row's target as "ratio at most N": a number, or text of the form "<= Nx"; else None."""
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        return float(target)
    match = re.fullmatch(r"\s*<=\s*([0-9.]+)\s*x\s*", target) if isinstance(target, str) else None
    return float(match.group(1)) if match else None


def target_met(r: dict) -> bool | None:
    """True/False for a ratio target, None for no target or one stated only in words."""
    limit = ratio_target(r["target"])
    if limit is None:
        return None
    return r["ratio"] is not None and r["ratio"] <= limit


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | runq | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    for r in rows:
        baseline = f"{_cell(r['baseline_name'])}: {r['baseline']} {r['unit']}" if r["baseline_name"] else "-"
        ratio = f"{r['ratio']}x" if r["ratio"] is not None else "-"
        met = target_met(r)
        if met is not None:
            target = f"<= {ratio_target(r['target']):g}x " + ("met" if met else "**missed**")
        else:
            target = _cell(r["target"]) if r["target"] not in (None, "") else "-"  # as the benchmark states it
        lines.append(f"| {_cell(r['name'])} | {r['value']} {r['unit']} | {baseline} | {ratio} | {target} |")
    return "\n".join(lines)


def report(outcomes: list[dict], quick: bool, total_seconds: float) -> str:
    facts = machine()
    rows = [r for o in outcomes for r in o["rows"]]
    targeted = [r for r in rows if target_met(r) is not None]
    met = sum(1 for r in targeted if target_met(r))
    not_run = [o for o in outcomes if o["status"] != "ok"]
    parts = [
        "# runq benchmarks",
        "",
        "Written by `bench/run_all.py`; do not edit by hand. Every runq figure stands beside its baseline",
        "measured in the same run on the same machine; the ratio is runq / baseline, and a target means",
        "\"ratio at most this\" (met or **missed** is judged here; a target a benchmark states in other",
        "words is shown as it states it). A benchmark that could not run is listed as such, with no number.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "pip install -e '.[test]'",
        f"python bench/run_all.py{' --quick' if quick else ''}    # {'--quick: smaller sizes; drop it for the full run' if quick else 'add --quick for smaller sizes'}",
        "```",
        "",
        "Each benchmark also runs on its own: `python bench/bench_<name>.py [--quick]`. task-spooler",
        "(`tsp`, Debian package `task-spooler`) is installed with apt-get by the benchmarks that compare",
        "against it.",
        "",
        "## Machine and run",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {_cell(v)} |" for k, v in facts.items()],
        f"| mode | {'--quick' if quick else 'full'} |",
        f"| wall time | {total_seconds / 60:.1f} min |",
        "",
        "## Summary",
        "",
        f"{len(rows)} figures; {met} of {len(targeted)} targets met"
        + (f"; not run: {', '.join(o['label'] + ' (' + o['status'] + ')' for o in not_run)}." if not_run else "."),
        "",
        "| benchmark | module | status | time |",
        "|---|---|---|---|",
        *[f"| {o['label']} | `{o['module']}` | {o['status']}{(': ' + _cell(o['detail'])) if o['detail'] else ''} | {o['seconds']} s |"
          for o in outcomes],
    ]
    for o in outcomes:
        parts += ["", f"## {o['label']}", ""]
        parts.append(table(o["rows"]) if o["rows"] else f"_{o['status']}: {_cell(o['detail']) or 'no rows'}_")
    return "\n".join(parts) + "\n"


def _save(path: Path, outcomes: list[dict], quick: bool, started: float) -> None:
    path.write_text(json.dumps({"outcomes": outcomes, "quick": quick, "seconds": time.monotonic() - started}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs in every benchmark")
    parser.add_argument("--only", nargs="+", choices=[*BENCHMARKS, "memory"], help="run only these")
    parser.add_argument("--output", default=str(OUTPUT), help=f"where to write the report (default {OUTPUT})")
    parser.add_argument("--from-json", metavar="FILE", help="write the report from the outcomes a previous run saved")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.quick, args.rows_file)
    started = time.monotonic()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        outcomes, quick, seconds = saved["outcomes"], saved["quick"], saved["seconds"]
    else:
        outcomes, quick = [], args.quick
        # Every outcome is saved as it arrives: a long run is never lost to a later failure.
        saved_path = Path(tempfile.gettempdir()) / f"runq-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        wanted = args.only or [*BENCHMARKS, "memory"]
        for label, module_name in BENCHMARKS.items():
            if label in wanted:
                outcomes.append(run_benchmark(label, module_name, quick))
                _save(saved_path, outcomes, quick, started)
        if "memory" in wanted:
            print("== daemon memory ...", file=sys.stderr, flush=True)
            outcomes.append(daemon_memory())
            _save(saved_path, outcomes, quick, started)
        print(f"outcomes saved in {saved_path} (re-render with --from-json)", file=sys.stderr)
        seconds = time.monotonic() - started
    text = report(outcomes, quick, seconds)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)
    print(f"written to {args.output}", file=sys.stderr)
    return 0 if all(o["status"] == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
