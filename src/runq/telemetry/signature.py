"""A command's signature: its program plus subcommand (`cargo test`, `npm run build`, `python -m pytest`).

Stats group runs by signature, so `pytest -x tests/a.py` and `pytest tests/b.py` count together.
The rules read a command line the way an agent writes one: leading `cd dir &&` and env assignments
are set-up, wrappers (sudo, time, nohup, env, nice, timeout, ...) are not the program, and the
first command of a pipeline is the one that does the work. Pure functions, no IO.
"""
from __future__ import annotations

import os
import shlex

# Wrappers to look through, with their options that take a value.
WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"}),
    "doas": frozenset({"-u", "-C"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "nohup": frozenset(),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "-t"}),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "setsid": frozenset(),
    "exec": frozenset({"-a"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "chronic": frozenset(),
    "caffeinate": frozenset({"-t", "-w"}),
}
# A wrapper whose first positional argument is not the program (`timeout 10 pytest`).
WRAPPER_POSITIONALS = {"timeout": 1}
# Set-up steps before the real work: `cd repo && make test` is `make test`.
SETUP_PROGRAMS = frozenset({"cd", "pushd", "popd", "export", "source", ".", "set", "unset", "shopt", "true", ":"})
# Programs whose first word is a subcommand worth keeping.
SUBCOMMAND_PROGRAMS = frozenset({
    "git", "cargo", "go", "npm", "pnpm", "yarn", "bun", "deno", "uv", "poetry", "pdm", "hatch", "pip", "pip3",
    "pipx", "conda", "mamba", "docker", "podman", "kubectl", "helm", "terraform", "tofu", "gh", "glab",
    "dotnet", "mvn", "gradle", "gradlew", "bazel", "bazelisk", "buck2", "make", "gmake", "just", "task", "nix",
    "rake", "bundle", "mix", "stack", "cabal", "zig", "swift", "flutter", "dart", "composer", "npx", "pnpx",
    "bunx", "rye", "tox", "nox", "invoke", "ansible-galaxy", "apt", "apt-get", "brew", "rustup", "cmake",
    "ctest", "meson", "ninja", "sbt", "lein", "firebase", "vercel", "wrangler", "aws", "gcloud", "az", "ruff",
    "pre-commit", "uvx",
})
# Options of those programs that take a value and come before the subcommand.
LEADING_VALUE_OPTIONS = frozenset({"-C", "-c", "-f", "--file", "--directory", "--manifest-path", "--prefix",
                                   "--project", "--cwd", "--git-dir", "--work-tree", "-p", "--namespace",
                                   "-n", "--context", "-F", "--filter", "-w", "--workspace"})
# `npm run build` and `uv run pytest`: the word after `run`/`exec` is the real subject.
RUN_SUBCOMMANDS = frozenset({"run", "exec", "x", "dlx", "run-script"})
# Runners that start another program: the signature keeps the runner and the program's own.
NESTED_RUNNERS = frozenset({"uv", "poetry", "pdm", "hatch", "rye", "pipenv", "conda", "mamba", "pnpm", "bun",
                            "npx", "pnpx", "bunx", "pipx", "nix", "bundle"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish"})
OPERATORS = frozenset({"&&", "||", ";", "|", "|&", "&", ";;", "(", ")", "\n"})
REDIRECTS = frozenset({">", ">>", "<", "<<", "<<<", ">&", "<&", "&>", "&>>", ">|", "<>"})
MAX_DEPTH = 4


def command_signature(command: str) -> str:
    """`cd x && FOO=1 sudo cargo +nightly test -p a 2>&1 | tail` -> `cargo test`."""
    return _signature_of_line(command, 0) or command.strip().split(" ", 1)[0] or "(empty)"


def _signature_of_line(command: str, depth: int) -> str:
    segments = _segments(command)
    chosen = next((words for words in segments if _program_of(words) not in SETUP_PROGRAMS), None)
    if chosen is None:
        chosen = segments[0] if segments else []
    return _signature_of_words(chosen, depth)


def _segments(command: str) -> list[list[str]]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: read it as plain words
        tokens = command.split()
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in OPERATORS:
            segments.append([])
        elif token in REDIRECTS:
            # `2>&1`: the fd number lexes as a word of its own, right before the operator
            if segments[-1] and segments[-1][-1].isdigit():
                segments[-1].pop()
            skip_next = True
        else:
            segments[-1].append(token)
    return [words for words in segments if words]


def _program_of(words: list[str]) -> str:
    index = _skip_assignments(words, 0)
    return os.path.basename(words[index]) if index < len(words) else ""


def _skip_assignments(words: list[str], index: int) -> int:
    while index < len(words) and _is_assignment(words[index]):
        index += 1
    return index


def _is_assignment(word: str) -> bool:
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier()


def _signature_of_words(words: list[str], depth: int) -> str:
    index = _skip_wrappers(words, _skip_assignments(words, 0))
    if index >= len(words):
        return ""
    program = os.path.basename(words[index])
    rest = words[index + 1:]
    if program in SHELLS and depth < MAX_DEPTH and "-c" in rest[:-1]:
        return _signature_of_line(rest[rest.index("-c") + 1], depth + 1) or program
    if program.startswith("python") or program in ("pypy", "pypy3"):
        return _python_signature(program, rest)
    if program in SUBCOMMAND_PROGRAMS:
        return _subcommand_signature(program, rest, depth)
    return program


def _skip_wrappers(words: list[str], index: int) -> int:
    while index < len(words):
        name = os.path.basename(words[index])
        options = WRAPPERS.get(name)
        if options is None:
            return index
        index += 1
        positionals = WRAPPER_POSITIONALS.get(name, 0)
        while index < len(words):
            word = words[index]
            if word in options:
                index += 2
            elif word.startswith("-") and word != "-" or name == "env" and _is_assignment(word):
                index += 1
            elif positionals:
                positionals -= 1
                index += 1
            else:
                break
    return index


def _python_signature(program: str, args: list[str]) -> str:
    index = 0
    while index < len(args):
        word = args[index]
        if word == "-m" and index + 1 < len(args):
            return f"{program} -m {args[index + 1]}"
        if word == "-c":
            return f"{program} -c"
        if word in ("-W", "-X", "-Q"):
            index += 2
            continue
        if not word.startswith("-"):
            return f"{program} {os.path.basename(word)}"
        index += 1
    return program


def _subcommand_signature(program: str, args: list[str], depth: int) -> str:
    index = _first_positional(args)
    if index is None:
        return program
    subcommand = args[index]
    if program in ("npx", "pnpx", "bunx", "uvx"):
        return f"{program} {_signature_of_words(args[index:], depth + 1)}" if depth < MAX_DEPTH else program
    if subcommand in RUN_SUBCOMMANDS:
        target = _first_positional(args[index + 1:])
        if target is None:
            return f"{program} {subcommand}"
        target_words = args[index + 1 + target:]
        if program in NESTED_RUNNERS and depth < MAX_DEPTH:
            return f"{program} {subcommand} {_signature_of_words(target_words, depth + 1)}"
        return f"{program} {subcommand} {target_words[0]}"
    return f"{program} {subcommand}"


def _first_positional(args: list[str]) -> int | None:
    index = 0
    while index < len(args):
        word = args[index]
        if word in LEADING_VALUE_OPTIONS:
            index += 2
        elif word.startswith(("-", "+")):  # options, and cargo's +toolchain
            index += 1
        elif "/" in word or "=" in word:
            return None  # a path or an assignment is an argument, not a subcommand
        else:
            return index
    return None
