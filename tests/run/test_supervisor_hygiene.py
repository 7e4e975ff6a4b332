"""What a `runq run` task inherits from its pooled supervisor, and what the supervisor keeps after it.

Supervisors are long-lived workers reused task after task, so anything one task leaves behind
in its worker (open pipes) or takes from the daemon instead of the caller (umask) shows up here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
FASTPATH = [sys.executable, "-I", "-S", str(SRC / "runq" / "fastpath.py")]


def run(command: str, cwd: Path, merged: bool = False, umask: int | None = None) -> subprocess.CompletedProcess:
    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([*FASTPATH, "run", "--", command], cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                          timeout=60, preexec_fn=set_umask)


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_worker_closes_task_pipes_after_each_run(tmp_path: Path) -> None:
    """Regression: pooled workers never closed a finished task's pipe read ends (2 fds per task)."""
    worker = int(run("echo $PPID", tmp_path).stdout)
    before = _open_fds(worker)
    for _ in range(10):
        assert run("echo out; echo err >&2", tmp_path).returncode == 0
        assert run("echo out; echo err >&2", tmp_path, merged=True).returncode == 0
        assert run("exit 3", tmp_path).returncode == 3
    assert int(run("echo $PPID", tmp_path).stdout) == worker, "the pool handed out another worker"
    assert _open_fds(worker) == before


def test_task_gets_the_callers_umask(tmp_path: Path) -> None:
    """Regression: run tasks got the daemon's private umask 077, so the files they made were 0600."""
    started = run("true", tmp_path, umask=0o022)  # the daemon starts under one umask ...
    assert started.returncode == 0
    for umask, mode in ((0o022, b"644"), (0o002, b"664"), (0o077, b"600")):  # ... callers use others
        result = run("umask; rm -f made; touch made; stat -c %a made", tmp_path, umask=umask)
        assert result.stdout == b"%04o\n%s\n" % (umask, mode), result.stderr


def test_task_gets_the_soft_fd_limit_the_daemon_started_with(tmp_path: Path) -> None:
    """Regression: the daemon raises its own soft fd limit to the hard one; tasks inherited that."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, hard, 4096) - 7  # distinct from both limits wherever the test runs

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))

    result = subprocess.run([*FASTPATH, "run", "--", "ulimit -Sn"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=60, preexec_fn=lower)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"%d\n" % lowered, b"")


def test_autostarted_daemon_does_not_keep_the_callers_other_fds(tmp_path: Path) -> None:
    """Regression: the daemon a `runq run` starts inherited every inheritable fd of that caller
    (a make jobserver pipe, a harness's status pipe) and held it open forever, so the caller's
    own readers never saw EOF."""
    from conftest import wait_until

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    try:
        result = subprocess.run([*FASTPATH, "run", "--", "true"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=60, pass_fds=[write_end])
        assert result.returncode == 0, result.stderr
        os.close(write_end)

        def at_eof() -> bool:
            try:
                return os.read(read_end, 1) == b""
            except BlockingIOError:
                return False

        wait_until(at_eof, timeout=10)
    finally:
        os.close(read_end)


def test_capped_log_keeps_head_and_tail_while_the_caller_gets_everything(tmp_path: Path) -> None:
    """The log keeps the first and the last half of logs.max_bytes with the cut marked between;
    the caller's own output is never capped."""
    home = Path(os.environ["RUNQ_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[logs]\nmax_bytes = 4096\n")
    script = "import sys; sys.stdout.buffer.write(b''.join(b'%07d\\n' % i for i in range(40000)))"
    expected = b"".join(b"%07d\n" % i for i in range(40000))
    result = subprocess.run([*FASTPATH, "run", "--", "python3", "-c", script], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == expected
    log = (home / "task_logs" / "0.log").read_bytes()
    marker = b"\n[runq: output cut here: %d bytes omitted, see logs.max_bytes]\n" % (len(expected) - 4096)
    assert log == expected[:2048] + marker + expected[-2048:]
    assert sorted(p.name for p in (home / "task_logs").iterdir()) == ["0.log", "0.log.idx"]


def test_a_finished_task_leaves_only_its_log(tmp_path: Path) -> None:
    """One pipe for both streams needs no stream index, and a report the daemon saved leaves no
    exit file: a short task's cost is dominated by the files it creates."""
    home = Path(os.environ["RUNQ_HOME"])
    assert run("echo out; echo err >&2", tmp_path, merged=True).returncode == 0
    assert run("exit 0", tmp_path).returncode == 0
    assert sorted(p.name for p in (home / "task_logs").iterdir()) == ["0.log", "1.log"]
    assert (home / "task_logs" / "0.log").read_bytes() == b"out\nerr\n"
    assert run("echo out; echo err >&2", tmp_path).returncode == 0
    assert sorted(p.name for p in (home / "task_logs").iterdir()) == ["0.log", "1.log", "2.log", "2.log.idx"]
    assert (home / "task_logs" / "2.log.idx").read_bytes() == b"0 o\n4 e\n"
