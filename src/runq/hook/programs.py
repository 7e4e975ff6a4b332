"""What kind of work one simple command does, judged from its program and arguments.

Pure tables and functions: no IO except the PATH lookup passed in by the caller. The kinds:

- READ_ONLY: lists, reads, searches, reports (`ls`, `grep`, `git status`, `--help`, `--version`)
- SHELL: a builtin, or one that only changes the agent's own shell (`cd`, `export`, `source`)
- QUICK: a quick file or process operation (`mkdir`, `rm`, `kill`), never worth a task
- INTERACTIVE: wants a terminal (editors, pagers, REPLs, `ssh` without a command, `top`)
- DETACHED: starts something that outlives the command (`nohup`, `tmux`, `screen`, `setsid`)
- PRIVILEGED: `sudo` and friends, whose credential cache is tied to the caller's session
- RUNQ: runq's or pueue's own commands, or an already wrapped command
- UNKNOWN: a first word that is not a builtin, a function defined in the command, a path or
  an executable on PATH: an alias or function of the agent's shell, which the daemon can't see
- DYNAMIC: the program name comes from an expansion (`$CC -o x`), or `eval`
- WORK: everything else: builds, tests, installs, scripts; these are what the hook wraps
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

READ_ONLY = "read-only"
SHELL = "shell-builtin"
QUICK = "quick"
INTERACTIVE = "interactive"
DETACHED = "detached"
PRIVILEGED = "privileged"
RUNQ = "runq"
UNKNOWN = "not-on-path"
DYNAMIC = "dynamic"
WORK = "work"

# Kinds that make the hook leave the whole command line alone.
BLOCKING = frozenset({INTERACTIVE, DETACHED, PRIVILEGED, RUNQ, UNKNOWN, DYNAMIC})
# Kinds not worth a task on their own (a line made only of these is skipped).
TRIVIAL = frozenset({READ_ONLY, SHELL, QUICK})

SHELL_STATE = frozenset({
    "cd", "pushd", "popd", "dirs", "export", "source", ".", "alias", "unalias", "set", "shopt",
    "unset", "declare", "typeset", "local", "readonly", "hash", "ulimit", "umask", "trap", "enable",
    "bind", "complete", "compgen", "compopt", "builtin", "shift", "exit", "return", "break",
    "continue", "getopts", "let", "read", "readarray", "mapfile", "caller", "times", "logout",
})
READ_ONLY_BUILTINS = frozenset({
    "echo", "printf", "true", "false", ":", "test", "[", "[[", "pwd", "type", "help", "history",
    "jobs", "fc",
})
JOB_CONTROL = frozenset({"bg", "fg", "disown", "wait", "suspend"})
BASH_BUILTINS = SHELL_STATE | READ_ONLY_BUILTINS | JOB_CONTROL | {"eval", "exec", "command", "kill", "time"}

READ_ONLY_PROGRAMS = frozenset({
    "ls", "ll", "la", "dir", "vdir", "tree", "exa", "eza", "lsd", "cat", "bat", "batcat", "head",
    "tail", "wc", "stat", "file", "du", "df", "fd", "fdfind", "rg", "grep", "egrep", "fgrep", "ag",
    "ack", "locate", "awk", "gawk", "mawk", "jq", "yq", "xq", "uniq", "cut", "tr", "column", "nl",
    "tac", "rev", "diff", "cmp", "comm", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum",
    "basename", "dirname", "realpath", "readlink", "which", "whereis", "date", "whoami", "id",
    "groups", "hostname", "uname", "printenv", "ps", "pgrep", "free", "uptime", "nproc", "tty",
    "locale", "seq", "sleep", "xxd", "hexdump", "od", "strings", "base64", "lsof", "env", "cal",
    "getconf", "lscpu", "lsblk", "ldd", "nm", "objdump", "readelf", "size", "numfmt", "fold", "fmt",
    "expand", "unexpand", "paste", "join", "split", "csplit", "shuf", "expr", "factor", "yes",
    "tee", "pr", "iconv", "dig", "nslookup", "host", "ping", "tldr", "printf",
})
QUICK_PROGRAMS = frozenset({
    "mkdir", "touch", "mv", "cp", "rm", "rmdir", "ln", "chmod", "chown", "chgrp", "truncate",
    "unlink", "kill", "pkill", "killall", "install",
})
EDITORS = frozenset({"vi", "vim", "nvim", "view", "vimdiff", "nano", "pico", "emacs", "micro", "joe",
                     "mcedit", "kak", "hx"})
PAGERS = frozenset({"less", "more", "most", "man", "info", "pg"})
TERMINAL_UIS = frozenset({"top", "htop", "btop", "atop", "iotop", "nmtui", "mc", "ranger", "nnn",
                          "tig", "lazygit", "fzf", "watch", "ncdu", "glances", "vipe", "visudo"})
DETACHERS = frozenset({"nohup", "setsid", "disown", "tmux", "screen", "daemonize", "start-stop-daemon",
                       "systemd-run", "at", "batch"})
PRIVILEGE = frozenset({"sudo", "doas", "su", "pkexec", "run0"})
OWN = frozenset({"runq", "pueue", "pueued"})
SHELLS = frozenset({"bash", "sh", "zsh", "fish", "dash", "ksh"})
# REPL -> options that make it run something and exit instead of prompting.
REPLS: dict[str, frozenset[str]] = {
    "node": frozenset({"-e", "--eval", "-p", "--print", "--test", "-c", "--check"}),
    "irb": frozenset(),
    "ipython": frozenset({"-c", "-m"}),
    "bpython": frozenset(),
    "ruby": frozenset({"-e"}),
    "ghci": frozenset({"-e"}),
    "lua": frozenset({"-e"}),
    "R": frozenset({"-e", "-f", "--file"}),
    "julia": frozenset({"-e", "--eval"}),
    "psql": frozenset({"-c", "--command", "-f", "--file", "-l", "--list"}),
    "mysql": frozenset({"-e", "--execute"}),
    "mongosh": frozenset({"--eval", "-f", "--file"}),
    "mongo": frozenset({"--eval"}),
    "telnet": frozenset(),
    "ftp": frozenset(),
    "sftp": frozenset({"-b"}),
}

GIT_READ_ONLY = frozenset({
    "status", "log", "diff", "show", "branch", "tag", "remote", "ls-files", "ls-tree", "ls-remote",
    "rev-parse", "describe", "blame", "shortlog", "reflog", "grep", "cat-file", "show-ref",
    "for-each-ref", "merge-base", "name-rev", "rev-list", "whatchanged", "count-objects", "help",
    "version", "check-ignore", "annotate", "range-diff", "var", "verify-commit", "config",
})
GIT_OPTIONS_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                                    "--exec-path", "--config-env"})
# program -> subcommands that only read or report
PACKAGE_READ_ONLY: dict[str, frozenset[str]] = {
    "npm": frozenset({"ls", "list", "ll", "la", "view", "info", "show", "v", "outdated", "root", "bin",
                      "prefix", "help", "search", "whoami", "explain", "why", "fund", "ping"}),
    "yarn": frozenset({"list", "info", "why", "outdated", "help", "bin"}),
    "pnpm": frozenset({"ls", "list", "why", "outdated", "root", "bin", "help"}),
    "pip": frozenset({"list", "show", "freeze", "help", "check", "index", "inspect"}),
    "pip3": frozenset({"list", "show", "freeze", "help", "check", "index", "inspect"}),
    "cargo": frozenset({"tree", "metadata", "search", "help", "pkgid", "locate-project", "verify-project"}),
    "go": frozenset({"env", "version", "list", "doc", "help"}),
    "docker": frozenset({"ps", "images", "inspect", "logs", "version", "info", "top", "port", "stats",
                         "history", "diff"}),
    "kubectl": frozenset({"get", "describe", "logs", "version", "explain", "top", "api-resources",
                          "cluster-info", "config"}),
    "brew": frozenset({"list", "info", "search", "outdated", "deps", "leaves", "doctor", "config"}),
    "gh": frozenset({"status", "browse"}),
    "uv": frozenset({"tree", "help", "version"}),
    "poetry": frozenset({"show", "check", "env", "version"}),
    "conda": frozenset({"list", "info", "search"}),
    "apt": frozenset({"list", "show", "search", "policy"}),
    "apt-cache": frozenset({"search", "show", "policy", "depends", "rdepends", "showpkg"}),
    "dpkg": frozenset({"-l", "-L", "-s", "--list", "--listfiles", "--status", "-S", "--search"}),
    "systemctl": frozenset({"status", "list-units", "list-unit-files", "is-active", "is-enabled",
                            "show", "cat"}),
    "journalctl": frozenset(),
}

# prefix program -> options that take a value, for stepping over them to the real program
PREFIX_OPTIONS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group"}),
    "doas": frozenset({"-u", "-C"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "nohup": frozenset(),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "exec": frozenset({"-a"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}),
    "xargs": frozenset({"-I", "-i", "-n", "-P", "-d", "-L", "-l", "-s", "-E", "-e", "-a", "--arg-file",
                        "--delimiter", "--max-args", "--max-procs", "--max-lines", "--replace",
                        "--max-chars", "--eof", "--process-slot-var"}),
    "taskset": frozenset(),
    "chrt": frozenset(),
    "unbuffer": frozenset(),
    "caffeinate": frozenset({"-t", "-w"}),
}


class Resolved:
    """A simple command seen through its prefixes: `sudo -u x nice make test` -> make, [test]."""

    __slots__ = ("args", "prefixes", "program")

    def __init__(self, program: str | None, args: list[str | None], prefixes: list[str]) -> None:
        self.program = program
        self.args = args
        self.prefixes = prefixes


def basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def resolve(words: list[str | None]) -> Resolved:
    prefixes: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word is None:
            return Resolved(None, words[index + 1:], prefixes)
        name = basename(word)
        options = PREFIX_OPTIONS.get(name)
        if options is None or (name == "command" and _has_any(words[index + 1:], ("-v", "-V"))):
            return Resolved(word, words[index + 1:], prefixes)
        prefixes.append(name)
        index = skip_prefix_arguments(name, words, index + 1, options)
    return Resolved("", [], prefixes)


def skip_prefix_arguments(name: str, words: list[str | None], index: int, options: frozenset[str]) -> int:
    positional_needed = 1 if name == "timeout" else 0  # timeout DURATION program
    while index < len(words):
        word = words[index]
        if word is None:
            return index
        if word == "--":
            return index + 1
        if word.startswith("-") and len(word) > 1:
            index += 2 if word in options else 1
            continue
        if name == "env" and "=" in word:
            index += 1
            continue
        if positional_needed:
            positional_needed -= 1
            index += 1
            continue
        return index
    return index


def _has_any(words: list[str | None], wanted: tuple[str, ...]) -> bool:
    return any(word in wanted for word in words)


def classify(words: list[str | None], stdin_redirected: bool, functions: set[str],
             on_path: Callable[[str], bool]) -> tuple[str, str]:
    """(kind, program) for one simple command's words (assignments already removed)."""
    if not words:
        return SHELL, ""
    resolved = resolve(words)
    if any(prefix in PRIVILEGE for prefix in resolved.prefixes):
        return PRIVILEGED, resolved.prefixes[0]
    if "nohup" in resolved.prefixes:
        return DETACHED, "nohup"
    program = resolved.program
    if program is None or (program == "" and not resolved.prefixes):
        return DYNAMIC, ""
    if program == "":
        return READ_ONLY, resolved.prefixes[-1]  # bare `env`, `time`, `nice`: report and exit
    name = basename(program)
    args = resolved.args
    if _is_own(name, words):
        return RUNQ, name
    if _asks_for_help(args):
        return READ_ONLY, name
    kind = _classify_program(name, args, stdin_redirected)
    if kind is not None:
        return kind, name
    if program not in functions and "/" not in program and program not in BASH_BUILTINS and not on_path(program):
        return UNKNOWN, program
    return _classify_work(name, args), name


