"""The queue's state machine: tasks and groups in memory, every change saved before it is told.

It owns the scheduling loop (event-driven: it runs after every change, never on a tick), the
shims that supervise running tasks, and the notifications that wake `wait`, `follow`, `watch`
and `run` clients the moment a task changes.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import time
from collections.abc import Callable

from runq import paths
from runq.config import Config
from runq.engine import direct, processes, pueue_json, scheduler
from runq.engine.index import TaskIndex
from runq.engine.loop import EventLoop
from runq.engine.processes import ShimHandle
from runq.engine.shim import ShimSpec
from runq.engine.store import StateStore
from runq.model import (ACTIVE, DEPENDENCY_FAILED, DONE, ERRORED, FAILED, FAILED_TO_SPAWN, GROUP_PAUSED,
                        GROUP_RUNNING, KILLED, PAUSED, QUEUED, RUNNING, STASHED, SUCCESS, Group, Task)

log = logging.getLogger("runq.daemon")
Subscriber = Callable[[Task, str | None], None]
RETRY_BACKOFF_CAP = 60.0
LONG_COMMAND = 100_000  # bytes; the kernel's limit for one argument is 128 KiB


class Queue:
    def __init__(self, root: str, config: Config, store: StateStore, loop: EventLoop, shell: list[str]) -> None:
        self.root = root
        self.config = config
        self.store = store
        self.loop = loop
        self.shell = shell
        # A plain line may skip bash only where bash is the shell and behaves as modelled.
        self.direct_exec = (bool(config.get("daemon", "direct_exec")) and os.path.basename(shell[0]) == "bash"
                            and shell[1:] == ["-c"])
        if self.direct_exec and not direct.agrees_with(shell[0]):
            log.info("%s exports its environment unlike runq's model of bash: every line goes through it", shell[0])
            self.direct_exec = False
        self.tasks, self.groups, self.next_id = store.load()
        # Tasks by state: scheduling looks only at these, so its cost does not grow with history.
        self.index = TaskIndex(self.tasks)
        self.failures_pending = True  # a dependency may have failed: recheck dependents
        self.shims: dict[int, ShimHandle] = {}
        self.pool = processes.WorkerPool()
        # Workers whose reports are not saved yet, by task: told once they are (and retired then,
        # when the pool had no room for them).
        self.unconfirmed: dict[int, tuple[ShimHandle, bool]] = {}
        self.caller_fds: dict[int, tuple[tuple[int, int, int], bool]] = {}
        # The daemon runs under umask 077 with a raised fd limit; tasks must not inherit either:
        # a `run` task gets its caller's umask, others the umask and soft limit the daemon started with.
        self.caller_umask: dict[int, int] = {}
        self.task_umask: int | None = None
        self.task_nofile: int | None = None
        self.user_killed: set[int] = set()
        self.subscribers: set[Subscriber] = set()
        self.on_done: list[Callable[[Task, bool], None]] = []  # (task, final attempt)
        self.json_cache: dict[int, bytes] = {}
        self.env_json_cache: dict[str, str] = {}
        self.dirty = False
        self.holding = False  # shutting down: queued tasks stay queued for the next daemon
        # Ends reported over a worker's channel whose saving failed (a full disk, where the exit
        # file may be missing too): resync records them from here once writes work again.
        self.unsaved_ends: dict[int, dict] = {}
        self.unsaved = False
        self.change_count = 0
        self.unsaved_tasks: dict[int, Task] = {}
        self.unsaved_groups: dict[str, Group] = {}
        self.unsaved_deletes: set[int] = set()
        self.unsaved_group_deletes: set[str] = set()
        # Work that may only happen once the turn's changes are durable: handing a task to its
        # worker (a crash before the commit must not leave a task running that the state calls
        # queued) and removing exit files (a failed commit must leave the end recoverable).
        self.after_commit: list[Callable[[], None]] = []
        self.undispatched: set[int] = set()
        self.signal_on_spawn: dict[int, list[int]] = {}
        loop.idle_callbacks.append(self.schedule_if_dirty)

    # ---- persistence and notification -------------------------------------------------------

    def save(self, *tasks: Task, groups: tuple[Group, ...] = (), deleted: tuple[int, ...] = (),
             deleted_groups: tuple[str, ...] = ()) -> None:
        """Record changes in memory now; `commit` writes them at the end of the loop turn, before
        any reply leaves (the loop holds replies until then)."""
        for task in tasks:
            self.unsaved_tasks[task.id] = task
            self.json_cache.pop(task.id, None)
            if task.id in self.tasks:
                self.index.update(task)
            else:
                self.index.remove(task.id)
            if (task.status == DONE and task.result != SUCCESS) or (task.status == QUEUED and task.dependencies):
                self.failures_pending = True
        for group in groups:
            self.unsaved_groups[group.name] = group
            self.failures_pending = True
        for name in deleted_groups:
            self.unsaved_groups.pop(name, None)
            self.unsaved_group_deletes.add(name)
        for task_id in deleted:
            self.unsaved_tasks.pop(task_id, None)
            self.unsaved_deletes.add(task_id)
            self.json_cache.pop(task_id, None)
            self.index.remove(task_id)
        self.unsaved = True
        self.dirty = True
        self.change_count += 1

    def commit(self) -> None:
        """Write the turn's changes in one transaction, then do what had to wait for them."""
        if self.unsaved:
            with self.store.transaction() as tx:
                for task_id in self.unsaved_deletes:
                    tx.delete_task(task_id)
                for task in self.unsaved_tasks.values():
                    tx.save_task(task)
                for group in self.unsaved_groups.values():
                    tx.save_group(group)
                for name in self.unsaved_group_deletes:
                    tx.delete_group(name)
                tx.set_next_id(self.next_id)
            self.unsaved_tasks.clear()
            self.unsaved_groups.clear()
            self.unsaved_deletes.clear()
            self.unsaved_group_deletes.clear()
            self.unsaved = False
        actions, self.after_commit = self.after_commit, []
        for action in actions:
            action()

    def notify(self, task: Task, previous: str | None) -> None:
        for subscriber in list(self.subscribers):
            subscriber(task, previous)

    # ---- adding ------------------------------------------------------------------------------

    def new_task(self, **fields: object) -> Task:
        task = Task(id=self.next_id, **fields)  # type: ignore[arg-type]
        self.next_id += 1
        return task

    def add(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.save(task)
        self.notify(task, None)

    # ---- scheduling --------------------------------------------------------------------------

    def schedule_if_dirty(self) -> None:
        if self.dirty:
            self.dirty = False
            self.schedule()

    def schedule(self) -> None:
        now = time.time()
        for task in scheduler.due_delayed(self.index, now):
            self.set_status(task, QUEUED, enqueued_at=now, enqueue_at=None)
        while self.failures_pending:
            self.failures_pending = False
            for task in scheduler.dependency_failures(self.index, self.tasks, self.groups):
                self.finish_without_running(task, DEPENDENCY_FAILED)
        if self.holding:
            return
        for task in scheduler.startable(self.index, self.tasks, self.groups):
            self.start(task)
        self._arm_delay_timer()

    def _arm_delay_timer(self) -> None:
        pending = [t.enqueue_at for t in self.index.delayed.values() if t.enqueue_at is not None]
        if pending:
            delay = max(0.0, min(pending) - time.time())
            self.loop.call_at(time.monotonic() + delay + 0.001, self.schedule)

    def set_status(self, task: Task, status: str, **fields: object) -> None:
        previous = task.status
        task.status = status
        for key, value in fields.items():
            setattr(task, key, value)
        self.save(task)
        self.notify(task, previous)

    # ---- starting ----------------------------------------------------------------------------

    def start(self, task: Task) -> None:
        """Start a task now (also a force start: slots, pauses and dependencies are not checked)."""
        now = time.time()
        previous = task.status
        task.enqueued_at = task.enqueued_at or now
        task.start, task.end, task.result, task.exit_code, task.signal = now, None, None, None, None
        task.spawn_error, task.timed_out = None, False
        task.worker_id = scheduler.free_worker_id(task, self.index.active)
        env = dict(task.envs)
        env.update(PUEUE_GROUP=task.group, PUEUE_WORKER_ID=str(task.worker_id), RUNQ_TASK_ID=str(task.id))
        # A queued task's stdout and stderr share one pipe, as in pueue, so the log keeps the exact
        # order they were written in (two pipes cannot: which was first is lost when both are
        # ready). `runq run` with separate stdout and stderr files gets two pipes, and the log's
        # .idx records which stream each chunk came from.
        fds, merged = self.caller_fds.get(task.id, (None, True))
        argv = self._shell_argv(task)
        spec = ShimSpec(
            task_id=task.id, argv=argv, cwd=task.path, env=env,
            log_path=paths.task_log(self.root, task.id), exit_path=self.exit_path(task.id),
            log_cap=int(self.config.get("logs", "max_bytes")), caller_fds=fds, merged=merged,
            umask=self.caller_umask.get(task.id, self.task_umask), nofile=self.task_nofile,
            direct=self.direct_exec and argv[:-1] == self.shell,
        )
        worker = self._acquire()
        self.shims[task.id] = worker
        worker.task_id = task.id
        task.status = RUNNING
        task.shim_pid, task.shim_start, task.pgid = worker.pid, worker.start_ticks, None
        self.save(task)
        self.undispatched.add(task.id)
        self.after_commit.append(functools.partial(self._dispatch, task.id, worker, spec))
        if task.timeout:
            attempt = task.attempt
            self.loop.call_at(time.monotonic() + task.timeout, lambda: self.time_out(task.id, attempt))
        self.notify(task, previous)

    def _acquire(self) -> ShimHandle:
        worker, fresh = self.pool.acquire()
        if fresh:
            self.watch_worker(worker)
        return worker

    def _dispatch(self, task_id: int, worker: ShimHandle, spec: ShimSpec) -> None:
        """Hand a started task to its worker (after the Running state is durable)."""
        self.undispatched.discard(task_id)
        for _ in range(3):
            try:
                self.pool.assign(worker, spec)
                return
            except OSError:
                log.warning("supervisor worker %d is gone; using another", worker.pid)
                self._retire(worker)
            worker = self._acquire()
            self.shims[task_id] = worker
            task = self.tasks.get(task_id)
            if task is not None:
                task.shim_pid, task.shim_start = worker.pid, worker.start_ticks
                self.save(task)
        raise RuntimeError(f"cannot hand task {task_id} to a supervisor worker")

    def exit_path(self, task_id: int) -> str:
        return os.path.join(paths.task_logs(self.root), f"{task_id}.exit")

    def watch_worker(self, worker: ShimHandle) -> None:
        if worker.channel is not None:
            self.loop.add_reader(worker.channel.fileno(), lambda: self._on_worker_message(worker))
        self.loop.add_reader(worker.pidfd, lambda: self._on_worker_exit(worker))

    def _on_worker_message(self, worker: ShimHandle) -> None:
        assert worker.channel is not None
        alive = processes.read_control(worker)
        self._learn_pgid(worker)
        if worker.report is not None and worker.task_id is not None:
            task_id, report = worker.task_id, worker.report
            worker.report = None
            self.shims.pop(task_id, None)
            # The worker keeps the report (and writes it to an exit file should this daemon die)
            # until told it is saved; a surplus worker is retired only after that.
            self.unconfirmed[task_id] = (worker, self.pool.release(worker))
            task = self.tasks.get(task_id)
            if task is not None and task.status in ACTIVE:
                self.unsaved_ends[task_id] = report
                self.finish(task, report)
            else:
                self.after_commit.append(functools.partial(self._forget_end, task_id))
        if not alive:
            self._retire(worker)

    def _retire(self, worker: ShimHandle) -> None:
        """Close a worker's channel; it exits on EOF once idle, and its pidfd then reports it."""
        if worker.channel is not None:
            self.loop.remove(worker.channel.fileno())
            worker.channel.close()
            worker.channel = None
        self.pool.discard(worker)

    def _learn_pgid(self, worker: ShimHandle) -> None:
        # Kept in memory only (saved with the task's next change): a daemon that restarts finds
        # the task's process as the child of its worker (processes.task_pid_of).
        task = self.tasks.get(worker.task_id) if worker.task_id is not None else None
        if task is not None and worker.task_pid and task.pgid != worker.task_pid:
            task.pgid = worker.task_pid
            for sig in self.signal_on_spawn.pop(task.id, ()):
                processes.signal_group(task.pgid, sig)
            if task.status == PAUSED:
                processes.signal_group(task.pgid, signal.SIGSTOP)

    def _on_worker_exit(self, worker: ShimHandle) -> None:
        """A worker ended: retired, crashed, or an adopted one whose task is over."""
        if worker.channel is not None:
            self._on_worker_message(worker)
            self._retire(worker)
        self.loop.remove(worker.pidfd)
        processes.close_pidfd(worker)
        processes.reap(worker.pid)
        task_id = worker.task_id
        if task_id is None:
            return
        self.shims.pop(task_id, None)
        task = self.tasks.get(task_id)
        if task is None or task.status not in ACTIVE:
            return
        report = processes.read_exit_file(self.exit_path(task_id))
        if report is None:
            report = {"errored": "the task's supervisor vanished without a report", "end": time.time()}
            processes.kill_orphaned_task(task.pgid or worker.task_pid, task.id)
        self.finish(task, report, from_file=True)

    # ---- finishing ---------------------------------------------------------------------------

    def finish(self, task: Task, report: dict, from_file: bool = False) -> None:
        """Record a task's end from its report (`from_file`: read from the worker's exit file)."""
        previous = task.status
        task.end = report.get("end") or time.time()
        task.exit_code = report.get("exit_code")
        task.signal = report.get("signal")
        for key in ("user_cpu", "sys_cpu", "max_rss_kb", "stdout_bytes", "stderr_bytes"):
            setattr(task, key, report.get(key))
        if report.get("spawn_error"):
            task.result, task.spawn_error = FAILED_TO_SPAWN, report["spawn_error"]
        elif report.get("errored"):
            task.result, task.spawn_error = ERRORED, report["errored"]
        elif task.signal is not None:
            task.result = KILLED
        elif task.exit_code == 0:
            task.result = SUCCESS
        else:
            task.result = FAILED
        if report.get("log_error"):
            task.spawn_error = report["log_error"]
        task.status = DONE
        retry = self._should_retry(task)
        self.user_killed.discard(task.id)
        for hook in self.on_done:
            hook(task, not retry)
        if not retry:
            self.release_caller(task.id)
        if retry:
            self._schedule_retry(task)
        else:
            self.save(task)
        # Only now that the end is durable may the worker forget its report (or its exit file
        # go): if the save failed (a full disk), the next reconcile records the end again.
        self.after_commit.append(functools.partial(self._forget_end, task.id, from_file))
        self.notify(task, previous)
        if not retry:
            self._pause_on_failure(task)

    def _forget_end(self, task_id: int, from_file: bool = False) -> None:
        if from_file:
            _unlink(self.exit_path(task_id))
        self.unsaved_ends.pop(task_id, None)
        worker, pooled = self.unconfirmed.pop(task_id, (None, True))
        if worker is not None:
            processes.confirm_report(worker, task_id)
            if not pooled:
                self._retire(worker)

    def _should_retry(self, task: Task) -> bool:
        return (task.result != SUCCESS and task.id not in self.user_killed
                and task.attempt <= task.retries and task.result != FAILED_TO_SPAWN)

    def _schedule_retry(self, task: Task) -> None:
        base = float(self.config.get("daemon", "retry_backoff"))
        delay = min(RETRY_BACKOFF_CAP, base * (2 ** (task.attempt - 1)))
        task.attempt += 1
        task.status = STASHED
        task.enqueue_at = time.time() + delay
        task.start = task.end = task.result = task.exit_code = task.signal = None
        self.save(task)

    def finish_without_running(self, task: Task, result: str) -> None:
        previous = task.status
        now = time.time()
        task.status, task.result = DONE, result
        task.enqueued_at = task.enqueued_at or now
        task.start = task.end = now
        self.release_caller(task.id)
        for hook in self.on_done:
            hook(task, True)
        self.save(task)
        self.notify(task, previous)

    def _pause_on_failure(self, task: Task) -> None:
        if task.result not in (FAILED, ERRORED, FAILED_TO_SPAWN):
            return
        if self.config.get("daemon", "pause_all_on_failure"):
            targets = list(self.groups.values())
        elif self.config.get("daemon", "pause_group_on_failure"):
            targets = [self.groups[task.group]] if task.group in self.groups else []
        else:
            return
        for group in targets:
            group.status = GROUP_PAUSED
        self.save(groups=tuple(targets))

    def release_caller(self, task_id: int) -> None:
        """Close a `run` caller's stdio once its task is final, so its readers see EOF."""
        fds, _ = self.caller_fds.pop(task_id, ((), False))
        self.caller_umask.pop(task_id, None)
        self.close_fds(fds)

    @staticmethod
    def close_fds(fds: object) -> None:
        for fd in fds or ():  # type: ignore[attr-defined]
            try:
                os.close(fd)
            except OSError:
                pass

    def forget_running(self, task: Task) -> None:
        """Record a running task as killed now (reset): its shim's later report is ignored."""
        self.finish(task, {"signal": signal.SIGKILL, "end": time.time()})

    def resync(self) -> None:
        """After a failed write (a full disk, say), make memory match what is durable again,
        then reconcile running tasks with their workers and exit files."""
        self.unsaved_tasks.clear()
        self.unsaved_groups.clear()
        self.unsaved_deletes.clear()
        self.unsaved_group_deletes.clear()
        self.unsaved = False
        for action in self.after_commit:
            if getattr(action, "func", None) == self._dispatch:
                # Its Running state was never saved: the reload makes the task queued again (or
                # gone, if its add was refused) and the next schedule starts it anew. Dispatching
                # it anyway ran it once per failed turn. Give its worker back instead.
                task_id, worker = action.args[0], action.args[1]  # type: ignore[attr-defined]
                self.shims.pop(task_id, None)
                self.undispatched.discard(task_id)
                self.signal_on_spawn.pop(task_id, None)
                if not self.pool.release(worker):
                    self._retire(worker)
        self.after_commit = []
        try:
            self.tasks, self.groups, self.next_id = self.store.load()
            self.index = TaskIndex(self.tasks)
            self.failures_pending = True
            self.json_cache.clear()
            self.recover()
        except Exception:  # noqa: BLE001
            log.exception("reloading the state after a failed write failed; retrying in 1 s")
            self.loop.call_at(time.monotonic() + 1.0, self.resync)
        self.dirty = True

    def log_path(self, task_id: int) -> str:
        return paths.task_log(self.root, task_id)

    def _shell_argv(self, task: Task) -> list[str]:
        """`bash -c COMMAND`, or `bash FILE` for a command too long for one argument.

        Linux refuses any single argument over 128 KiB (E2BIG), so a longer command is written
        to a private file beside the log and the shell reads it from there.
        """
        data = task.command.encode("utf-8", "surrogateescape")
        if len(data) <= LONG_COMMAND or self.shell[-1:] != ["-c"]:
            return [*self.shell, task.command]
        path = self.log_path(task.id)[: -len(".log")] + ".cmd"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        return [*self.shell[:-1], path]

    def remove_logs(self, task_id: int) -> None:
        base = self.log_path(task_id)
        for suffix in ("", ".idx"):
            _unlink(base + suffix)
        _unlink(base[: -len(".log")] + ".cmd")
        _unlink(self.exit_path(task_id))  # left by a worker whose daemon died before confirming

    def task_json(self, task: Task, raw_env: bool) -> bytes:
        """The task's pueue JSON, cached until it next changes (status --json stays linear and fast)."""
        if raw_env:
            return pueue_json.dumps(pueue_json.task_object(task, task.envs, self.log_path(task.id))).encode("utf-8", "replace")
        cached = self.json_cache.get(task.id)
        if cached is None:
            # `"envs":{}` cannot occur inside a JSON string (quotes there are escaped), so its
            # first occurrence is the key, where the shared environment's rendering goes.
            bare = pueue_json.dumps(pueue_json.task_object(task, {}, self.log_path(task.id)))
            cached = bare.replace('"envs":{}', '"envs":' + self._env_json(task.envs), 1).encode("utf-8", "replace")
            self.json_cache[task.id] = cached
        return cached

    def _env_json(self, env: dict[str, str]) -> str:
        key = self.store.env_key(env)
        rendered = self.env_json_cache.get(key)
        if rendered is None:
            from runq.telemetry.redact import redact_env

            rendered = self.env_json_cache[key] = pueue_json.dumps(redact_env(env, self.config))
        return rendered

    # ---- signals -----------------------------------------------------------------------------

    def kill(self, task: Task, sig: int, by_user: bool = True) -> bool:
        if task.status not in ACTIVE:
            return False
        if by_user:
            self.user_killed.add(task.id)
        if task.id in self.undispatched:
            # Started this very turn: its worker has not spawned it yet; signal it on arrival.
            self.signal_on_spawn.setdefault(task.id, []).append(sig)
            return True
        if task.status == PAUSED and sig not in (signal.SIGKILL, signal.SIGCONT):
            processes.signal_group(task.pgid, sig)
            return processes.signal_group(task.pgid, signal.SIGCONT)
        return processes.signal_group(self._pgid(task), sig)

    def _pgid(self, task: Task) -> int | None:
        worker = self.shims.get(task.id)
        if task.pgid is None and worker is not None and worker.channel is not None:
            # The task was spawned a moment ago; its pid may still be in the channel.
            worker.channel.setblocking(True)
            worker.channel.settimeout(1.0)
            try:
                while worker.task_pid is None and worker.report is None:
                    chunk = worker.channel.recv(65536)
                    if not chunk:
                        break
                    worker.buffer += chunk
                    processes.parse_lines(worker)
            except OSError:
                pass
            finally:
                worker.channel.setblocking(False)
            self._learn_pgid(worker)
            if worker.report is not None:
                # The read above may have taken the task's end report too: the channel will not
                # signal it again, so handle it on the loop's next turn (not mid-kill).
                def handle_report() -> None:
                    if worker.channel is not None:
                        self._on_worker_message(worker)

                self.loop.call_at(time.monotonic(), handle_report)
        return task.pgid

    def time_out(self, task_id: int, attempt: int) -> None:
        task = self.tasks.get(task_id)
        if task is None or task.status not in ACTIVE or task.attempt != attempt:
            return
        task.timed_out = True
        self.save(task)
        self.terminate(task)

    def terminate(self, task: Task) -> None:
        """SIGTERM the task's group now, SIGKILL it after the grace period if it still runs."""
        attempt = task.attempt
        self.kill(task, signal.SIGTERM, by_user=False)
        grace = float(self.config.get("daemon", "kill_grace"))

        def escalate() -> None:
            current = self.tasks.get(task.id)
            if current is not None and current.status in ACTIVE and current.attempt == attempt:
                self.kill(current, signal.SIGKILL, by_user=False)

        self.loop.call_at(time.monotonic() + grace, escalate)

    def pause_task(self, task: Task) -> None:
        if task.status == RUNNING:
            processes.signal_group(self._pgid(task), signal.SIGSTOP)
            self.set_status(task, PAUSED)

    def resume_task(self, task: Task) -> None:
        if task.status == PAUSED:
            processes.signal_group(self._pgid(task), signal.SIGCONT)
            self.set_status(task, RUNNING)

    # ---- recovery ----------------------------------------------------------------------------

    def recover(self) -> None:
        """Reattach to tasks a previous daemon left running; record those that ended meanwhile."""
        for task in list(self.index.active.values()):
            if task.status not in ACTIVE or task.id in self.shims:
                continue
            report = self.unsaved_ends.get(task.id) or processes.read_exit_file(self.exit_path(task.id))
            handle = None
            if report is None and task.shim_pid:
                handle = processes.adopt_shim(task.shim_pid, task.shim_start, task.id)
            if handle is not None:
                self.shims[task.id] = handle
                self.watch_worker(handle)
                task.pgid = task.pgid or processes.task_pid_of(handle.pid)
                if task.timeout and task.start:
                    attempt = task.attempt
                    left = task.start + task.timeout - time.time()
                    self.loop.call_at(time.monotonic() + max(0.0, left), functools.partial(self.time_out, task.id, attempt))
                continue
            if report is None:
                # Last look: the shim may have finished between the two checks above.
                report = processes.read_exit_file(self.exit_path(task.id))
            if report is None:
                processes.kill_orphaned_task(task.pgid, task.id)
                report = {"errored": "the task's supervisor was lost while the daemon was down", "end": time.time()}
            self.finish(task, report, from_file=True)
        for group in self.groups.values():
            if group.status not in (GROUP_RUNNING, GROUP_PAUSED):
                group.status = GROUP_RUNNING
                self.save(groups=(group,))
        self.dirty = True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
