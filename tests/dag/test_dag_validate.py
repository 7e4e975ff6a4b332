"""Validation: every problem is one line naming the file and the task, nothing is queued, exit 2.

Plus the pure rules behind it (cycles, order, the plan of a re-run) checked with tables.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dag_support import fast_engine, write_dag  # noqa: F401

from runq.dag import graph
from runq.dag.parse import load
from runq.dag.plan import plan_run
from runq.dag.runs import PreviousRuns

GOOD = '[tasks.ok]\ncmd = "true"\n'

SINGLE_PROBLEMS = [
    ("unknown-after", '[tasks.a]\ncmd = "true"\nafter = ["nope"]\n', "task 'a': after names unknown task 'nope'"),
    ("cycle", ('[tasks.a]\ncmd = "true"\nafter = ["b"]\n[tasks.b]\ncmd = "true"\nafter = ["c"]\n'
               '[tasks.c]\ncmd = "true"\nafter = ["a"]\n'), "task 'a': dependency cycle: a -> b -> c -> a"),
    ("self-cycle", '[tasks.a]\ncmd = "true"\nafter = ["a"]\n', "task 'a': dependency cycle: a -> a"),
    ("duplicate", '[tasks.a]\ncmd = "true"\n[tasks.b]\ncmd = "true"\n[tasks.a]\ncmd = "false"\n',
     ":5: task 'a': duplicate task name (first declared on line 1)"),
    ("unknown-task-key", '[tasks.a]\ncmd = "true"\ncommand = "x"\n', "task 'a': unknown key 'command'"),
    ("unknown-top-key", 'name = "x"\n' + GOOD, "unknown top-level key 'name'"),
    ("unknown-group-key", '[groups.g]\nparalel = 2\n' + GOOD, "group 'g': unknown key 'paralel'"),
    ("missing-group", '[tasks.a]\ncmd = "true"\ngroup = "build"\n', "task 'a': group 'build' is not declared"),
    ("missing-cmd", '[tasks.a]\nlabel = "x"\n', "task 'a': cmd is missing"),
    ("cmd-type", '[tasks.a]\ncmd = 3\n', "task 'a': cmd must be a string or a non-empty list of strings"),
    ("after-type", '[tasks.a]\ncmd = "true"\nafter = "b"\n[tasks.b]\ncmd = "true"\n', "task 'a': after must be a list"),
    ("timeout-type", '[tasks.a]\ncmd = "true"\ntimeout = "5"\n', "task 'a': timeout must be a positive number"),
    ("timeout-zero", '[tasks.a]\ncmd = "true"\ntimeout = 0\n', "task 'a': timeout must be a positive number"),
    ("retries-type", '[tasks.a]\ncmd = "true"\nretries = 1.5\n', "task 'a': retries must be an integer >= 0"),
    ("retries-negative", '[tasks.a]\ncmd = "true"\nretries = -1\n', "task 'a': retries must be an integer >= 0"),
    ("priority-type", '[tasks.a]\ncmd = "true"\npriority = "high"\n', "task 'a': priority must be an integer"),
    ("env-type", '[tasks.a]\ncmd = "true"\nenv = { N = 1 }\n', "task 'a': env.N must be a string"),
    ("label-type", '[tasks.a]\ncmd = "true"\nlabel = 7\n', "task 'a': label must be a non-empty string"),
    ("group-parallel", '[groups.g]\nparallel = -1\n' + GOOD, "group 'g': parallel must be an integer >= 0"),
    ("cwd-missing", '[tasks.a]\ncmd = "true"\ncwd = "no/such/dir"\n', "task 'a': cwd 'no/such/dir' is not a directory"),
    ("task-not-table", '[tasks]\na = "true"\n', "task 'a': must be a table"),
    ("no-tasks", '[groups.g]\nparallel = 1\n', "no tasks"),
    ("bad-toml", '[tasks.a\ncmd = "true"\n', "invalid TOML"),
]


@pytest.mark.parametrize("text,expected", [p[1:] for p in SINGLE_PROBLEMS], ids=[p[0] for p in SINGLE_PROBLEMS])
def test_each_problem_is_one_line_with_file_and_task_and_nothing_is_queued(runq, home, tmp_path, text, expected):
    path = write_dag(tmp_path, text)
    result = runq("dag", "run", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(str(path)), lines[0]
    assert expected in lines[0]
    assert result.stdout == ""
    # validation happens before the client connects: no daemon was even started, so nothing is queued
    assert not (home / "run" / "daemon.sock").exists()


def test_all_problems_of_a_file_are_reported_in_one_pass(runq, home, tmp_path):
    path = write_dag(tmp_path, """