def _is_own(name: str, words: list[str | None]) -> bool:
    if name in OWN:
        return True
    return any(word is not None and word.endswith("runq/fastpath.py") for word in words)


def _classify_program(name: str, args: list[str | None], stdin_redirected: bool) -> str | None:
    if name in PRIVILEGE:
        return PRIVILEGED
    if name in DETACHERS:
        return DETACHED
    if name == "eval":
        return DYNAMIC
    if name == "command":
        return READ_ONLY  # only reached for `command -v NAME`: a lookup
    if name in JOB_CONTROL:
        return DETACHED
    if name in SHELL_STATE:
        return SHELL
    if name in READ_ONLY_BUILTINS:
        return READ_ONLY
    if name in EDITORS:
        return None if _has_any(args, ("--batch", "-batch", "--script", "-es", "-Es")) else INTERACTIVE
    if name in PAGERS or name in TERMINAL_UIS:
        return INTERACTIVE
    if not stdin_redirected and _is_repl(name, args):
        return INTERACTIVE
    return None


def _is_repl(name: str, args: list[str | None]) -> bool:
    if _is_python(name):
        return _python_is_repl(args)
    if name in SHELLS:
        positional = [a for a in args if a is not None and not a.startswith("-")]
        return not positional and "-c" not in args or "-i" in args
    if name == "ssh":
        return _ssh_without_command(args)
    if name in ("sqlite3", "redis-cli"):
        arguments: list[str | None] = [a for a in args if a is None or not a.startswith("-")]
        return len(arguments) < (2 if name == "sqlite3" else 1)
    runners = REPLS.get(name)
    if runners is None:
        return False
    if any(arg in runners for arg in args):
        return False
    if name in ("psql", "mysql", "telnet", "ftp", "sftp", "mongosh", "mongo"):
        return True
    operands: list[str | None] = [a for a in args if a is None or not a.startswith("-")]
    return not operands or "-i" in args


