"""The corpus of real agent commands: each gets its expected decision, and every wrapped one
behaves exactly like the original under `bash -c` (stdout, stderr, exit status, files left)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CORPUS, EXECUTABLE_FIXTURES, FIXTURE_FILES, STUBS

from runq.hook import decide, rewrite

STUB = """#!/bin/sh
# read piped input to the end, as real filters do, so the writer never races a closed pipe
[ -p /dev/stdin ] && cat > /dev/null
echo "$(basename "$0") $*"
[ -n "$FOO" ] && echo "FOO=$FOO"
[ -n "$NODE_ENV" ] && echo "NODE_ENV=$NODE_ENV"
echo "$(basename "$0"): a line on stderr" >&2
case "$*" in *--fail*) exit 3;; esac
exit 0
"""
IDS = {"session-id": "session-corpus", "tool-use-id": "toolu_corpus", "prompt-id": "prompt-corpus"}
GIT_ENV = {"GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "agent@example.com", "GIT_COMMITTER_NAME": "Agent",
           "GIT_COMMITTER_EMAIL": "agent@example.com", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture(scope="module")
def stub_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stubs")
    for name in STUBS:
        (directory / name).write_text(STUB)
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture
def stub_path(stub_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = f"{stub_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    monkeypatch.setenv("PATH", path)
    return path


@pytest.mark.parametrize(("command", "expected"), CORPUS)
def test_corpus_decision(command: str, expected: str, stub_path: str) -> None:
    decision = decide.decide(command)
    got = "wrap" if decision.action == decide.WRAP else f"skip:{decision.reason.split(':')[0]}"
    assert got == expected, decision.reason


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 150
    assert len({command for command, _ in CORPUS}) == len(CORPUS)
    assert sum(1 for _, expected in CORPUS if expected == "wrap") >= 75


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    for name, content in FIXTURE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for name in EXECUTABLE_FIXTURES:
        (root / name).chmod(0o755)
    env = {**os.environ, **GIT_ENV, "HOME": str(root)}
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
    (root / "notes.txt").write_text("untracked\n")
    return root


def _run(command: str, work: Path, template: Path, env: dict[str, str]) -> tuple[str, str, int, dict[str, bytes]]:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)
    done = subprocess.run(["bash", "-c", command], cwd=work, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.stdout, done.stderr, done.returncode, _files(work)


def _files(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] != ".git" and path.is_file():
            found[str(relative)] = path.read_bytes()
    return found


def _wrapped_entries() -> list[str]:
    return [command for command, expected in CORPUS if expected == "wrap"]


def test_wrapped_commands_behave_like_the_originals(daemon: Path, stub_path: str, template: Path,
                                                    tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, **GIT_ENV, "PATH": stub_path, "HOME": str(home), "LC_ALL": "C",
           # `time` reports timings; a fixed format keeps the two runs comparable
           "TIMEFORMAT": "time-report"}

    def compare(numbered: tuple[int, str]) -> tuple[str, tuple, tuple] | None:
        # each entry gets its own directory; its two runs use the same path, one after the other
        number, command = numbered
        decision = decide.decide(command)
        assert decision.action == decide.WRAP and decision.shape is not None, command
        wrapped = rewrite.wrap(command, decision.shape.wrap_start, IDS)
        work = tmp_path / f"entry{number}" / "work"
        original = _run(command, work, template, env)
        through_runq = _run(wrapped, work, template, env)
        shutil.rmtree(work.parent)
        return None if original == through_runq else (command, original[:3], through_runq[:3])

    entries = list(enumerate(_wrapped_entries()))
    with ThreadPoolExecutor(max_workers=4) as pool:
        differences = [found for found in pool.map(compare, entries) if found is not None]
    assert len(entries) >= 75
    assert not differences, "\n".join(map(repr, differences))
