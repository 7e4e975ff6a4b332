"""Run a plain command line without bash when bash would only exec it, as GNU make does.

`bash -c 'pytest -q tests'` parses the line, finds pytest on PATH and execs it in its own place:
the task is the same process either way, but bash's start costs about a millisecond of CPU, as
much as the rest of a short task. When the line is plain words and nothing bash does could show,
the supervisor execs the program itself, with the environment bash would have handed it: PWD,
SHLVL and `_` set as bash sets them, the variables in bash's own order (its hash table's). Any
doubt (a shell character, a builtin, a variable bash treats specially, a program not found)
leaves the line to bash. `agrees_with` checks the model against the installed bash once.
"""
from __future__ import annotations

import os
import stat

SAFE_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./,:+@%-= ")
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# Builtins and reserved words: bash runs these itself. `true` and `false` without arguments do
# exactly what the programs of the same name do (with --help they do not).
BASH_OWN = frozenset((
    "!", ".", ":", "[", "[[", "]]", "{", "}", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd",
    "command", "compgen", "complete", "compopt", "continue", "coproc", "declare", "dirs", "disown", "do", "done",
    "echo", "elif", "else", "enable", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for",
    "function", "getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local", "logout",
    "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "select", "set",
    "shift", "shopt", "source", "suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
))
SAME_AS_PROGRAM = frozenset(("true", "false"))
# Variables bash changes, drops or acts on when it finds them in its environment.
BASH_MANAGED = frozenset((
    "IFS", "PS1", "PS2", "PS4", "PPID", "BASH", "BASH_VERSION", "BASH_VERSINFO", "BASHPID", "OPTIND", "OPTERR",
    "RANDOM", "SRANDOM", "LINENO", "HISTCMD", "EPOCHSECONDS", "EPOCHREALTIME", "BASH_MONOSECONDS", "BASH_SUBSHELL",
    "BASH_ARGV0", "COMP_WORDBREAKS", "BASH_EXECUTION_STRING", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS",
    "POSIXLY_CORRECT", "BASH_COMPAT", "BASH_XTRACEFD", "EXECIGNORE",
))
PORTABLE_LOCALES = frozenset(("", "C", "POSIX", "C.UTF-8", "C.utf8"))  # bash warns on an unknown LC_ALL
HASH_BUCKETS = 1024  # bash's table of shell variables


def plan(command: str, env: dict[str, str]) -> tuple[str, list[str], dict[str, str]] | None:
    """(program, argv, environment) for an exec that does what `bash -c command` would, or None.

    Call it in the task's working directory: PWD and relative programs are judged there."""
    if not command or not SAFE_CHARACTERS.issuperset(command):
        return None
    words = command.split()  # spaces are the only blanks SAFE_CHARACTERS lets through
    if not words:
        return None
    first = words[0]
    if "=" in first or first.startswith("-"):
        return None  # an assignment, or an option bash would take as a command name
    if first in BASH_OWN and not (first in SAME_AS_PROGRAM and len(words) == 1):
        return None
    if not _plain_environment(env):
        return None
    program = _find(first, env.get("PATH"))
    if program is None:
        return None  # bash says "not found" or "Permission denied" in its own words
    try:
        exec_env = _environment_after_bash(env, program)
    except OSError:
        return None  # the working directory vanished under us: bash says what it says then
    return (program, words, exec_env) if exec_env is not None else None


def _plain_environment(env: dict[str, str]) -> bool:
    for name in env:
        if not name or name[0].isdigit() or not NAME_CHARACTERS.issuperset(name):
            return False  # bash keeps such entries apart from its variables: order unknown
        if name in BASH_MANAGED or name.startswith("BASH_FUNC_"):
            return False
    return env.get("LC_ALL", "") in PORTABLE_LOCALES


def _find(word: str, search: str | None) -> str | None:
    """The file bash would exec for `word`: PATH entries in order, the first executable file."""
    if "/" in word:
        return word if _is_program(word) else None
    if search is None:
        return None  # bash falls back to its own default PATH
    for folder in search.split(":"):
        if not folder.startswith("/"):
            return None  # the current or a relative directory: let bash resolve it
        candidate = folder + "/" + word
        if _is_program(candidate):
            return candidate
    return None


def _is_program(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(mode) and os.access(path, os.X_OK)


def _environment_after_bash(env: dict[str, str], program: str) -> dict[str, str] | None:
    """What bash exports to a command it execs: its imported variables plus PWD and SHLVL, in
    its hash table's order, with `_` set to the program (appended if bash had none)."""
    values = dict(env)
    inserted = list(env)
    pwd = env.get("PWD")
    if not (pwd and pwd.startswith("/") and _same_directory(pwd)):
        if pwd is None:
            inserted.append("PWD")
        values["PWD"] = os.getcwd()
    level = env.get("SHLVL")
    if level is None:
        inserted.append("SHLVL")
        values["SHLVL"] = "0"  # 1 for the shell, back to 0 as it execs its one command
    elif level.isascii() and level.isdigit() and int(level) < 999:
        values["SHLVL"] = str(int(level))
    else:
        return None
    oldpwd = env.get("OLDPWD")
    if oldpwd is not None and not os.path.isdir(oldpwd):
        inserted.remove("OLDPWD")  # bash keeps it unexported when it names no directory
    names = _bash_order(tuple(inserted))
    values["_"] = program
    return {name: values[name] for name in names}


_orders: dict[tuple[str, ...], list[str]] = {}


def _bash_order(inserted: tuple[str, ...]) -> list[str]:
    """The names in the order bash exports them: by hash bucket, the latest inserted first within
    one, and `_` last when it was not imported. Tasks repeat environments, so orders are kept."""
    order = _orders.get(inserted)
    if order is None:
        ranked = sorted(range(len(inserted)), key=lambda at: (_bucket(inserted[at]), -at))
        order = [inserted[at] for at in ranked]
        if "_" not in inserted:
            order.append("_")
        if len(_orders) >= 64:
            _orders.clear()
        _orders[inserted] = order
    return order


def _same_directory(path: str) -> bool:
    try:
        there, here = os.stat(path), os.stat(".")
    except (OSError, ValueError):
        return False
    return (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)


def _bucket(name: str) -> int:
    """bash's hash_string (FNV-1, 32 bits) modulo its variable table's size."""
    value = 2166136261
    for byte in name.encode("utf-8", "surrogateescape"):
        value = (value * 16777619) & 0xFFFFFFFF
        value ^= byte
    return value & (HASH_BUCKETS - 1)


def agrees_with(bash: str) -> bool:
    """Whether this bash exports what the model predicts (another version may order or set
    variables differently): run it once on a made-up environment and compare."""
    import subprocess

    env = {f"RUNQ_{chr(65 + i % 26)}{i}": str(i) for i in range(40)}
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), SHLVL="3", _="/nowhere", OLDPWD="/")
    env = dict(sorted(env.items(), key=lambda item: item[0][::-1]))
    expected = plan("env", env)
    if expected is None:
        return False
    try:
        result = subprocess.run([bash, "-c", "env"], env=env, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    lines = result.stdout.decode("utf-8", "surrogateescape").splitlines()
    return result.returncode == 0 and lines == [f"{name}={value}" for name, value in expected[2].items()]