[groups.build]
parallel = "two"

[tasks.a]
cmd = "true"
after = ["b", "ghost"]

[tasks.b]
cmd = "true"
after = ["a"]
group = "tests"

[tasks.c]
cmd = "true"
colour = "red"

[tasks.a]
cmd = "again"
""")
    result = runq("dag", "run", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith(str(path)) for line in lines), lines
    expected = ["task 'a': duplicate task name", "group 'build': parallel must be", "after names unknown task 'ghost'",
                "task 'b': group 'tests' is not declared", "task 'c': unknown key 'colour'",
                "task 'a': dependency cycle: a -> b -> a"]
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, lines)
    assert len(lines) == len(expected)
    assert not (home / "run" / "daemon.sock").exists()


def test_validate_prints_the_queueing_order(runq, tmp_path):
    path = write_dag(tmp_path, """
[tasks.app]
cmd = "true"
after = ["lib-a", "lib-b"]
[tasks.lib-b]
cmd = "true"
[tasks.lib-a]
cmd = ["echo", "it's fine"]
""")
    result = runq("dag", "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok: 3 task(s)" in result.stdout
    assert "order: lib-b lib-a app" in result.stdout


def test_missing_file_is_one_line(runq, tmp_path):
    result = runq("dag", "run", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'absent.toml'}: cannot read the file: No such file or directory"


def test_relative_cwd_resolves_against_the_file_folder(tmp_path, monkeypatch):
    (tmp_path / "sub" / "pkg").mkdir(parents=True)
    path = write_dag(tmp_path / "sub", '[tasks.a]\ncmd = "true"\ncwd = "pkg"\n[tasks.b]\ncmd = ["printf", "%s", "a b"]\n')
    monkeypatch.chdir("/")
    dag = load(str(path))
    assert dag.task("a").cwd == str(tmp_path / "sub" / "pkg")
    assert dag.task("b").cwd == str(tmp_path / "sub")
    assert dag.task("b").command == "printf %s 'a b'"
    assert dag.task("a").label == "a"


@pytest.mark.parametrize("deps,cycles", [
    ({"a": [], "b": ["a"]}, []),
    ({"a": ["a"]}, [["a", "a"]]),
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b", "a"]]),
    ({"x": ["y"], "y": ["z"], "z": ["x"], "p": ["q"], "q": ["p"]}, [["x", "y", "z", "x"], ["p", "q", "p"]]),
])
def test_find_cycles(deps, cycles):
    assert graph.find_cycles(deps) == cycles


def test_topological_order_keeps_file_order_among_ready_tasks():
    deps = {"app": ["lib-a", "lib-b"], "lib-b": [], "docs": [], "lib-a": ["gen"], "gen": []}
    assert graph.topological_order(deps) == ["lib-b", "docs", "gen", "lib-a", "app"]


def test_cycle_detection_handles_long_chains():
    deps = {f"t{i}": [f"t{i + 1}"] for i in range(5000)}
    deps["t5000"] = ["t0"]
    (cycle,) = graph.find_cycles(deps)
    assert cycle[0] == cycle[-1] == "t0" and len(cycle) == 5002


def test_plan_of_a_rerun_drops_succeeded_tasks_and_their_edges(tmp_path):
    path = write_dag(tmp_path, """
[tasks.a]
cmd = "true"
[tasks.b]
cmd = "true"
after = ["a"]
[tasks.c]
cmd = "true"
after = ["b", "a"]
[tasks.d]
cmd = "true"
""")
    dag = load(str(path))
    plan = plan_run(dag, PreviousRuns(("r",), frozenset({"a", "d"})))
    assert [t.name for t in plan.order] == ["b", "c"]
    assert [t.after for t in plan.order] == [(), ("b",)]
    assert plan.skipped == ("a", "d")
