"""Follow a submitted run to its end through the daemon's `watch` stream, and cancel it when asked
(Ctrl-C, or the first failure with --fail-fast).

One loop waits on two things at once: the watch socket and a pipe that signal handlers write to
(signal.set_wakeup_fd), so Ctrl-C is acted on at once instead of at the next task event.
"""
from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass

from runq.client.connection import Connection, connect
from runq.dag.state import FINISHED, REMOVED, WAITING, RunState
from runq.dag.submit import cancel
from runq.dag.view import LiveView, PlainView
from runq.model import DONE, SUCCESS

CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupts:
    """Counts SIGINT/SIGTERM/SIGHUP instead of raising, and makes them wake `select`."""

    def __init__(self) -> None:
        self.count = 0
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.previous_fd = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        self.previous = {sig: signal.signal(sig, self._on_signal) for sig in CANCEL_SIGNALS}

    def _on_signal(self, signum: int, frame: object) -> None:
        self.count += 1

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 512):
                pass
        except BlockingIOError:
            pass

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self.previous_fd)
        os.close(self.read_fd)
        os.close(self.write_fd)


@dataclass
class Cancelling:
    reason: str  # "interrupt" or "fail-fast"
    escalate_at: float  # monotonic time to send SIGKILL to what still runs
    escalated: bool = False


class Runner:
    def __init__(self, conn: Connection, state: RunState, view: PlainView | LiveView, interrupts: Interrupts,
                 fail_fast: bool, kill_grace: float) -> None:
        self.conn = conn
        self.state = state
        self.view = view
        self.interrupts = interrupts
        self.fail_fast = fail_fast
        self.kill_grace = kill_grace
        self.cancelling: Cancelling | None = None
        self.handled_interrupts = 0
        self.paused_noted: set[str] = set()

    @property
    def interrupted(self) -> bool:
        return self.cancelling is not None and self.cancelling.reason == "interrupt"

    @property
    def fail_fast_fired(self) -> bool:
        return self.cancelling is not None and self.cancelling.reason == "fail-fast"

    def follow(self) -> None:
        if not self.state.names:
            return
        with connect(self.conn.root) as watch:
            watch.send({"cmd": "watch", "ids": sorted(self.state.names)})
            self._apply_snapshot(watch.receive())
            while not self.state.all_finished():
                self._wait(watch)

    def _apply_snapshot(self, snapshot: dict) -> None:
        seen = set()
        for record in snapshot.get("tasks", []):
            seen.add(record["id"])
            self._apply(record, removed=False)
        for task_id in list(self.state.names):
            if task_id not in seen:  # removed by someone else before we looked
                self._apply(self.state.records.get(task_id, {"id": task_id, "status": "Queued"}), removed=True)
        self._check_interrupts()

    def _wait(self, watch: Connection) -> None:
        sock = watch.sock.fileno()
        readable, _, _ = select.select([sock, self.interrupts.read_fd], [], [], self._timeout())
        if self.interrupts.read_fd in readable:
            self.interrupts.drain()
        if sock not in readable:
            self._check_interrupts()
            self._escalate_if_due()
            self.view.tick(self.state)
            return
        frame = watch.receive()
        if frame.get("event") == "task":
            self._apply(frame["task"], removed=frame.get("previous") == "Removed")
        self._check_interrupts()
        self._escalate_if_due()

    def _timeout(self) -> float | None:
        waits = [self.view.tick_interval] if self.view.tick_interval else []
        if self.cancelling is not None and not self.cancelling.escalated:
            waits.append(max(0.0, self.cancelling.escalate_at - time.monotonic()))
        return min(waits) if waits else None

    def _apply(self, record: dict, removed: bool) -> None:
        event = self.state.apply(record, removed)
        if event is None:
            return
        self.view.event(event, self.state)
        if self.cancelling is not None:
            if event.kind != REMOVED:
                self._cancel_straggler(record)
        elif self.fail_fast and self.state.first_failure is not None:
            self.view.note(f"--fail-fast: {self.state.first_failure} did not succeed; cancelling the rest")
            self.start_cancel("fail-fast")
        elif event.kind == FINISHED and self.state.result_of(record["id"]) != SUCCESS:
            self._note_paused_groups()

    def _note_paused_groups(self) -> None:
        # With daemon.pause_group_on_failure (or pause_all_on_failure) a failure pauses groups, and
        # their queued tasks then wait for `runq start` instead of failing: say why nothing moves.
        waiting = {str(self.state.records[i]["group"]) for i in self.state.waiting_ids() if "group" in self.state.records.get(i, {})}
        if not waiting - self.paused_noted:
            return
        groups = self.conn.call("groups")["groups"]
        for name in sorted(g for g in waiting - self.paused_noted if g in groups and groups[g]["status"] == "Paused"):
            self.paused_noted.add(name)
            self.view.note(f"group {name!r} is paused after a failure: its queued tasks wait until "
                           f"`runq start --group {name}` (Ctrl-C cancels the run)")

    def _check_interrupts(self) -> None:
        if self.interrupts.count == self.handled_interrupts:
            return
        first = self.handled_interrupts == 0 and self.cancelling is None
        self.handled_interrupts = self.interrupts.count
        if first:
            self.view.note("Interrupted: cancelling queued tasks and stopping running ones (Ctrl-C again to kill them now)")
            self.start_cancel("interrupt")
        elif self.cancelling is not None:
            if self.cancelling.reason != "interrupt":
                self.cancelling.reason = "interrupt"
            self._escalate()

    def start_cancel(self, reason: str) -> None:
        self.cancelling = Cancelling(reason, time.monotonic() + self.kill_grace)
        cancel(self.conn, self.state.waiting_ids(), self.state.unfinished_ids(), "TERM")

    def _cancel_straggler(self, record: dict) -> None:
        # A task that started (or was re-queued for a retry) while we were cancelling.
        if record["status"] in WAITING:
            cancel(self.conn, [record["id"]], [], "TERM")
        elif record["status"] != DONE:
            cancel(self.conn, [], [record["id"]], "KILL" if self.cancelling and self.cancelling.escalated else "TERM")

    def _escalate_if_due(self) -> None:
        if self.cancelling is not None and not self.cancelling.escalated and time.monotonic() >= self.cancelling.escalate_at:
            self._escalate()

    def _escalate(self) -> None:
        assert self.cancelling is not None
        self.cancelling.escalated = True
        cancel(self.conn, self.state.waiting_ids(), self.state.unfinished_ids(), "KILL")
