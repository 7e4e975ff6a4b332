"""The live view, rendered once on a real pseudo-terminal (the pty module), plus its drawing
function on a fixed state."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dag_support import fast_engine, write_dag  # noqa: F401

from runq.dag.state import RunState
from runq.dag.view import render_block


def run_on_terminal(argv: list[str], deadline: float = 60) -> tuple[int, str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = dict(os.environ, TERM="xterm")
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer closed it
                break
            if not data:
                break
            chunks.append(data)
        return process.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def test_live_view_on_a_terminal(tmp_path):
    path = write_dag(tmp_path, """
[tasks.first]
cmd = "true"

[tasks.broken]
cmd = "exit 2"
after = ["first"]

[tasks.last]
cmd = "true"
after = ["broken"]

[tasks.other]
cmd = "true"
""")
    code, output = run_on_terminal([sys.executable, "-m", "runq", "dag", "run", str(path)])
    assert code == 1, output
    assert "\x1b[?25l" in output and "\x1b[?25h" in output  # cursor hidden while drawing, then restored
    assert "\x1b[J" in output  # redrawn in place
    assert "[########################] 4/4 done" in output
    failure = output.index("FAILED   broken: exit code 2")
    assert failure < output.index("Task ")  # printed as it happened, before the summary
    assert "DEP-FAIL last" in output
    assert "Logs of failed tasks:" in output


def test_render_block_lists_running_tasks_with_elapsed_time():
    state = RunState({"a": 1, "b": 2, "c": 3}, {
        1: {"id": 1, "status": "Done", "result": "Success"},
        2: {"id": 2, "status": "Running", "start": 100.0, "attempt": 2},
        3: {"id": 3, "status": "Queued"},
    })
    lines = render_block(state, elapsed=5.0, now=112.5, max_lines=10)
    assert lines[0] == "[########----------------] 1/3 done  1 ok  0 failed  1 running  5.0s"
    assert lines[1] == "  b  12.5s  (attempt 2)"
    assert len(lines) == 2


def test_render_block_fits_the_terminal_height():
    records = {i: {"id": i, "status": "Running", "start": 0.0} for i in range(10)}
    state = RunState({f"t{i}": i for i in range(10)}, records)
    lines = render_block(state, elapsed=1.0, now=1.0, max_lines=4)
    assert len(lines) == 4
    assert lines[-1] == "  ... and 8 more running"
