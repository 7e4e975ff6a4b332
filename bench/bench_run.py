"""Benchmark: `runq run -- CMD`, the synchronous wrapper every routed agent command goes through.

    python bench/bench_run.py           # about 2 minutes
    python bench/bench_run.py --quick   # about 40 s

Measured in one run, interleaved so every command sees the same machine load (medians):
  latency of `true` run directly, `bash -c true`, `tsp -f true` (task-spooler's one-process
  "run and wait", warm server; installed with apt-get when missing), the bare start of the
  interpreter runq is installed with (`python -I -S -c pass`, sys.executable), and
  `runq run -- true` through the fast launcher the hook writes (`python -I -S src/runq/fastpath.py`)
  and through the `runq` command `pip install .` puts on PATH (installed into a throwaway virtual
  environment on this interpreter, its site-packages visible), each reported on its own, beside
  the script pip would write for an entry point (site step first) for contrast;
  where the time goes: the client alone (interpreter, imports, request; no daemon), and one
  run round trip over an open connection (daemon, pooled supervisor, `bash -c true`);
  stream rate of `head -c 1G /dev/zero` through `runq run` (to /dev/null: the supervisor is the
  relay) against a plain pipe relayed by `cat > /dev/null`, and through runq into that pipe too;
  the `python -X importtime` top entries of the fast launcher's `runq run -- true`.
Targets: `runq run -- true` at most 3 x the bare interpreter start; streaming at least 0.5 x the
plain pipe, expressed as time (ratio at most 2). A ratio is runq / baseline.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "src"))

from common import FASTPATH, ensure_apt_package, installed_runq, markdown, median, meets_target, row, sample  # noqa: E402

START_TARGET = 3.0
STREAM_TARGET = 2.0  # time ratio: throughput at least 0.5 x the plain pipe
STREAM_BYTES = "1G"
IMPORTTIME_TOP = 12


def timer(argv: Sequence[str], env: dict[str, str], before: Callable[[], object] | None = None) -> Callable[[], float]:
    """Seconds from spawn to exit of one process, all three stdio on /dev/null."""

    def measure() -> float:
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    return measure


# ---- fixtures: a private runq home and a private tsp server ----------------------------------

@contextmanager
def runq_home() -> Iterator[dict[str, str]]:
    root = Path(tempfile.mkdtemp(prefix="rqb"))  # short: the socket path must fit in 108 bytes
    env = {**os.environ, "RUNQ_HOME": str(root / "home")}
    try:
        for _ in range(5):  # start the daemon, warm its worker pool
            subprocess.run([*FASTPATH, "run", "--", "true"], env=env, check=True)
        yield env
    finally:
        subprocess.run([*FASTPATH, "shutdown"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def tsp_server() -> Iterator[tuple[str, dict[str, str]]]:
    tsp = ensure_apt_package("tsp", "task-spooler")
    root = Path(tempfile.mkdtemp(prefix="tsb"))
    env = {**os.environ, "TS_SOCKET": str(root / "sock"), "TMPDIR": str(root), "TS_SLOTS": "1"}
    try:
        subprocess.run([tsp, "-f", "true"], env=env, check=True, stdout=subprocess.DEVNULL)
        yield tsp, env
    finally:
        subprocess.run([tsp, "-K"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


def in_process_round_trip(env: dict[str, str]) -> Callable[[], float]:
    """One `run` of `bash -c true` over an open connection: the daemon's and supervisor's share."""
    os.environ["RUNQ_HOME"] = env["RUNQ_HOME"]
    from runq.client.commands.run import build_request
    from runq.client.connection import connect

    null = os.open(os.devnull, os.O_RDWR)
    request = build_request({}, ["true"])
    request["stdio"] = "same"

    def measure() -> float:
        start = time.perf_counter()
        with connect(autostart=False) as conn:
            conn.send(request, fds=[null, null, null])
            while not conn.receive().get("done"):
                pass
        return time.perf_counter() - start

    return measure


# ---- latency -----------------------------------------------------------------------------------

def latency_rows(runs: int) -> tuple[list[dict], dict[str, float]]:
    with runq_home() as env, tsp_server() as (tsp, tsp_env), installed_runq() as installed:
        too_long = {**env, "RUNQ_HOME": "/tmp/" + "x" * 120}
        timers = {
            "true": timer(["true"], env),
            "bash -c true": timer(["bash", "-c", "true"], env),
            "tsp -f true": timer([tsp, "-f", "true"], tsp_env,
                                 before=lambda: subprocess.run([tsp, "-C"], env=tsp_env, check=True,
                                                               stdout=subprocess.DEVNULL)),
            "python -I -S -c pass": timer([sys.executable, "-I", "-S", "-c", "pass"], env),
            "python -c pass": timer([sys.executable, "-c", "pass"], env),
            "runq run -- true (fast launcher)": timer([*FASTPATH, "run", "--", "true"], env),
            "runq run -- true (installed runq command)": timer([installed["launcher"], "run", "--", "true"], env),
            "runq run -- true (entry-point script)": timer([installed["entry_point"], "run", "--", "true"], env),
            "client alone (fast launcher, no daemon: exits 125)": timer([*FASTPATH, "run", "--", "true"], too_long),
            "run round trip, open connection (daemon + supervisor + bash)": in_process_round_trip(env),
        }
        samples = sample(timers, runs)
    ms = {name: median(values) * 1000 for name, values in samples.items()}
    bare = ms["python -I -S -c pass"]
    rows = [
        row("true, run directly", ms["true"], "ms"),
        row("bash -c true", ms["bash -c true"], "ms"),
        row("tsp -f true (warm server)", ms["tsp -f true"], "ms", "true", ms["true"]),
        row("python -I -S -c pass (bare interpreter)", bare, "ms"),
        row("python -c pass (with site)", ms["python -c pass"], "ms", "python -I -S -c pass", bare),
        row("runq run -- true (fast launcher)", ms["runq run -- true (fast launcher)"], "ms",
            "python -I -S -c pass", bare, START_TARGET),
        row("runq run -- true (the `runq` command pip installs)", ms["runq run -- true (installed runq command)"], "ms",
            "python -I -S -c pass", bare, START_TARGET),
        row("  contrast: an entry-point script (site step first)", ms["runq run -- true (entry-point script)"],
            "ms", "python -c pass", ms["python -c pass"]),
        row("runq run -- true (fast launcher) vs tsp -f true", ms["runq run -- true (fast launcher)"], "ms",
            "tsp -f true", ms["tsp -f true"]),
        row("  share: client alone (interpreter, imports, request)",
            ms["client alone (fast launcher, no daemon: exits 125)"], "ms", "python -I -S -c pass", bare),
        row("  share: run round trip on an open connection",
            ms["run round trip, open connection (daemon + supervisor + bash)"], "ms", "bash -c true",
            ms["bash -c true"]),
    ]
    return rows, ms


# ---- streaming ---------------------------------------------------------------------------------

def stream_rows(runs: int) -> list[dict]:
    """The target row: runq's supervisor relays the task's pipe to the caller's stdout as `cat`
    relays the pipe in the baseline (one pipe hop, one relay, /dev/null at the end). The extra
    row puts a pipe and `cat` after runq too: a second hop the baseline does not have."""
    runq = " ".join(FASTPATH)
    produce = f"head -c {STREAM_BYTES} /dev/zero"
    with runq_home() as env:
        # os.sync() (untimed) before each run: the 64 MiB log a runq run leaves must not be
        # written back to disk while the next run, runq's or the baseline's, is timed.
        timers = {
            "pipe": timer(["bash", "-c", f"{produce} | cat > /dev/null"], env, before=os.sync),
            "runq": timer(["bash", "-c", f"{runq} run -- {produce} > /dev/null"], env, before=os.sync),
            "runq | cat": timer(["bash", "-c", f"{runq} run -- {produce} | cat > /dev/null"], env, before=os.sync),
        }
        samples = sample(timers, runs, warmup=1)
    seconds = {name: median(values) for name, values in samples.items()}
    size_mib = 1024.0  # 1 GiB
    return [
        row(f"stream {STREAM_BYTES}: {produce} | cat > /dev/null", seconds["pipe"], "s"),
        row(f"stream {STREAM_BYTES}: runq run -- {produce} > /dev/null", seconds["runq"], "s",
            "plain pipe", seconds["pipe"], STREAM_TARGET),
        row("  throughput: plain pipe", size_mib / seconds["pipe"], "MiB/s", digits=0),
        row("  throughput: runq run", size_mib / seconds["runq"], "MiB/s", digits=0),
        row(f"stream {STREAM_BYTES}: runq run -- {produce} | cat > /dev/null (two hops)", seconds["runq | cat"],
            "s", "plain pipe", seconds["pipe"]),
    ]


# ---- import time -------------------------------------------------------------------------------

def importtime(runs: int) -> tuple[list[tuple[str, float, float]], float, int]:
    """(module, self us, cumulative us) top entries by self time, the total, and the module count."""
    with runq_home() as env:
        per_module: dict[str, list[tuple[int, int]]] = {}
        for _ in range(runs):
            result = subprocess.run([sys.executable, "-X", "importtime", *FASTPATH[1:], "run", "--", "true"],
                                    env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
            for line in result.stderr.splitlines():
                if not line.startswith("import time:") or "self [us]" in line:
                    continue
                own, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
                per_module.setdefault(name.strip(), []).append((int(own), int(cumulative)))
    table = [(name, statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
             for name, values in per_module.items()]
    total = sum(own for _, own, _ in table)
    table.sort(key=lambda entry: entry[1], reverse=True)
    return table[:IMPORTTIME_TOP], total, len(table)


def importtime_markdown(top: list[tuple[str, float, float]], total: float, count: int) -> str:
    lines = [f"`python -X importtime -I -S src/runq/fastpath.py run -- true`: {count} modules, "
             f"{total / 1000:.2f} ms of import self-time in all (median per module)", "",
             "| module | self (us) | cumulative (us) |", "|---|---|---|"]
    lines += [f"| {name} | {own:.0f} | {cumulative:.0f} |" for name, own, cumulative in top]
    return "\n".join(lines)


# ---- entry -------------------------------------------------------------------------------------

def run(quick: bool) -> list[dict]:
    latency, _ = latency_rows(runs=20 if quick else 60)
    return latency + stream_rows(runs=1 if quick else 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = run(args.quick)
    print(markdown(rows))
    # The stream ratio depends on load: a busy box slows the two-process baseline more than runq,
    # so the ratio looks best when the machine is busy and is worst (the honest one) when idle.
    print(f"\n1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} CPUs); judge the stream ratio on an idle machine")
    print()
    print(importtime_markdown(*importtime(runs=3 if args.quick else 7)))
    missed = [entry["name"] for entry in rows if not meets_target(entry)]
    if missed:
        print(f"\nmissed targets: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
