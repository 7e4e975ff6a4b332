"""`runq run -- CMD` against `bash -c CMD` run directly: same bytes, same interleaving, same status.

Each case runs four times: directly and through runq, each once with stdout and stderr on two
files and once with both on ONE open file (how Claude Code runs commands), so the exact
interleaving of the two streams is compared too. A signal death is compared as bash reports
it (128 + N), which is what `runq run` must exit with.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import wait_until

SRC = Path(__file__).resolve().parents[2] / "src"
FASTPATH = [sys.executable, "-I", "-S", str(SRC / "runq" / "fastpath.py")]
INLINE_LIMIT = 4 << 20  # captures larger than this are compared by length and digest
FIDELITY_VALUE = "värde med  två spaces, $dollar, 'quote' \"dq\" \\ and ✓"


# ---- running one command four ways --------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    stdout: bytes | str
    stderr: bytes | str
    merged: bytes | str
    status: int
    merged_status: int


def _capture(handle: tempfile._TemporaryFileWrapper) -> bytes | str:  # type: ignore[type-arg]
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    if size <= INLINE_LIMIT:
        return handle.read()
    digest = hashlib.sha256()
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
    return f"<{size} bytes, sha256 {digest.hexdigest()}>"


def _status(returncode: int) -> int:
    """A death by signal N, as a shell reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def observe(argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> Outcome:
    common = {"cwd": cwd, "env": env, "timeout": 120}
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    with tempfile.TemporaryFile(dir=cwd.parent) as out, tempfile.TemporaryFile(dir=cwd.parent) as err:
        split = subprocess.run(argv, stdout=out, stderr=err, **feed, **common)  # type: ignore[call-overload]
        stdout, stderr = _capture(out), _capture(err)
    with tempfile.TemporaryFile(dir=cwd.parent) as both:
        merged = subprocess.run(argv, stdout=both, stderr=both, **feed, **common)  # type: ignore[call-overload]
        together = _capture(both)
    return Outcome(stdout, stderr, together, _status(split.returncode), _status(merged.returncode))


def _first_difference(expected: bytes | str | int, actual: bytes | str | int) -> str:
    if not isinstance(expected, bytes) or not isinstance(actual, bytes):
        return f"expected {expected!r}, got {actual!r}"
    at = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    return (f"lengths {len(expected)} vs {len(actual)}, first difference at byte {at}: "
            f"expected {expected[max(0, at - 40):at + 40]!r}, got {actual[max(0, at - 40):at + 40]!r}")


def assert_same(direct: Outcome, wrapped: Outcome) -> None:
    problems = [f"{name}: {_first_difference(getattr(direct, name), getattr(wrapped, name))}"
                for name in ("stdout", "stderr", "merged", "status", "merged_status")
                if getattr(direct, name) != getattr(wrapped, name)]
    assert not problems, "runq run differs from bash -c:\n" + "\n".join(problems) + _daemon_log_tail()


def _daemon_log_tail(lines: int = 30) -> str:
    """The daemon's own log, for a failure message (a crash or refusal explains most mismatches)."""
    try:
        text = (Path(os.environ["RUNQ_HOME"]) / "daemon.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n--- daemon.log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The caller's cwd: a few files the cases use (relative paths, permissions)."""
    work = tmp_path / "work dir"
    work.mkdir()
    (work / "data.txt").write_bytes(b"alpha\nbeta\ngamma\n")
    (work / "notexec.sh").write_text("echo should not run\n")
    (work / "notexec.sh").chmod(0o644)
    script = work / "script.sh"
    script.write_text('#!/bin/sh\necho "script: $# args: $*"\necho "script err" >&2\nexit 6\n')
    script.chmod(0o755)
    return work


@pytest.fixture
def caller_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PWD=str(workdir), RUNQ_FIDELITY=FIDELITY_VALUE, LC_ALL="C.UTF-8")
    return env


def runq_run(*args: str) -> list[str]:
    return [*FASTPATH, "run", *args]


# ---- the table ---------------------------------------------------------------------------------

# (id, shell string, stdin bytes or None)
SHELL_CASES: list[tuple[str, str, bytes | None]] = [
    # exit statuses, every class
    ("exit-0", "true", None),
    ("exit-1", "false", None),
    ("exit-2", "exit 2", None),
    ("exit-3-with-output", "echo out; echo err >&2; exit 3", None),
    ("exit-126-explicit", "exit 126", None),
    ("exit-127-explicit", "exit 127", None),
    ("exit-128", "exit 128", None),
    ("exit-200", "exit 200", None),
    ("exit-255", "exit 255", None),
    ("exit-256-wraps-to-0", "exit 256", None),
    ("exit-minus-1", "exit -1", None),
    ("builtin-error", "cd /nonexistent-dir-xyz", None),
    ("set-e", "set -e; echo before; false; echo unreachable", None),
    ("trap-exit", "trap 'echo trapped; exit 5' EXIT; echo body", None),
    # deaths by signal
    ("signal-term", "kill -TERM $$", None),
    ("signal-kill", "kill -KILL $$", None),
    ("signal-int", "kill -INT $$", None),
    ("signal-segv", "kill -SEGV $$", None),
    ("signal-hup-after-output", "echo before; echo before-err >&2; kill -HUP $$; echo after", None),
    ("signal-usr1", "kill -USR1 $$", None),
    ("signal-pipe", "kill -PIPE $$", None),
    ("child-killed-status", "sh -c 'kill -TERM $$'; echo \"child status $?\"", None),
    # quoting
    ("quote-single", "echo 'a  b   $HOME \\n \"x\"'", None),
    ("quote-double", 'echo "a  b" "c\\"d" "$((6*7))"', None),
    ("quote-dollar", "x=5; echo \"$x\" '$x' \\$x ${x}y \"${x:-none}\" \"$#\"", None),
    ("quote-backslashes", "printf '%s\\n' 'a\\\\b' \"c\\\\\\\\d\" e\\\\f 'g\\'", None),
    ("quote-newline-in-string", "printf '%s|' \"a\nb\" 'c\n\nd'; echo", None),
    ("quote-unicode", "echo 'héllo wörld ✓ 日本語 🎉'; echo 'ünï' >&2", None),
    ("quote-unicode-length", "printf '%s' 'ünï✓' | wc -c", None),
    ("quote-tabs-spaces", "printf 'a\\tb  c\\n'", None),
    ("multi-line-script", "echo one\necho two >&2\n\necho three", None),
    ("comment", "echo visible # echo hidden", None),
    ("glob", "echo /usr/bi*", None),
    ("arithmetic", "echo $((2**62)) $((7 / 2)) $((-7 % 3))", None),
    ("dollar-zero", "echo \"$0\"", None),
    # pipes
    ("pipe-sort", "printf 'b\\na\\nc\\n' | sort", None),
    ("pipe-chain", "seq 1 1000 | grep 7 | wc -l", None),
    ("pipe-yes-head", "yes | head -n 3", None),
    ("pipefail", "set -o pipefail; false | true", None),
    ("pipe-stderr-not-piped", "echo err >&2 | cat; echo out", None),
    # redirects
    ("redirect-to-stderr", "echo to-err 1>&2", None),
    ("redirect-order", "{ echo o; echo e >&2; } 2>&1 >/dev/null", None),
    ("redirect-devnull", "echo hidden > /dev/null; echo visible", None),
    ("redirect-2to1", "ls /nonexistent-xyz 2>&1", None),
    ("redirect-fd3", "exec 3>&1; echo via3 >&3; exec 3>&-", None),
    ("here-string", "cat <<< 'here string'", None),
    ("redirect-from-file", "wc -l < data.txt", None),
    # && and ||
    ("and-or-true", "true && echo yes || echo no", None),
    ("and-or-false", "false && echo yes || echo no", None),
    ("or-exit", "false || exit 7", None),
    # subshells and groups
    ("subshell-status", "(echo in; exit 4); echo \"after $?\"", None),
    ("subshell-exit", "(exit 9)", None),
    ("command-substitution", "x=$(echo sub; echo gone >&2); echo \"[$x]\"", None),
    ("brace-group", "{ echo grp; echo grp-err >&2; }", None),
    ("background-wait", "(echo bg-out; echo bg-err >&2) & wait; echo fg", None),
    # loops
    ("for-loop", "for i in 1 2 3; do echo \"o$i\"; echo \"e$i\" >&2; done", None),
    ("while-loop-interleaved",
     "i=0; while [ $i -lt 500 ]; do echo \"line $i\"; echo \"err $i\" >&2; i=$((i+1)); done", None),
    ("for-no-newline", "for i in $(seq 1 20); do printf '%d ' $i; done", None),
    ("until-break", "until false; do echo once; break; done", None),
    # heredocs
    ("heredoc", "cat <<EOF\nhello $((1+2)) $RUNQ_FIDELITY\nEOF", None),
    ("heredoc-quoted", "cat <<'EOF'\nliteral $HOME `date`\nEOF", None),
    ("heredoc-dash", "cat <<-EOF\n\tindented\n\t\tmore\n\tEOF", None),
    ("heredoc-to-stderr", "cat >&2 <<EOF\nto stderr\nEOF\necho after", None),
    # binary, invalid UTF-8, NUL bytes, sizes, no final newline
    ("binary-bytes", "printf '\\x00\\x01\\x02\\xff\\xfe\\x80'", None),
    ("invalid-utf8", "printf 'bad \\xc3\\x28 \\xa0\\xa1 end\\n'; printf '\\xff\\xfe err\\n' >&2", None),
    ("nul-bytes-both-streams", "printf 'a\\0b\\0c'; printf '\\0err\\0' >&2; printf 'd\\0'", None),
    ("all-byte-values",
     "python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4000)'", None),
    ("no-trailing-newline", "printf 'no newline'", None),
    ("no-trailing-newline-both", "printf 'out'; printf 'err' >&2; printf 'out2'", None),
    ("no-output", ":", None),
    ("empty-lines", "printf '\\n\\n\\n'", None),
    ("3mb-stderr", "head -c 3000000 /dev/zero | tr '\\0' 'e' >&2", None),
    ("big-chunks-interleaved",
     "for i in 1 2 3 4 5 6 7 8; do head -c 300000 /dev/zero | tr '\\0' o; "
     "head -c 300000 /dev/zero | tr '\\0' e >&2; echo \" $i\"; done", None),
    ("100mb-stdout", "yes 0123456789abcdefghi | head -c 100000000", None),
    ("long-line", "head -c 2000000 /dev/zero | tr '\\0' x", None),
    # stdin forwarding (EOF must close the task's stdin)
    ("stdin-wc", "wc -c", b"x\n"),
    ("stdin-cat-then-continue", "cat; echo \"after eof\"", b"abc"),
    ("stdin-read-lines", "read a; read b; echo \"$b-$a\"", b"1\n2\n3\n"),
    ("stdin-head", "head -n 1; echo rest; cat", b"first\nsecond\nthird\n"),
    ("stdin-binary", "cat", bytes(range(256)) * 4096),
    ("stdin-empty", "cat; echo \"status $?\"", b""),
    ("stdin-not-a-tty", "[ -t 0 ] && echo tty || echo not-tty; [ -t 1 ] && echo tty1 || echo not-tty1", None),
    # commands that cannot run
    ("missing-command", "nosuchcommand-xyz", None),
    ("missing-command-continues", "nosuchcommand-xyz arg; echo \"continues $?\"", None),
    ("missing-path", "/nonexistent/dir/cmd", None),
    ("not-executable", "./notexec.sh", None),
    ("directory-as-command", "/", None),
    ("script-with-args", "./script.sh a 'b c'", None),
    # cwd and environment of the caller
    ("cwd", "pwd; pwd -P", None),
    ("cwd-relative-file", "cat data.txt", None),
    ("cwd-listing", "ls", None),
    ("env-variable", "echo \"$RUNQ_FIDELITY\"; printf '%s' \"$RUNQ_FIDELITY\" | od -c | head -3", None),
    ("env-shlvl-path", "echo \"$SHLVL\"; echo \"$PATH\"", None),
    ("env-unset", "echo \"[${RUNQ_NOT_SET_XYZ-unset}]\"", None),
    ("umask-and-new-file-mode", "umask; rm -f made; touch made; stat -c %a made; rm made", None),
    ("ulimit-open-files", "ulimit -Sn; ulimit -Hn", None),
]

# Several arguments: each is one argv word, exactly as given (compared with bash -c of the
# shell-quoted words, which is what a direct run of that argv means).
ARGV_CASES: list[tuple[str, list[str]]] = [
    ("argv-python", ["python3", "-c", "print(42)"]),
    ("argv-python-exit", ["python3", "-c", "import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)"]),
    ("argv-tricky-words", ["printf", "[%s]\\n", "a b", "", "c'd", 'e"f', "$HOME", "*", "x\ny", "ünï", "\\", "-n"]),
    ("argv-sh-positional", ["sh", "-c", 'echo "$0:$1:$2"', "argv0", "one two", "three"]),
    ("argv-missing-command", ["nosuchcommand-xyz", "arg"]),
    ("argv-ls-error", ["ls", "/nonexistent-xyz"]),
]


@pytest.mark.parametrize("command,stdin", [pytest.param(c, s, id=i) for i, c, s in SHELL_CASES])
def test_shell_string_matches_bash(command: str, stdin: bytes | None, workdir: Path, caller_env: dict[str, str]) -> None:
    direct = observe(["bash", "-c", command], workdir, caller_env, stdin)
    wrapped = observe(runq_run("--", command), workdir, caller_env, stdin)
    assert_same(direct, wrapped)


@pytest.mark.parametrize("argv", [pytest.param(a, id=i) for i, a in ARGV_CASES])
def test_argv_form_matches_direct_run(argv: list[str], workdir: Path, caller_env: dict[str, str]) -> None:
    direct = observe(["bash", "-c", shlex.join(argv)], workdir, caller_env)
    wrapped = observe(runq_run("--", *argv), workdir, caller_env)
    assert_same(direct, wrapped)


def test_argv_words_arrive_exactly(workdir: Path, caller_env: dict[str, str]) -> None:
    words = ["a b", "", "c'd", 'e"f', "$HOME", "*", "x\ny", "ünï", "\\", "-n", "--", ";", "|", "&&"]
    result = subprocess.run(runq_run("--", "printf", "[%s]", *words), cwd=workdir, env=caller_env,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "".join(f"[{w}]" for w in words)
    assert result.stderr == b""


def test_python_print_42_argv(workdir: Path, caller_env: dict[str, str]) -> None:
    """The seed's pueue pattern turns this into a shell syntax error; runq must not."""
    result = subprocess.run(runq_run("--", "python3", "-c", "print(42)"), cwd=workdir, env=caller_env,
                            capture_output=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"42\n", b"")


def test_missing_command_gives_127_with_bash_message(workdir: Path, caller_env: dict[str, str]) -> None:
    result = subprocess.run(runq_run("--", "nosuchcommand-xyz"), cwd=workdir, env=caller_env,
                            capture_output=True, timeout=60)
    assert result.returncode == 127
    assert result.stdout == b""
    assert result.stderr == b"bash: line 1: nosuchcommand-xyz: command not found\n"


def test_not_executable_gives_126(workdir: Path, caller_env: dict[str, str]) -> None:
    result = subprocess.run(runq_run("--", "./notexec.sh"), cwd=workdir, env=caller_env,
                            capture_output=True, timeout=60)
    assert result.returncode == 126
    assert result.stderr == b"bash: line 1: ./notexec.sh: Permission denied\n"


def test_working_directory_option(tmp_path: Path, workdir: Path, caller_env: dict[str, str]) -> None:
    """-w DIR runs the task there, as `cd DIR && CMD` would."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "only-here.txt").write_text("found\n")
    result = subprocess.run(runq_run("-w", str(elsewhere), "--", "pwd; cat only-here.txt"), cwd=workdir,
                            env=caller_env, capture_output=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == f"{elsewhere}\nfound\n".encode()


def test_environment_is_the_callers_at_call_time(workdir: Path, caller_env: dict[str, str]) -> None:
    """A daemon started by an earlier call must not hand its own environment to later tasks."""
    first = subprocess.run(runq_run("--", "true"), cwd=workdir, env=caller_env, timeout=60)
    assert first.returncode == 0
    later = {**caller_env, "RUNQ_LATE_VAR": "set after the daemon started"}
    del later["RUNQ_FIDELITY"]
    result = subprocess.run(runq_run("--", 'echo "$RUNQ_LATE_VAR|${RUNQ_FIDELITY-gone}"'), cwd=workdir,
                            env=later, capture_output=True, timeout=60)
    assert result.stdout == b"set after the daemon started|gone\n"


def test_shorthand_and_console_entry_match(workdir: Path, caller_env: dict[str, str]) -> None:
    """`runq -- CMD` and `python -m runq run -- CMD` behave exactly like the fast launcher."""
    command = "echo o1; echo e1 >&2; echo o2; exit 3"
    direct = observe(["bash", "-c", command], workdir, caller_env)
    assert_same(direct, observe([*FASTPATH, "--", command], workdir, caller_env))
    env = {**caller_env, "PYTHONPATH": str(SRC)}
    assert_same(direct, observe([sys.executable, "-m", "runq", "run", "--", command], workdir, env))


# ---- what runq itself adds: nothing, unless asked -------------------------------------------------

def test_run_prints_nothing_of_its_own(workdir: Path, caller_env: dict[str, str]) -> None:
    for command in ("true", "false", "exit 3", "kill -TERM $$"):
        result = subprocess.run(runq_run("--", command), cwd=workdir, env=caller_env, capture_output=True, timeout=60)
        assert (result.stdout, result.stderr) == (b"", b""), command


def test_verbose_prints_one_footer_line_on_stderr(workdir: Path, caller_env: dict[str, str]) -> None:
    result = subprocess.run(runq_run("-v", "--", "echo out; exit 3"), cwd=workdir, env=caller_env,
                            capture_output=True, timeout=60)
    assert result.returncode == 3
    assert result.stdout == b"out\n"
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("runq: task ") and "exit 3" in lines[0]


# ---- live streaming ----------------------------------------------------------------------------

def _read_line(pipe: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(pipe, 4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_streams_live(stream: str, tmp_path: Path, workdir: Path, caller_env: dict[str, str]) -> None:
    """A line reaches the caller while the task still runs (it waits for a file we create only after)."""
    gate = tmp_path / "gate"
    redirect = ">&2" if stream == "stderr" else ""
    command = f"echo first {redirect}; while [ ! -e '{gate}' ]; do sleep 0.02; done; echo second {redirect}"
    read_end, write_end = os.pipe()
    targets = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: write_end}
    proc = subprocess.Popen(runq_run("--", command), cwd=workdir, env=caller_env, stdin=subprocess.DEVNULL,
                            stdout=targets["stdout"], stderr=targets["stderr"])
    os.close(write_end)
    try:
        assert _read_line(read_end) == b"first\n"
        assert not gate.exists() and proc.poll() is None
        gate.touch()
        assert _read_line(read_end) == b"second\n"
        assert proc.wait(timeout=60) == 0
        assert os.read(read_end, 10) == b""
    finally:
        os.close(read_end)
        if proc.poll() is None:
            proc.kill()


def test_partial_line_streams_live(tmp_path: Path, workdir: Path, caller_env: dict[str, str]) -> None:
    """No waiting for a newline either: a prompt-like partial line arrives at once."""
    gate = tmp_path / "gate"
    command = f"printf 'partial'; while [ ! -e '{gate}' ]; do sleep 0.02; done; printf ' rest'"
    proc = subprocess.Popen(runq_run("--", command), cwd=workdir, env=caller_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert os.read(proc.stdout.fileno(), 100) == b"partial"
        gate.touch()
        assert proc.stdout.read() == b" rest"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_closed_reader_stops_task_like_a_direct_run(workdir: Path, caller_env: dict[str, str]) -> None:
    """`runq run -- yes | head -1`: the task gets SIGPIPE once the reader is gone, as `yes` would."""
    script = f"{shlex.join(runq_run('--', 'yes'))} | head -n 1; echo \"status ${{PIPESTATUS[0]}}\""
    result = subprocess.run(["bash", "-c", script], cwd=workdir, env=caller_env, capture_output=True, timeout=60)
    direct = subprocess.run(["bash", "-c", "yes | head -n 1; echo \"status ${PIPESTATUS[0]}\""], cwd=workdir,
                            env=caller_env, capture_output=True, timeout=60)
    assert result.stdout == direct.stdout == b"y\nstatus 141\n"
    assert result.stderr == b""


# ---- the task is a task like any other -----------------------------------------------------------

def test_run_task_appears_in_status_and_log(runq, workdir: Path, caller_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(runq_run("-l", "fidelity", "--", "echo logged-out; echo logged-err >&2; exit 4"),
                            cwd=workdir, env=caller_env, capture_output=True, timeout=60)
    assert result.returncode == 4
    status = runq("status", "--json")
    assert status.returncode == 0, status.stderr
    import json

    tasks = json.loads(status.stdout)["tasks"]
    assert list(tasks) == ["0"]
    task = tasks["0"]
    assert task["command"] == "echo logged-out; echo logged-err >&2; exit 4"
    assert task["label"] == "fidelity"
    assert task["path"] == str(workdir)
    assert task["status"] == {"Done": {"enqueued_at": task["status"]["Done"]["enqueued_at"],
                                       "start": task["status"]["Done"]["start"],
                                       "end": task["status"]["Done"]["end"],
                                       "result": {"Failed": 4}}}
    log = runq("log", "0", "--full")
    assert log.returncode == 0, log.stderr
    assert "logged-out" in log.stdout and "logged-err" in log.stdout


def _task_status(runq, task_id: int) -> str | None:  # type: ignore[no-untyped-def]
    import json

    result = runq("status", "--json")
    task = json.loads(result.stdout)["tasks"].get(str(task_id))
    if task is None:
        return None
    status = task["status"]
    return status if isinstance(status, str) else next(iter(status))


def test_default_group_starts_at_once_even_when_full(runq, tmp_path: Path, workdir: Path,  # type: ignore[no-untyped-def]
                                                     caller_env: dict[str, str]) -> None:
    gate = tmp_path / "gate"
    blocker = runq("add", "--", f"while [ ! -e '{gate}' ]; do sleep 0.05; done")
    assert blocker.returncode == 0, blocker.stderr
    wait_until(lambda: _task_status(runq, 0) == "Running")
    result = subprocess.run(runq_run("--", "echo ran"), cwd=workdir, env=caller_env, capture_output=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"ran\n", b"")
    assert _task_status(runq, 0) == "Running"
    gate.touch()


def test_group_option_waits_for_a_slot(runq, tmp_path: Path, workdir: Path, caller_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "gate"
    assert runq("group", "add", "narrow", "--parallel", "1").returncode == 0
    blocker = runq("add", "-g", "narrow", "--", f"while [ ! -e '{gate}' ]; do sleep 0.05; done")
    assert blocker.returncode == 0, blocker.stderr
    wait_until(lambda: _task_status(runq, 0) == "Running")
    proc = subprocess.Popen(runq_run("-g", "narrow", "--", "echo ran in narrow"), cwd=workdir, env=caller_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _task_status(runq, 1) == "Queued")
        assert proc.poll() is None
        gate.touch()
        stdout, stderr = proc.communicate(timeout=60)
        assert (proc.returncode, stdout, stderr) == (0, b"ran in narrow\n", b"")
        assert _task_status(runq, 1) == "Done"
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()


# ---- background children that outlive the task's shell -------------------------------------------

def test_background_child_output_after_the_shell_exits_still_arrives(tmp_path: Path, workdir: Path,
                                                                    caller_env: dict[str, str]) -> None:
    """Run directly, `(sleep; echo late) & echo early` leaves "late" in the caller's file after
    bash has exited; through runq it must arrive there too, on both streams."""
    outcomes = []
    for name, argv in (("direct", ["bash", "-c"]), ("runq", runq_run("--"))):
        marker = tmp_path / f"{name}-done"
        command = (f"(while [ ! -e '{marker}.go' ]; do sleep 0.02; done; echo late; echo late-err >&2; "
                   f"touch '{marker}') & echo early")
        with tempfile.TemporaryFile(dir=tmp_path) as both:
            result = subprocess.run([*argv, command], cwd=workdir, env=caller_env, stdin=subprocess.DEVNULL,
                                    stdout=both, stderr=both, timeout=60)
            (tmp_path / f"{name}-done.go").touch()  # only now, after the shell has exited
            wait_until(marker.exists)
            wait_until(lambda: _capture(both).endswith(b"late-err\n"))
            outcomes.append((result.returncode, _capture(both)))
    assert outcomes[0] == outcomes[1] == (0, b"early\nlate\nlate-err\n")
    # The supervisor went back to its pool at once: the next run is not held up.
    quick = subprocess.run(runq_run("--", "echo next"), cwd=workdir, env=caller_env, capture_output=True, timeout=60)
    assert quick.stdout == b"next\n"


def test_reader_of_a_pipe_waits_for_background_children_like_a_direct_run(tmp_path: Path, workdir: Path,
                                                                          caller_env: dict[str, str]) -> None:
    """`$(bash -c 'child & echo x')` waits for the child's end of the pipe; so must `$(runq run ...)`."""
    gate = tmp_path / "gate"
    command = f"(while [ ! -e '{gate}' ]; do sleep 0.02; done; echo late) & echo early"
    proc = subprocess.Popen(runq_run("--", command), cwd=workdir, env=caller_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.wait(timeout=60) == 0  # runq run ends with the shell ...
        assert proc.stdout is not None
        assert os.read(proc.stdout.fileno(), 100) == b"early\n"  # ... but the pipe stays open
        gate.touch()
        assert proc.stdout.read() == b"late\n"
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()
