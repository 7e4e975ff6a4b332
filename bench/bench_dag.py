"""Benchmark: `runq dag run` on 500 independent tasks with 4 slots against `xargs -P 4` on the same
500 commands, in the same run.

Each command is `sleep 0.05`: real (if small) work, so both sides are bounded below by the same
500 x 0.05 s / 4 slots = 6.25 s and the difference is scheduling overhead (client start, parsing,
submission, the daemon's spawn per task, the watch stream, the summary). Both run the command the
way runq does: through `bash -c` (the daemon's default shell), one process per command.

The runq side is the real CLI as a fresh process (`python -m runq dag run FILE`) against a daemon
that is already running (started before the clock, as it is in real use); tasks and their history
rows are removed between repeats. Best of REPEATS for each side. Ratio = runq / xargs; target 1.5.

    python bench/bench_dag.py           # 500 tasks
    python bench/bench_dag.py --quick   # 100 tasks
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import markdown

REPO = Path(__file__).resolve().parents[1]
COMMAND = "sleep 0.05"
SLOTS = 4
TARGET_RATIO = 1.5
REPEATS = 3
FULL_TASKS = 500
QUICK_TASKS = 100


def write_dag(path: Path, tasks: int) -> None:
    lines = [f"[groups.bench]\nparallel = {SLOTS}\n"]
    for number in range(tasks):
        lines.append(f'[tasks.t{number:04d}]\ncmd = "{COMMAND}"\ngroup = "bench"\n')
    path.write_text("\n".join(lines))


def time_xargs(tasks: int) -> float:
    bash = shutil.which("bash") or "/bin/sh"
    items = "".join(f"{n}\n" for n in range(tasks)).encode()
    start = time.perf_counter()
    subprocess.run(["xargs", "-P", str(SLOTS), "-I{}", bash, "-c", COMMAND], input=items, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_runq(dag: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "runq", "dag", "run", str(dag)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"runq dag run failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def runq_cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "runq", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def run(quick: bool) -> list[dict]:
    tasks = QUICK_TASKS if quick else FULL_TASKS
    work = Path(tempfile.mkdtemp(prefix="rqb"))
    env = dict(os.environ, RUNQ_HOME=str(work / "home"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    dag = work / "bench.toml"
    write_dag(dag, tasks)
    try:
        runq_cli(env, "group")  # start the daemon before the clock
        runq_times, xargs_times = [], []
        for _ in range(REPEATS):
            xargs_times.append(time_xargs(tasks))
            runq_times.append(time_runq(dag, env))
            runq_cli(env, "clean")
        runq_cli(env, "shutdown")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best_runq, best_xargs = min(runq_times), min(xargs_times)
    ideal = tasks * 0.05 / SLOTS
    return [
        {"name": f"dag run: {tasks} x `{COMMAND}`, {SLOTS} slots", "value": round(best_runq, 3), "unit": "s",
         "baseline_name": f"xargs -P {SLOTS} bash -c", "baseline": round(best_xargs, 3),
         "ratio": round(best_runq / best_xargs, 3), "target": TARGET_RATIO},
        {"name": f"dag run overhead per task (above the {ideal:.2f} s of sleeping)",
         "value": round((best_runq - ideal) / tasks * 1000, 3), "unit": "ms",
         "baseline_name": "xargs overhead per task", "baseline": round((best_xargs - ideal) / tasks * 1000, 3),
         "ratio": round((best_runq - ideal) / max(1e-9, best_xargs - ideal), 3), "target": None},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TASKS} tasks instead of {FULL_TASKS}")
    args = parser.parse_args()
    rows = run(args.quick)
    print(markdown(rows))
    return 0 if rows[0]["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
