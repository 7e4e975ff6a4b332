"""The daemon process: one per RUNQ_HOME, started on demand by the first client that needs it.

Start-up order matters: take the exclusive lock first (racing auto-starts: losers exit quietly),
then clear a stale socket a crashed daemon left, bind, and only then write the pid file.
"""
from __future__ import annotations

import fcntl
import logging
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import time
import traceback

from runq import paths
from runq.config import Config, load as load_config
from runq.engine import callbacks, handlers, streams
from runq.engine.loop import Connection, EventLoop
from runq.engine.queue import Queue
from runq.engine.store import StateStore
from runq.errors import RunqError
from runq.model import ACTIVE, Task

log = logging.getLogger("runq.daemon")
MAX_CONNECTIONS = 4096
HISTORY_RETRY_SECONDS = 2.0


class Daemon:
    def __init__(self, root: str, config: Config) -> None:
        self.root = root
        self.config = config
        self.loop = EventLoop()
        self.store = StateStore(paths.state_db(root), config.get("daemon", "durability"))
        self.queue = Queue(root, config, self.store, self.loop, _shell_argv(config))
        self.connections: set[Connection] = set()
        self.policy = config.get("daemon", "shutdown_policy")
        self.draining = False
        self.history = _open_history(root, config)
        self._history_retry_armed = False
        shell = shutil.which("bash") or "/bin/sh"
        self.callbacks = callbacks.CallbackRunner(config.get("daemon", "callback"), shell, root, self.loop)
        self.queue.on_done.append(self._record)
        self.loop.on_error = self._on_loop_error
        self.loop.commit = self._commit

    def _commit(self) -> None:
        self.queue.commit()
        if self.history is not None and self.history.pending_count:
            try:
                self.history.retry_pending()
            except RunqError as exc:  # kept in memory; retried every 2 s
                log.error("%s", exc)
                self._retry_history_later()

    def _on_loop_error(self, exc: BaseException) -> None:
        log.error("event handling failed: %s\n%s", exc, "".join(traceback.format_exception(exc)))
        self.queue.resync()

    # ---- lifecycle ---------------------------------------------------------------------------

    def serve(self, listener: socket.socket) -> None:
        listener.setblocking(False)
        self.loop.add_reader(listener.fileno(), lambda: self._accept(listener))
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: None)
        self.loop.add_reader(wake_r.fileno(), lambda: self._on_signal(wake_r))
        self.queue.recover()
        self.loop.idle_callbacks.append(self._check_drained)
        log.info("runq daemon %d serving %s", os.getpid(), self.root)
        self.loop.run()

    def _on_signal(self, wake: socket.socket) -> None:
        try:
            data = wake.recv(64)
        except BlockingIOError:
            return
        for number in data:
            if number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                log.info("signal %d: shutting down (%s)", number, self.policy)
                self.shutdown(self.policy)

    def shutdown(self, policy: str) -> None:
        self.policy = policy
        self.draining = True
        self.queue.holding = True  # a task started now would keep a `wait` or `kill` shutdown from ending
        if policy == "kill":
            for task in [t for t in self.queue.tasks.values() if t.status in ACTIVE]:
                self.queue.kill(task, signal.SIGKILL)
        self._check_drained()

    def _check_drained(self) -> None:
        if not self.draining:
            return
        if self.policy == "detach" or not any(t.status in ACTIVE for t in self.queue.tasks.values()):
            self.loop.stopping = True

    def close(self) -> None:
        for conn in list(self.connections):
            conn.close()
        self.store.close()
        if self.history is not None:
            try:
                self.history.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the history database failed")

    # ---- connections -------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            conn = Connection(self.loop, sock, self._on_message, self.connections.discard)
            uid = _peer_uid(sock)
            if uid != os.getuid():
                conn.fail("permission denied: this daemon serves only its owner")
                continue
            if len(self.connections) >= MAX_CONNECTIONS:
                conn.fail("too many connections")
                continue
            self.connections.add(conn)

    def _on_message(self, conn: Connection, message: dict) -> None:
        command = message.get("cmd")
        if command == "signal":
            streams.signal_running(self.queue, conn, message)
            return
        if command == "shutdown":
            conn.send({"ok": True, "message": "Daemon is shutting down"})
            self.shutdown(message.get("policy") or self.policy)
            return
        function = handlers.HANDLERS.get(command) if isinstance(command, str) else None
        if function is None:
            conn.send({"ok": False, "error": f"runq: unknown command {command!r}"})
            return
        if self.draining and command in ("add", "run"):
            conn.send({"ok": False, "error": "runq: the daemon is shutting down"})
            return
        changes, had_held = self.queue.change_count, bool(conn.held)
        try:
            reply = function(self.queue, conn, message)
        except RunqError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad request must never take the daemon down
            log.error("request %r failed:\n%s", command, traceback.format_exc())
            self.queue.resync()
            reply = {"ok": False, "error": f"runq: internal error handling {command!r}: {exc}"}
        if reply is not None:
            conn.send(reply)
        if self.queue.change_count == changes and not had_held and not conn.closed:
            # Nothing to make durable for this request (status, log, a refusal): answer now, even
            # while writes fail (a full disk), instead of waiting for the turn's commit.
            conn.release_held()

    def _retry_history_later(self) -> None:
        """Records a full or busy history refused wait in memory; try them again every 2 s."""
        if self.history is None or not self.history.pending_count or self._history_retry_armed:
            return
        self._history_retry_armed = True

        def retry() -> None:
            self._history_retry_armed = False
            try:
                self.history.retry_pending()
            except RunqError as exc:
                log.error("%s", exc)
            self._retry_history_later()

        self.loop.call_at(time.monotonic() + HISTORY_RETRY_SECONDS, retry)

    # ---- task ends ---------------------------------------------------------------------------

    def _record(self, task: Task, final: bool) -> None:
        # Written only once the turn's commit has made the end durable: a failed commit (a full
        # disk) is followed by a resync that finishes the task again, and both would be recorded
        # (and the callback run twice). The record is taken now, before a retry resets the task.
        record = history_record(self.queue, task, final)
        self.queue.after_commit.append(lambda: self._write_record(task, record, final))

    def _write_record(self, task: Task, record: dict, final: bool) -> None:
        if self.history is not None:
            try:
                self.history.record(record, defer=True)
            except RunqError as exc:  # a full or locked history: the record waits in memory
                log.error("%s", exc)
            except Exception:  # noqa: BLE001 - a broken history never stops the queue
                log.exception("recording task %d in the history failed", task.id)
            self._retry_history_later()
        if final and self.callbacks.template:
            try:
                values = callbacks.variables(task, self.queue.tasks, self.queue.log_path(task.id),
                                             int(self.config.get("daemon", "callback_log_lines")))
                self.callbacks.submit(task, values)
            except Exception:  # noqa: BLE001
                log.exception("callback for task %d failed", task.id)