def _is_python(name: str) -> bool:
    if not name.startswith("python"):
        return False
    version = name[6:]
    return all(char.isdigit() or char == "." for char in version)


def _python_is_repl(args: list[str | None]) -> bool:
    if "-i" in args:
        return True
    for arg in args:
        if arg is None or not arg.startswith("-") or arg in ("-c", "-m", "-") or arg.startswith(("-c", "-m")):
            return False
    return True


def _ssh_without_command(args: list[str | None]) -> bool:
    with_value = set("BbcDEeFIiJLlmOoPpQRSWw")
    positional = 0
    index = 0
    while index < len(args):
        arg = args[index]
        if arg is not None and arg.startswith("-") and len(arg) > 1:
            index += 2 if len(arg) == 2 and arg[1] in with_value else 1
            continue
        positional += 1
        index += 1
    return positional <= 1


def _asks_for_help(args: list[str | None]) -> bool:
    return "--help" in args or "--version" in args or (len(args) == 1 and args[0] in ("-h", "-V", "-v"))


def _classify_work(name: str, args: list[str | None]) -> str:
    if name in CONTAINER_TOOLS and _wants_terminal(args):
        return INTERACTIVE
    if name in READ_ONLY_PROGRAMS:
        return READ_ONLY
    if name == "find":
        return WORK if _has_any(args, ("-exec", "-execdir", "-ok", "-okdir")) else (
            QUICK if "-delete" in args else READ_ONLY)
    if name == "sed":
        in_place = any(a is not None and a.startswith(("-i", "--in-place")) for a in args)
        return QUICK if in_place else READ_ONLY
    if name == "sort":
        return QUICK if _has_any(args, ("-o",)) else READ_ONLY
    if name in QUICK_PROGRAMS:
        return QUICK
    if name == "git":
        return _classify_git(args)
    subcommands = PACKAGE_READ_ONLY.get(name)
    if subcommands is not None:
        first = _first_positional(args) if name != "dpkg" else (args[0] if args else None)
        if not subcommands or first in subcommands or (name == "uv" and args[:2] == ["pip", "list"]):
            return READ_ONLY
    return WORK


