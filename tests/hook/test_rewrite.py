"""The wrapper: one quoted argument, leading `cd` chain kept outside, simple commands only."""
from __future__ import annotations

import subprocess
import sys

import pytest

from runq.hook import activity, bashparse, decide, rewrite

IDS = {"session-id": "s 1", "tool-use-id": "toolu_1", "prompt-id": "p1"}


@pytest.mark.parametrize(("command", "kept"), [
    ("make test", ""),
    ("cd sub && make test", "cd sub && "),
    ('cd a && cd "b c" && pytest | tail -3', 'cd a && cd "b c" && '),
    ("cd a &&\n  make", "cd a &&\n  "),
    ("cd a && make || echo failed", ""),
    ("cd a; make", ""),
])
def test_leading_cd_chain_stays_outside(command: str, kept: str) -> None:
    shape = bashparse.parse(command)
    wrapped = rewrite.wrap(command, shape.wrap_start, IDS)
    assert wrapped.startswith(kept + rewrite.quote(sys.executable))
    assert wrapped.endswith(" -- " + rewrite.quote(command[len(kept):]))


@pytest.mark.parametrize("command", [
    "pytest -k 'a b' && make lint | tee out.log",
    "for s in a b; do echo \"$s\"; done > out.txt",
    "git commit -m \"$(cat <<'EOF'\nmsg with 'quotes'\nEOF\n)\"",
])
def test_the_rewrite_is_simple_commands_claude_code_can_parse(command: str) -> None:
    shape = bashparse.parse(rewrite.wrap(command, 0, IDS))
    assert not (shape.error or shape.compound or shape.substitution or shape.heredoc or shape.background)
    assert len(shape.commands) == 1
    assert shape.commands[0].words[-1] == command  # the original arrives as ONE argument, intact


def test_quote_matches_shlex() -> None:
    import shlex

    for value in ["", "plain", "a b", "it's", "$HOME", "a\nb", "ü", "-x", "'"]:
        assert rewrite.quote(value) == shlex.quote(value)
        assert subprocess.run(["bash", "-c", f"printf %s {rewrite.quote(value)}"], capture_output=True,
                              text=True, check=False).stdout == value


def test_missing_ids_are_left_out() -> None:
    wrapped = rewrite.wrap("make", 0, {"session-id": "s"})
    assert "--session-id s" in wrapped and "--tool-use-id" not in wrapped and "--agent-id" not in wrapped


def test_always_wrap_never_overrides_safety() -> None:
    patterns = decide.Patterns(always=["*"])
    assert decide.decide("make &", patterns).reason == "background"
    assert decide.decide("make && cd sub", patterns).reason == "cd-inside"
    assert decide.decide("ls", patterns).action == decide.WRAP


def test_activity_log_rotates(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity, "MAX_BYTES", 2000)
    for index in range(100):
        activity.append(str(tmp_path), {"event": "pre", "tool_use_id": f"t{index}", "command": "x" * 50})
    assert (tmp_path / "hook.jsonl").stat().st_size <= 2200
    assert (tmp_path / "hook.jsonl.1").exists()
    assert activity.find_pre(str(tmp_path), "t99")["command"] == "x" * 50
    assert [r["tool_use_id"] for r in activity.read_recent(str(tmp_path), 3)] == ["t97", "t98", "t99"]
