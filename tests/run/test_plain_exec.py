"""Plain command lines run without bash (runq/engine/direct.py) and must not show it.

Each case runs `runq run -- LINE` and `bash -c LINE` under one environment, and compares what
the program saw (its argv and its exact environment block, order included, read from
/proc/self/environ), its output and its exit status. The lines and environments that bash
treats specially must come out as bash makes them: those take the bash path.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runq.engine import direct

SRC = Path(__file__).resolve().parents[2] / "src"
FASTPATH = [sys.executable, "-I", "-S", str(SRC / "runq" / "fastpath.py")]
ADDED_BY_RUNQ = (b"RUNQ_TASK_ID=", b"PUEUE_GROUP=", b"PUEUE_WORKER_ID=")

DUMP = f"""#!{sys.executable} -IS
import sys
entries = open("/proc/self/environ", "rb").read().split(b"\\0")
sys.stdout.buffer.write(repr(sys.argv[1:]).encode() + b"\\n")
sys.stdout.buffer.write(b"\\n".join(entry for entry in entries if entry) + b"\\n")
"""


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("envdump", "other"):
        (folder / name).write_text(DUMP)
        (folder / name).chmod(0o755)
    (folder / "noshebang").write_text("echo run by bash $#\n")
    (folder / "noshebang").chmod(0o755)
    (folder / "sourced.sh").write_text("echo sourced from BASH_ENV\n")
    return folder


def _without_runq_variables(output: bytes) -> bytes:
    return b"\n".join(line for line in output.split(b"\n") if not line.startswith(ADDED_BY_RUNQ))


def compare(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    wrapped = subprocess.run([*FASTPATH, "run", "--", line], env=env, cwd=cwd, capture_output=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    plain = subprocess.run(["bash", "-c", line], env=env, cwd=cwd, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    assert wrapped.returncode == plain.returncode, (line, wrapped.stderr, plain.stderr)
    assert wrapped.stderr == plain.stderr, line
    assert _without_runq_variables(wrapped.stdout) == plain.stdout, line
    return wrapped


def base_env(bin_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in direct.BASH_MANAGED}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    env["LC_ALL"] = "C.UTF-8"
    return env


ENVIRONMENTS = {
    "as-is": {},
    "no-shlvl-no-pwd-no-underscore": {"SHLVL": None, "PWD": None, "_": None},
    "shlvl-leading-zeros": {"SHLVL": "007"},
    "wrong-pwd": {"PWD": "/"},
    "pwd-with-dots": {"PWD": "{cwd}/../{cwd_name}"},
    "oldpwd-not-a-directory": {"OLDPWD": "/nonexistent-xyz"},
    "oldpwd-a-directory": {"OLDPWD": "/usr"},
    "underscore-set": {"_": "/somewhere/else"},
    "many-variables": {f"RUNQ_T_{i}_{chr(65 + i % 26)}": str(i) for i in range(120)},
}


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("line", ["envdump", "envdump a b=c --flag -x 1,2 x:y @h %p", "./bin/envdump one",
                                  "{bin}/other  spaced   words"])
def test_plain_line_sees_what_it_would_under_bash(line: str, name: str, bin_dir: Path, tmp_path: Path, daemon: Path) -> None:
    cwd = tmp_path
    env = base_env(bin_dir)
    env["PWD"] = str(cwd)
    for key, value in ENVIRONMENTS[name].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.format(cwd=cwd, cwd_name=cwd.name)
    line = line.format(bin=bin_dir)
    assert _plan_in(cwd, line, env) is not None, "this line should skip bash"
    result = compare(line, env, cwd)
    assert result.stdout.startswith(b"["), result.stdout


def _plan_in(cwd: Path, line: str, env: dict[str, str]) -> tuple | None:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return direct.plan(line, env)
    finally:
        os.chdir(here)


@pytest.mark.parametrize("line, extra, expected", [
    ("true --help", {}, b""),                        # the builtin, not coreutils' help text
    ("echo a  b", {}, b"a b\n"),                     # builtins stay with bash
    ("noshebang x y", {}, b"run by bash 2\n"),       # exec says ENOEXEC: bash runs the file itself
    ("envdump", {"BASH_FUNC_envdump%%": "() { echo exported function; }"}, b"exported function\n"),
    ("envdump 1", {"BASH_ENV": "{bin}/sourced.sh"}, None),
    ("nosuchcommand-xyz", {}, b""),
    ("FOO=1 envdump", {}, None),
    ("envdump $HOME", {}, None),
    ("envdump ~", {}, None),
    ("envdump *", {}, None),
])
def test_lines_bash_must_run_come_out_as_bash_makes_them(line: str, extra: dict[str, str], expected: bytes | None,
                                                         bin_dir: Path, tmp_path: Path, daemon: Path) -> None:
    env = base_env(bin_dir)
    env["PWD"] = str(tmp_path)
    env.update({key: value.replace("{bin}", str(bin_dir)) for key, value in extra.items()})
    # A file without #! is planned like any program; exec refuses it (ENOEXEC) and bash runs it.
    assert (_plan_in(tmp_path, line, env) is None) == (not line.startswith("noshebang"))
    result = compare(line, env, tmp_path)
    if expected is not None:
        assert result.stdout == expected
    if "BASH_ENV" in extra:
        assert result.stdout.startswith(b"sourced from BASH_ENV\n")


@pytest.mark.parametrize("line", ["pwd", "cd /tmp", "exit 3", "time ls", "if", "[ -e x ]", "-x", "a=b", "ls;ls",
                                  "ls|cat", "ls>x", "ls&", "(ls)", "ls\tx", "ls\nls", "ls 'x'", 'ls "x"', "ls \\x",
                                  "ls {a,b}", "ls !x", "ls #x", "ls [ab]", "ls ?", "", "   "])
def test_plan_leaves_shell_syntax_and_builtins_to_bash(line: str) -> None:
    assert direct.plan(line, {"PATH": "/usr/bin:/bin"}) is None


@pytest.mark.parametrize("env", [
    {"PATH": "/usr/bin:/bin", "IFS": ":"},
    {"PATH": "/usr/bin:/bin", "SHELLOPTS": "xtrace"},
    {"PATH": "/usr/bin:/bin", "LC_ALL": "xx_YY"},
    {"PATH": "/usr/bin:/bin", "SHLVL": "999"},
    {"PATH": "/usr/bin:/bin", "SHLVL": "-1"},
    {"PATH": "/usr/bin:/bin", "A-B": "1"},
    {"PATH": ".:/usr/bin:/bin"},
    {"PATH": ":/usr/bin:/bin"},
    {},
])
def test_plan_leaves_special_environments_to_bash(env: dict[str, str]) -> None:
    assert direct.plan("ls", env) is None


def test_model_agrees_with_the_installed_bash() -> None:
    assert direct.agrees_with("/usr/bin/bash" if Path("/usr/bin/bash").exists() else "/bin/bash")