CONTAINER_TOOLS = frozenset({"docker", "podman", "nerdctl", "kubectl"})


def _wants_terminal(args: list[str | None]) -> bool:
    """`docker exec -it app bash`, `kubectl exec -ti pod -- sh`: a terminal session."""
    if _first_positional(args) not in ("exec", "run", "attach"):
        return False
    flags = [arg for arg in args if arg is not None and arg.startswith("-")]
    short = "".join(flag[1:] for flag in flags if not flag.startswith("--"))
    return ("t" in short and "i" in short) or ("--tty" in flags and "--interactive" in flags)


def _first_positional(args: list[str | None]) -> str | None:
    for arg in args:
        if arg is None:
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _classify_git(args: list[str | None]) -> str:
    index = 0
    while index < len(args):
        arg = args[index]
        if arg is None:
            return WORK
        if arg in GIT_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        rest = args[index + 1:]
        if arg in GIT_READ_ONLY:
            return READ_ONLY if arg != "config" or not _git_config_writes(rest) else QUICK
        if arg == "stash" and rest[:1] in (["list"], ["show"]):
            return READ_ONLY
        if arg == "worktree" and rest[:1] == ["list"]:
            return READ_ONLY
        if _git_interactive(arg, rest):
            return INTERACTIVE
        return WORK
    return READ_ONLY  # bare `git` prints its usage


def _git_config_writes(rest: list[str | None]) -> bool:
    reads = ("--get", "--get-all", "--get-regexp", "--list", "-l", "--show-origin", "--show-scope")
    if any(arg in reads for arg in rest):
        return False
    positional = [arg for arg in rest if arg is None or not arg.startswith("-")]
    return len(positional) >= 2


def _git_interactive(subcommand: str, rest: list[str | None]) -> bool:
    if subcommand == "commit":
        message = ("-m", "-F", "-C", "--message", "--file", "--reuse-message", "--no-edit", "--fixup")
        return not any(arg is not None and (arg in message or arg.startswith(("-m", "--message=", "--file=",
                                                                               "--fixup=", "-F")))
                       for arg in rest)
    if subcommand == "rebase":
        return _has_any(rest, ("-i", "--interactive"))
    if subcommand in ("add", "checkout", "reset", "restore", "stash"):
        return _has_any(rest, ("-p", "--patch", "-i", "--interactive"))
    return subcommand in ("mergetool", "difftool")
