"""The installed `runq` command (scripts/runq): a file sh and Python both read.

pip copies it into the interpreter's bin/ beside python3 and puts the package into
lib/pythonX.Y/site-packages. Each test builds that layout for real (the interpreter and the
package linked in, the launcher copied) and runs it as a user's shell would.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "scripts" / "runq"
VERSION = "{}.{}".format(*sys.version_info[:2])


def install(prefix: Path, with_package: bool = True, site_dir: str = "site-packages",
            system_site: bool = False) -> Path:
    """A real virtual environment with runq laid out in it as pip lays it out."""
    venv = [sys.executable, "-m", "venv", "--without-pip", *(["--system-site-packages"] if system_site else []), str(prefix)]
    subprocess.run(venv, check=True)
    site = prefix / "lib" / f"python{VERSION}" / site_dir
    site.mkdir(parents=True, exist_ok=True)
    if with_package:
        (site / "runq").symlink_to(REPO / "src" / "runq")
    script = prefix / "bin" / "runq"
    shutil.copy2(LAUNCHER, script)
    return script


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run as a user's shell would: without the PYTHONPATH=src the suite's fixtures set."""
    base = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**base, **env})


def imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_installed_launcher_runs_commands_without_the_site_step(tmp_path: Path, daemon: Path) -> None:
    script = install(tmp_path / "prefix")
    result = run([str(script), "run", "--", "printf 'out\\n'; printf 'err\\n' >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    profiled = run([str(script), "run", "--", "true"], PYTHONPROFILEIMPORTTIME="1")
    assert profiled.returncode == 0, profiled.stderr
    modules = imported(profiled.stderr)
    assert "runq.client.main" in modules
    assert "site" not in modules, "the launcher paid the interpreter's site step"


def test_launcher_finds_a_debian_style_dist_packages(tmp_path: Path, daemon: Path) -> None:
    script = install(tmp_path / "prefix", site_dir="dist-packages")
    result = run([str(script), "run", "--", "python3", "-c", "print(42)"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "42\n", "")


def test_launcher_reached_through_a_symlink_uses_the_interpreter_beside_the_real_file(tmp_path: Path, daemon: Path) -> None:
    script = install(tmp_path / "prefix")
    elsewhere = tmp_path / "home-bin"
    elsewhere.mkdir()
    (elsewhere / "runq").symlink_to(script)
    result = run([str(elsewhere / "runq"), "run", "--", "echo via-link"], PYTHONPROFILEIMPORTTIME="1")
    assert (result.returncode, result.stdout) == (0, "via-link\n"), result.stderr
    assert "site" not in imported(result.stderr)


def test_launcher_falls_back_to_the_site_step_when_the_package_is_elsewhere(tmp_path: Path, daemon: Path) -> None:
    """An editable install keeps the package in the source tree, reached through a .pth file in
    the interpreter's site-packages: the launcher then takes the full site step and works."""
    script = install(tmp_path / "prefix", with_package=False, system_site=True)
    result = run([str(script), "run", "--", "echo fallback"], PYTHONPROFILEIMPORTTIME="1")
    assert (result.returncode, result.stdout) == (0, "fallback\n"), result.stderr
    assert "site" in imported(result.stderr)


def test_launcher_without_the_package_fails_in_one_line(tmp_path: Path) -> None:
    script = install(tmp_path / "prefix", with_package=False)
    result = run([str(script), "status"])
    assert result.returncode == 1
    assert result.stderr.startswith("runq: the runq package is not installed for ")
    assert result.stderr.count("\n") == 1 and result.stdout == ""
