"""Many clients at once, and a daemon killed with SIGKILL: nothing is lost or duplicated."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import wait_until  # noqa: E402
from queue_probe import add, daemon_pid, daemon_pids, groups, ok, tasks, wait_done, wait_for  # noqa: E402

CLIENTS = 10
ADDS_PER_CLIENT = 200

# One client process: waits for the start signal, then adds its tasks as fast as it can, each
# over a fresh connection (as separate CLI calls would), with the request the CLI sends.
CLIENT = """
import os, sys, time
from runq.client.connection import connect
go, count = sys.argv[1], int(sys.argv[2])
while not os.path.exists(go):
    time.sleep(0.001)
env = dict(os.environ)
for _ in range(count):
    with connect() as conn:
        reply = conn.call("add", command="true", cwd=os.getcwd(), env=env, group="bulk", origin="cli")
    print(reply["id"], flush=True)
"""


def test_ten_clients_adding_at_once_get_distinct_ids_and_every_task_runs(runq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "bulk", "--parallel", "4")
    go = tmp_path / "go"
    clients = [subprocess.Popen([sys.executable, "-c", CLIENT, str(go), str(ADDS_PER_CLIENT)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(CLIENTS)]
    go.touch()
    ids: list[int] = []
    for client in clients:
        out, err = client.communicate(timeout=300)
        assert client.returncode == 0, err
        ids.extend(int(line) for line in out.split())
    total = CLIENTS * ADDS_PER_CLIENT
    assert len(ids) == total and sorted(ids) == list(range(total))

    ok(runq, "wait", "-g", "bulk", "-q", timeout=600)
    finished = tasks()
    assert len(finished) == total
    assert all(t["status"] == "Done" and t["result"] == "Success" for t in finished.values())


def test_a_daemon_killed_with_sigkill_keeps_every_finished_and_queued_task(runq, home: Path,  # type: ignore[no-untyped-def]
                                                                          tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    ok(runq, "group", "add", "held", "--parallel", "2")
    ok(runq, "group", "add", "live", "--parallel", "0")
    finished = [add(runq, "true"), add(runq, "exit 4"), add(runq, "echo out; exit 0")]
    wait_done(*finished)
    ok(runq, "pause", "-g", "held")
    queued = [add(runq, "true", options=("-g", "held", "-o", str(n))) for n in range(3)]
    stashed = [add(runq, "true", options=("--stashed",)), add(runq, "true", options=("--delay", "2h"))]
    outliving = add(runq, f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 3", options=("-g", "live"))
    wait_for(outliving, "Running")
    before = tasks()

    os.kill(daemon_pid(home), signal.SIGKILL)
    wait_until(lambda: not daemon_pids(home))
    gate.touch()  # the task ends while no daemon runs; its supervisor still records the end

    assert add(runq, "true", options=("-g", "live")) == outliving + 1, "ids continue after the crash"
    after = wait_done(outliving)
    for task_id in finished:
        assert after[task_id] == before[task_id]
    for task_id in queued + stashed:
        kept = {k: after[task_id][k] for k in ("status", "group", "priority", "enqueue_at", "enqueued_at", "command")}
        assert kept == {k: before[task_id][k] for k in kept}
    assert groups()["held"] == {"status": "Paused", "parallel_tasks": 2}
    assert (after[outliving]["result"], after[outliving]["exit_code"]) == ("Failed", 3)
    assert after[outliving]["end"] > after[outliving]["start"]

    ok(runq, "start", "-g", "held")
    ok(runq, "enqueue", str(stashed[0]))
    done = wait_done(*queued, stashed[0])
    assert all(done[i]["result"] == "Success" for i in queued + stashed[:1])


# A client that keeps adding through a daemon crash: a refused or cut-off request is reported
# on stderr and the next add auto-starts a new daemon.
STUBBORN_CLIENT = """
import os, sys
from runq.client.connection import connect
from runq.errors import RunqError
env = dict(os.environ)
for _ in range(int(sys.argv[1])):
    try:
        with connect() as conn:
            reply = conn.call("add", command="true", cwd=os.getcwd(), env=env, group="held", origin="cli")
    except (RunqError, OSError) as exc:
        print(exc, file=sys.stderr, flush=True)
        continue
    print(reply["id"], flush=True)
"""


def test_every_acknowledged_add_survives_a_sigkill_in_the_middle_of_a_burst(runq, home: Path) -> None:  # type: ignore[no-untyped-def]
    ok(runq, "group", "add", "held")
    ok(runq, "pause", "-g", "held")
    first = daemon_pid(home)
    clients = [subprocess.Popen([sys.executable, "-c", STUBBORN_CLIENT, "150"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    wait_until(lambda: len(tasks()) >= 100, timeout=120)
    os.kill(first, signal.SIGKILL)
    acknowledged: list[int] = []
    for client in clients:
        out, err = client.communicate(timeout=300)
        assert client.returncode == 0, err
        acknowledged.extend(int(line) for line in out.split())
    assert daemon_pid(home) != first
    assert len(acknowledged) == len(set(acknowledged))
    stored = tasks()
    assert set(acknowledged) <= set(stored), "an add was acknowledged before it was durable"
    assert all(t["status"] == "Queued" for t in stored.values())
    assert groups()["held"]["status"] == "Paused"
