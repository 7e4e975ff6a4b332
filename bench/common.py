"""Shared benchmark helpers: timing processes and calls, medians, result rows, the markdown table.

A row is {"name", "value", "unit", "baseline_name", "baseline", "ratio", "target"}: ratio is
value / baseline, and a numeric target means "ratio at most this" (None: informational).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_process(argv: Sequence[str], env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> float:
    """Seconds from spawn to exit of one process (its output discarded; a failure raises)."""
    start = time.perf_counter()
    subprocess.run(list(argv), input=stdin, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_call(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def sample(timers: Mapping[str, Callable[[], float]], runs: int, warmup: int = 3) -> dict[str, list[float]]:
    """Run every timer `runs` times, interleaved, so each sees the same machine load."""
    for _ in range(warmup):
        for timer in timers.values():
            timer()
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(runs):
        for name, timer in timers.items():
            samples[name].append(timer())
    return samples


def row(name: str, value: float, unit: str, baseline_name: str | None = None, baseline: float | None = None,
        target: float | None = None, digits: int = 3) -> dict:
    ratio = round(value / baseline, 3) if baseline else None
    return {"name": name, "value": round(value, digits), "unit": unit, "baseline_name": baseline_name,
            "baseline": round(baseline, digits) if baseline is not None else None, "ratio": ratio, "target": target}


def meets_target(entry: dict) -> bool:
    return entry["target"] is None or (entry["ratio"] is not None and entry["ratio"] <= entry["target"])


def markdown(rows: Sequence[dict]) -> str:
    lines = ["| benchmark | runq | baseline | ratio | target |", "|---|---|---|---|---|"]
    for entry in rows:
        baseline = f"{entry['baseline_name']}: {entry['baseline']} {entry['unit']}" if entry["baseline_name"] else "-"
        ratio = f"{entry['ratio']}x" if entry["ratio"] is not None else "-"
        target = f"<= {entry['target']}x" if entry["target"] is not None else "-"
        if entry["target"] is not None and not meets_target(entry):
            target += " MISSED"
        lines.append(f"| {entry['name']} | {entry['value']} {entry['unit']} | {baseline} | {ratio} | {target} |")
    return "\n".join(lines)


def ensure_apt_package(command: str, package: str) -> str:
    """The path of `command`, installing its Debian package first when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", package], check=True, stdout=subprocess.DEVNULL,
                   env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"installing {package} did not provide {command}")
    return found


REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# The launcher the hook writes: the interpreter without its site step, runq from this checkout.
FASTPATH = [sys.executable, "-I", "-S", str(SRC / "runq" / "fastpath.py")]


@contextmanager
def installed_runq() -> Iterator[dict[str, str]]:
    """runq as `pip install .` lays it out, in a throwaway virtual environment on this interpreter.

    The environment sees the interpreter's own site-packages, so a script that takes the site
    step pays for every .pth file there, as it would installed beside the interpreter. Yields
    the installed `runq` command ("launcher") and, for contrast, the script pip would write for
    a [project.scripts] entry point ("entry_point": the site step first, then runq's main).
    """
    root = Path(tempfile.mkdtemp(prefix="rqi"))
    venv = root / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                        "--no-warn-script-location", "--prefix", str(venv), str(REPO)], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
        entry_point = venv / "bin" / "runq-entry-point"
        entry_point.write_text(f"#!{venv}/bin/python\nimport sys\nfrom runq.client.main import main\nsys.exit(main())\n")
        entry_point.chmod(0o755)
        yield {"launcher": str(venv / "bin" / "runq"), "entry_point": str(entry_point)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
