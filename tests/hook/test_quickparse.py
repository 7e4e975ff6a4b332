"""The tree-sitter-free fast path gives exactly the Shape the real parser gives, or declines."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CORPUS
from permission_table import ROWS

from runq.hook import bashparse, quickparse

EXTRA = [
    "pytest -q tests/ 2>&1 | tail -20", "make && make install", "cd a && cd b && make -j4", "cd a || make",
    "npm run test -- --watch=false", "a | b || c && d ; e", "cargo build 2>/dev/null", "cd a 2>/dev/null && make",
    "ls   -la", "x=1 make", "make >out.txt", "make 2>&1 -j4", "make &", "echo a;", "| tail", "make\ntest",
    "git log --oneline -10", "python3 -m pytest -x --tb=short",
]


def facts(shape: bashparse.Shape) -> tuple:
    commands = [(c.words, c.raw_words, c.assignments, sorted(c.redirects, key=str), c.text, c.start, c.end, c.nested)
                for c in shape.commands]
    return (commands, shape.comments, shape.background, shape.heredoc, shape.substitution, shape.compound,
            shape.functions, shape.error, shape.wrap_start, shape.leading_cds)


@pytest.mark.parametrize("command", sorted({c for c, _ in CORPUS} | {c for _, c, _ in ROWS} | set(EXTRA)))
def test_fast_path_agrees_with_tree_sitter(command: str) -> None:
    quick = quickparse.parse(command)
    if quick is not None:
        assert facts(quick) == facts(bashparse.parse(command))


def test_fast_path_takes_the_common_shapes() -> None:
    for command in ("pytest -q tests/ 2>&1 | tail -20", "cd a && make -j4", "npm run test -- --watch=false"):
        assert quickparse.parse(command) is not None
    for command in ('echo "x"', "ls *.py", "make # note", "make &", "x=1 make", "for", "make >out.txt"):
        assert quickparse.parse(command) is None