def history_record(queue: Queue, task: Task, final: bool) -> dict:
    result = "TimedOut" if task.timed_out else task.result
    return {
        "id": task.id, "attempt": task.attempt, "command": task.command, "cwd": task.path, "group": task.group,
        "label": task.label, "origin": task.origin, "session_id": task.session_id, "tool_use_id": task.tool_use_id,
        "prompt_id": task.prompt_id, "agent_id": task.agent_id, "dag_run": task.dag_run, "dag_task": task.dag_task,
        "priority": task.priority, "dependencies": list(task.dependencies),
        "enqueued_at": task.enqueued_at, "started_at": task.start if task.shim_pid or task.user_cpu is not None else None,
        "ended_at": task.end, "result": result, "exit_code": task.exit_code, "signal": task.signal,
        "user_cpu": task.user_cpu, "sys_cpu": task.sys_cpu, "max_rss_kb": task.max_rss_kb,
        "stdout_bytes": task.stdout_bytes, "stderr_bytes": task.stderr_bytes,
        "log_path": queue.log_path(task.id), "env": task.envs, "final": final,
    }


def _open_history(root: str, config: Config):  # type: ignore[no-untyped-def]
    try:
        from runq.telemetry.store import HistoryStore

        return HistoryStore.open(paths.history_db(root), config)
    except RunqError as exc:  # corrupt, locked or too new: say so in one line, keep the queue running
        log.error("%s; tasks run but are not recorded", exc)
        return None
    except Exception:  # noqa: BLE001 - the queue runs without history rather than not at all
        log.exception("the history database cannot be opened; tasks run but are not recorded")
        return None


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _shell_argv(config: Config) -> list[str]:
    configured = config.get("daemon", "shell")
    if configured:
        resolved = shutil.which(configured[0]) or configured[0]
        return [resolved, *configured[1:]]
    bash = shutil.which("bash")
    return [bash, "-c"] if bash else ["/bin/sh", "-c"]


def _raise_fd_limit() -> int:
    """Raise the soft fd limit to the hard one; return the original soft limit (for the tasks)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft


def _prepare_home(root: str) -> None:
    os.makedirs(root, mode=0o700, exist_ok=True)
    for directory in (paths.runtime_dir(root), paths.task_logs(root)):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    for directory in (root, paths.runtime_dir(root), paths.task_logs(root)):
        os.chmod(directory, 0o700)


def _bind(root: str) -> socket.socket:
    path = paths.socket_path(root)
    try:
        os.unlink(path)  # a stale socket from a crashed daemon; we hold the lock, so it is ours
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    listener.listen(1024)
    return listener


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    background = "--background" in argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    root = paths.home()
    try:
        config = load_config(root)
        problem = callbacks.check_template(config.get("daemon", "callback") or "")
        if problem:
            raise RunqError(f"runq: config {config.path}: daemon.callback: {problem}")
        from runq.telemetry.redact import check_config

        check_config(config)  # a bad history.redact_values pattern is a config error, not a silent gap
        _prepare_home(root)
    except RunqError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    # Leave the starting client's directory (it may be deleted or unmounted later); the home is
    # fixed as an absolute path first, so a relative RUNQ_HOME or RUNQ_CONFIG still means the same.
    os.environ["RUNQ_HOME"] = root
    if os.environ.get("RUNQ_CONFIG"):
        os.environ["RUNQ_CONFIG"] = paths.config_file(root)
    os.chdir(root)
    # Fork only once the config is known good: the starting client sees a non-zero exit and
    # reports the config error at once instead of waiting for a socket that never comes.
    if background and os.fork() != 0:
        os._exit(0)
    if background:
        # Drop whatever inheritable fds the auto-starting client had (a make jobserver pipe, a
        # harness's status pipe): held here, they would never reach EOF for their readers.
        os.closerange(3, 1 << 20)
    lock_fd = os.open(paths.lock_file(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if not background:
            sys.stderr.write(f"runq: a daemon is already running for {root}\n")
            return 1
        return 0
    task_nofile = _raise_fd_limit()
    task_umask = os.umask(0o077)
    listener = _bind(root)
    with open(paths.pid_file(root), "w") as handle:
        handle.write(f"{os.getpid()}\n")
    daemon = Daemon(root, config)
    daemon.queue.task_umask, daemon.queue.task_nofile = task_umask, task_nofile
    try:
        daemon.serve(listener)
    finally:
        daemon.close()
        listener.close()
        for path in (paths.socket_path(root), paths.pid_file(root)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        os.close(lock_fd)
    log.info("runq daemon %d stopped", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
