"""Benchmark: the Claude Code hook's process time against a bare start of the same interpreter.

Every agent Bash call pays for one `runq hook claude` process (and one more after the command
for PostToolUse), so the hook's cost is measured as Claude Code incurs it: a fresh
`python -I -S .../runq/fastpath.py hook claude` reading a payload on stdin, timed from spawn to
exit. The baseline is `python -I -S -c pass` with the same interpreter, measured interleaved in
the same run. The daemon is up and the user's settings hold a few permission rules, as in real
use; the typical payload is a test run piped into `tail`, which is parsed, checked against the
rules, and rewritten. Median of RUNS; target: at most 3 x the bare start.

    python bench/bench_hook.py           # 40 runs per row
    python bench/bench_hook.py --quick   # 12 runs per row
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import markdown

REPO = Path(__file__).resolve().parents[1]
FASTPATH = REPO / "src" / "runq" / "fastpath.py"
TARGET_RATIO = 3.0
FULL_RUNS = 40
QUICK_RUNS = 12
RULES = {"permissions": {"allow": ["Bash(npm run lint:*)", "Bash(git log:*)", "Bash(ls *)"],
                         "deny": ["Bash(rm -rf /*)", "Bash(git push --force:*)"], "ask": ["Bash(npm publish:*)"]}}


def payload(command: str, event: str = "PreToolUse") -> bytes:
    return json.dumps({
        "session_id": "9f1c2b7e-bench", "prompt_id": "550e8400-e29b-41d4-a716-446655440000",
        "transcript_path": "/tmp/transcript.jsonl", "cwd": os.getcwd(), "permission_mode": "default",
        "hook_event_name": event, "tool_name": "Bash",
        "tool_input": {"command": command, "description": "Run the test suite"},
        "tool_use_id": "toolu_01ABCbench",
    }).encode()


def time_process(argv: list[str], stdin: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(hook_input: bytes, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median seconds of (hook, bare start), interleaved so both see the same machine load."""
    hook = [sys.executable, "-I", "-S", str(FASTPATH), "hook", "claude"]
    bare = [sys.executable, "-I", "-S", "-c", "pass"]
    for _ in range(3):  # warm the page cache and the daemon
        time_process(hook, hook_input, env)
        time_process(bare, b"", env)
    hook_times, bare_times = [], []
    for _ in range(runs):
        hook_times.append(time_process(hook, hook_input, env))
        bare_times.append(time_process(bare, b"", env))
    return statistics.median(hook_times), statistics.median(bare_times)


def run(quick: bool) -> list[dict]:
    runs = QUICK_RUNS if quick else FULL_RUNS
    work = Path(tempfile.mkdtemp(prefix="rqh"))
    home = work / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps(RULES))
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAUDE_")}
    env.update(HOME=str(home), RUNQ_HOME=str(work / "runq"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    cases = [
        ("hook, typical payload (`pytest -q tests/ 2>&1 | tail -20`: parse, rules, rewrite)",
         payload("pytest -q tests/ 2>&1 | tail -20"), True),
        ("hook, a line that needs tree-sitter (`pytest -k 'not slow' -q | tail -5`)",
         payload("pytest -k 'not slow' -q | tail -5"), False),
        ("hook, read-only command left alone (`git status`)", payload("git status"), False),
        ("hook, PostToolUse check after a wrapped command", payload("pytest", "PostToolUse"), False),
    ]
    rows = []
    try:
        subprocess.run([sys.executable, "-m", "runq", "group"], env=env, check=True, stdout=subprocess.DEVNULL)
        for name, hook_input, headline in cases:
            hook, bare = measure(hook_input, env, runs)
            rows.append({"name": name, "value": round(hook * 1000, 2), "unit": "ms",
                         "baseline_name": "python -I -S -c pass", "baseline": round(bare * 1000, 2),
                         "ratio": round(hook / bare, 2), "target": TARGET_RATIO if headline else None})
        subprocess.run([sys.executable, "-m", "runq", "shutdown"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs per row instead of {FULL_RUNS}")
    args = parser.parse_args()
    rows = run(args.quick)
    print(markdown(rows))
    return 0 if rows[0]["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
