"""Command signatures: program plus subcommand, read the way an agent writes commands."""
from __future__ import annotations

import pytest

from runq.telemetry.signature import command_signature


@pytest.mark.parametrize(("command", "signature"), [
    ("pytest", "pytest"),
    ("pytest -x tests/test_a.py -k 'slow and not net'", "pytest"),
    ("cargo test -p core --release", "cargo test"),
    ("cargo +nightly build", "cargo build"),
    ("npm run build", "npm run build"),
    ("npm run-script lint -- --fix", "npm run-script lint"),
    ("npm test", "npm test"),
    ("yarn build", "yarn build"),
    ("pnpm exec vitest run", "pnpm exec vitest"),
    ("git commit -m 'fix: a b'", "git commit"),
    ("git -C ../other --no-pager log", "git log"),
    ("python -m pytest -q", "python -m pytest"),
    ("python3 -X dev -m mypy src", "python3 -m mypy"),
    ("python scripts/train.py --epochs 3", "python train.py"),
    ("python -c 'print(1)'", "python -c"),
    ("uv run pytest -x", "uv run pytest"),
    ("uv run python -m pytest", "uv run python -m pytest"),
    ("poetry run mypy .", "poetry run mypy"),
    ("npx tsc --noEmit", "npx tsc"),
    ("uvx ruff check .", "uvx ruff check"),
    ("go test ./...", "go test"),
    ("make", "make"),
    ("make -C lib-a all", "make all"),
    ("docker compose up -d", "docker compose"),
    ("kubectl -n prod get pods", "kubectl get"),
    ("ls -la", "ls"),
    ("./scripts/build.sh --fast", "build.sh"),
    ("/usr/bin/env python3 -m pip install -e .", "python3 -m pip"),
    # set-up steps, env assignments and wrappers are not the program
    ("cd repo && cargo build 2>&1 | tail -20", "cargo build"),
    ("cd a; cd b && export X=1 && go vet ./...", "go vet"),
    ("RUST_LOG=debug CARGO_TERM_COLOR=always cargo test", "cargo test"),
    ("sudo -u ci make test", "make test"),
    ("time pytest", "pytest"),
    ("nohup python train.py > out.log 2>&1 &", "python train.py"),
    ("env -i PATH=/bin A=1 npm test", "npm test"),
    ("nice -n 10 timeout 300 cargo bench", "cargo bench"),
    ("timeout -s KILL 5m pytest", "pytest"),
    ("bash -c 'cd x && npm run build'", "npm run build"),
    ("sh -c \"pytest -q\"", "pytest"),
    ("pytest # PUEUE-SKIP", "pytest"),
    # odd input still gets a signature, never an exception
    ("cd /tmp", "cd"),
    ("", "(empty)"),
    ("   ", "(empty)"),
    ("echo 'unbalanced", "echo"),
    ("FOO=1", "FOO=1"),
])
def test_signature(command: str, signature: str) -> None:
    assert command_signature(command) == signature
