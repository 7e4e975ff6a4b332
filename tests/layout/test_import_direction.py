"""The package's layering, checked in fresh interpreters: what each part may load.

model is a leaf; protocol loads only model-free wire code; the engine never loads the client,
hook or dag; clients never load the engine. And the hot paths stay light: `runq run` and the
hook's entry must not pull in argparse, json, re or the full socket module.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import SRC


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {SRC!r}); {code}"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize(("module", "forbidden"), [
    ("runq.model", ("runq.protocol", "runq.engine", "runq.client", "runq.hook", "runq.dag", "runq.telemetry")),
    ("runq.protocol.wire", ("runq.engine", "runq.client", "runq.hook", "runq.dag", "runq.telemetry")),
    ("runq.engine.daemon", ("runq.client", "runq.hook", "runq.dag")),
    ("runq.client.main", ("runq.engine",)),
    ("runq.dag.cli", ("runq.engine",)),
    ("runq.hook.cli", ("runq.engine",)),
    ("runq.telemetry.cli_stats", ("runq.engine", "runq.client.commands")),
])
def test_layers_import_only_downwards(module: str, forbidden: tuple[str, ...]) -> None:
    modules = loaded_after(f"import {module}")
    leaks = sorted(m for m in modules if m.startswith(forbidden))
    assert not leaks, f"{module} loads {leaks}"


@pytest.mark.parametrize("entry", [
    "from runq.client.commands import run",
    "from runq.client import connection",
    "from runq.hook import claude",
])
def test_hot_paths_stay_light(entry: str) -> None:
    modules = loaded_after(entry)
    heavy = sorted(modules & {"argparse", "json", "re", "socket", "typing", "subprocess", "asyncio", "sqlite3", "tree_sitter"})
    assert not heavy, f"{entry} loads {heavy}"
