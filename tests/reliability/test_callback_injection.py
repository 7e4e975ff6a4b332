"""Nothing a task controls (command, label, path, output) runs as code inside a callback.

pueue pastes values into the callback's shell string verbatim. runq escapes each value for the
quoting context it lands in; the callback below writes every hostile value, in every context
(bare, "double", 'single'), to a file, and the test checks the text is exactly the raw value
and that no marker file was ever created.
"""
from __future__ import annotations

from pathlib import Path

from conftest import wait_until
from reliability_support import tasks, write_config

VARIABLES = ("command", "label", "path", "output")
CONTEXTS = {"bare": "{{%s}}", "dq": '"{{%s}}"', "sq": "'{{%s}}'"}


def _template(out: Path) -> str:
    parts = []
    for name in VARIABLES:
        for context, form in CONTEXTS.items():
            parts.append(f"printf '%s' {form % name} > {out}/{{{{id}}}}.{name}.{context}")
    parts.append(f"touch {out}/{{{{id}}}}.done")
    return "; ".join(parts)


def _payloads(marker_dir: Path) -> list[str]:
    m = marker_dir
    return [f"$(touch {m}/PWN1)", f"`touch {m}/PWN2`", f"'; touch {m}/PWN3; echo '", f'"; touch {m}/PWN4; echo "',
            f"; touch {m}/PWN5 #", f"\\$(touch {m}/PWN6)", f"\\'`touch {m}/PWN7`", "{{id}} {{ command }}", "trailing\\"]


def _markers(*roots: Path) -> list[str]:
    return sorted(str(p) for root in roots for p in root.rglob("PWN*"))


def test_hostile_command_label_path_and_output_never_execute_in_a_callback(runq, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "callback-out"
    out.mkdir()
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    write_config(home, "[daemon]\ncallback = '''" + _template(out) + "'''\ncallback_log_lines = 20\n")
    payloads = _payloads(marker_dir)

    # A working directory whose own name carries the payloads (no '/' allowed in a name).
    workdir = tmp_path / "dir $(touch PWN_p1) `touch PWN_p2` '\";touch PWN_p3;'\" ✓"
    workdir.mkdir()
    # The task prints every payload as text: its command holds them quoted, its output holds them raw.
    quoted = " ".join("'" + p.replace("'", "'\\''") + "'" for p in payloads)
    command = f"printf '%s\\n' {quoted} 'ünï ✓' # $(touch {marker_dir}/PWN_comment)"
    label = "lbl " + " ".join(payloads) + "\nsecond line"

    added = runq("add", "-p", "-l", label, "-w", str(workdir), "--", command)
    assert added.returncode == 0, added.stderr
    task_id = int(added.stdout)
    assert runq("wait", str(task_id)).returncode == 0
    wait_until(lambda: (out / f"{task_id}.done").exists())

    task = tasks(home)[task_id]
    assert task["result"] == "Success"
    log = (home / "task_logs" / f"{task_id}.log").read_text()
    assert log == "".join(p + "\n" for p in payloads) + "ünï ✓\n"
    expected = {"command": command, "label": label, "path": str(workdir),
                "output": "\n".join(log.splitlines()[-20:])}
    for name in VARIABLES:
        for context in CONTEXTS:
            written = (out / f"{task_id}.{name}.{context}").read_text()
            assert written == expected[name], f"{{{{{name}}}}} in {context} context became {written!r}"
    assert _markers(tmp_path, home) == []


def test_failed_task_with_hostile_output_runs_callback_once_safely(runq, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "cb"
    out.mkdir()
    write_config(home, "[daemon]\ncallback = '''echo \"{{id}}:{{result}}:{{exit_code}}:{{output}}\" >> "
                 f"{out}/log; touch {out}/{{{{id}}}}.done'''\ncallback_log_lines = 1\n")
    line = f"$(touch {tmp_path}/PWN) `touch {tmp_path}/PWN2` \"; touch {tmp_path}/PWN3"
    added = runq("add", "-p", "--", f"printf '%s\\n' '{line}'; exit 3")
    task_id = int(added.stdout)
    assert runq("wait", str(task_id)).returncode == 0
    wait_until(lambda: (out / f"{task_id}.done").exists())
    assert (out / "log").read_text() == f"{task_id}:Failed:3:{line}\n"
    assert _markers(tmp_path, home) == []
