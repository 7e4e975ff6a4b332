"""The per-task supervisor, run in a child forked from the daemon.

It detaches into its own session, spawns the task in the task's own process group, copies the
task's output to the log (and, for `runq run`, to the caller's own stdout/stderr), waits for the
task and reports the exit status with resource use. Because it is not tied to the daemon, a task
keeps running and its end is still recorded when the daemon crashes: the report goes to the
control channel and stays with the worker until the daemon confirms it saved; a worker that
loses its daemon first writes it, atomically, to an exit file the next daemon reads.

Only os-level calls happen here: the daemon is single-threaded, so the fork is safe, and the
child must not touch the daemon's event loop or database.
"""
from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass

from runq.engine import direct
from runq.protocol import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

# Like cat's buffer: small enough to stay in cache. 1 MiB reads (or reads straight into the
# 32 MiB tail ring) streamed at half the rate, the copies landing in cold memory.
READ_CHUNK = 512 << 10
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031
CUT_MARK = b"\n[runq: output cut here: %d bytes omitted, see logs.max_bytes]\n"
STREAM_CODES = {1: "o", 2: "e", 3: "m"}  # stdout, stderr, merged (both fds on one pipe)
DEFAULT_SIGNALS = tuple(s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP))


@dataclass
class ShimSpec:
    task_id: int
    argv: list[str]
    cwd: str
    env: dict[str, str]
    log_path: str
    exit_path: str
    log_cap: int
    caller_fds: tuple[int, int, int] | None = None  # `runq run`: the caller's own stdin, stdout, stderr
    merged: bool = False  # caller's stdout and stderr are one file: give the task one pipe for both
    # The daemon's own umask (077) and raised fd limit are its private business: the task gets
    # its caller's umask (`run`) or the daemon's original one, and the original soft fd limit.
    umask: int | None = None
    nofile: int | None = None
    # argv is [bash, "-c", line]: exec the line's program without bash when bash would only exec it
    direct: bool = False


class LogWriter:
    """Writes the task log with a size cap: the head stays, the tail rotates, the cut is marked.

    The tail is a ring buffer in memory, allocated only once the head is full and written out
    at the end. On disk (rotating files, or a ring file rewritten in place) every byte of a
    gigabyte output went through the page cache and the supervisor stalled on writeback,
    streaming at a fraction of a plain pipe's rate. A supervisor killed mid-task loses the tail.

    Beside the log, `<log>.idx` lists where the stream changes (offset, o/e/m), so stdout and
    stderr can be told apart later without touching the pueue-compatible log bytes.
    """

    def __init__(self, path: str, cap: int, split_streams: bool = False) -> None:
        self.path = path
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        # One pipe for both streams (every queued task) needs no index: all of it is "m". A file
        # creation is a journaled directory change, the largest cost of a short task.
        self.split_streams = split_streams
        self.idx: int | None = None
        self.total = 0
        self.head = 0
        self.stream = ""
        self.tail: memoryview | None = None
        self.tail_total = 0  # bytes ever written past the head; the ring holds the last tail_cap
        self.error: str | None = None

    def write(self, stream: str, data: bytes | memoryview) -> None:
        size = len(data)
        if not self.error:
            try:
                self._write(stream, data)
            except OSError as exc:
                # A full disk must not stall the task: stop logging, keep draining and forwarding.
                self.error = f"log write failed: {exc.strerror}"
        self.total += size

    def _write(self, stream: str, data: bytes | memoryview) -> None:
        if stream != self.stream:
            self._switch(stream)
        room = self.head_cap - self.head
        if room > 0:
            part = data[:room]
            _write_all(self.fd, part)
            self.head += len(part)
            data = data[room:]
        if data:
            self._write_tail(data)

    def window(self, buffer: memoryview) -> memoryview:
        """Where the next read should land. Once the head is full it is the tail ring itself, so
        keeping the tail costs no copy (a copy of every chunk halved the streaming rate)."""
        if self.error or self.head < self.head_cap:
            return buffer
        if self.tail is None:
            self.tail = _ring(self.tail_cap)
        at = self.tail_total % self.tail_cap
        return self.tail[at: at + min(len(buffer), self.tail_cap - at)]

    def take(self, stream: str, window: memoryview, size: int) -> None:
        """Log the `size` bytes a read put at the start of `window` (a window from `window()`)."""
        if self.tail is None or window.obj is not self.tail.obj:
            self.write(stream, window[:size])
            return
        if stream != self.stream:  # the bytes are in the ring already: account for them
            try:
                self._switch(stream)
            except OSError as exc:
                self.error = f"log write failed: {exc.strerror}"
        self.tail_total += size
        self.total += size

    def _switch(self, stream: str) -> None:
        """Record in `<log>.idx` that the output from here on is `stream`'s."""
        self.stream = stream
        if not self.split_streams:
            return
        if self.idx is None:
            self.idx = os.open(self.path + ".idx", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.write(self.idx, b"%d %s\n" % (self.total, stream.encode()))

    def _write_tail(self, data: bytes | memoryview) -> None:
        if self.tail is None:
            self.tail = _ring(self.tail_cap)
        view = memoryview(data)
        if len(view) > self.tail_cap:  # only the last tail_cap bytes of this chunk can survive
            self.tail_total += len(view) - self.tail_cap
            view = view[len(view) - self.tail_cap:]
        while view:
            at = self.tail_total % self.tail_cap
            part = view[:self.tail_cap - at]
            self.tail[at:at + len(part)] = part
            self.tail_total += len(part)
            view = view[len(part):]

    def finish(self) -> None:
        """Write the tail ring after the head: head, cut marker, last tail_cap bytes."""
        try:
            if self.tail is not None:
                ring, self.tail = self.tail, None
                at = self.tail_total % self.tail_cap
                kept = [ring[at:], ring[:at]] if self.tail_total > self.tail_cap else [ring[:self.tail_total]]
                omitted = self.total - self.head - sum(len(part) for part in kept)
                if omitted > 0:
                    _write_all(self.fd, CUT_MARK % omitted)
                for part in kept:
                    _write_all(self.fd, part)
        except OSError as exc:
            self.error = self.error or f"log write failed: {exc.strerror}"
        os.close(self.fd)
        if self.idx is not None:
            os.close(self.idx)


def _ring(size: int) -> memoryview:
    """The tail ring: anonymous memory asking for huge pages, given back to the system with the
    last view of it. A gigabyte of output passes through it, so TLB misses show in the rate."""
    import mmap

    try:
        area = mmap.mmap(-1, size)
    except OSError:
        return memoryview(bytearray(size))
    try:
        area.madvise(mmap.MADV_HUGEPAGE)
    except (AttributeError, OSError):
        pass
    return memoryview(area)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def worker_main(control_fd: int) -> None:
    """Serve tasks one at a time until the daemon hangs up; never returns (os._exit).

    Workers are forked once and reused: a freshly forked Python child pays milliseconds of
    copy-on-write faults, which would cap the queue's throughput far below task-spooler's.
    """
    code = 0
    try:
        _detach(control_fd)
        import socket

        channel = socket.socket(fileno=control_fd)
        unconfirmed: dict[int, tuple[str, bytes]] = {}  # task -> (exit file, report) not saved yet
        try:
            while True:
                spec = _receive_spec(channel, unconfirmed)
                if spec is None:
                    break
                try:
                    report = _supervise(spec, control_fd)
                except Exception as exc:  # noqa: BLE001 - every task must end with a report
                    report = {"errored": f"runq supervisor failed: {exc!r}", "end": time.time()}
                finally:
                    for fd in spec.caller_fds or ():
                        _close(fd)
                line = fastjson.dumps(report).encode()
                unconfirmed[spec.task_id] = (spec.exit_path, line)
                try:
                    os.write(control_fd, b"E " + line + b"\n")
                except OSError:
                    break  # the daemon is gone: the next one reads the exit file
        finally:
            for exit_path, line in unconfirmed.values():
                _write_exit_file(exit_path, line)
    except BaseException:  # noqa: BLE001
        code = 1
    os._exit(code)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


# A frame header no spec can have (specs are far below 4 GiB), then the task id: "the report of
# this task is saved". Specs and confirmations share the channel, in the order they were sent.
CONFIRMED = 0xFFFFFFFF


def _receive_spec(sock: socket.socket, unconfirmed: dict[int, tuple[str, bytes]]) -> ShimSpec | None:
    """The next framed spec (4-byte length + JSON), with the caller's fds attached to its first
    bytes; None once the daemon hangs up. Confirmations met on the way drop their reports."""
    while True:
        header, fds = _receive_header(sock)
        if header is None:
            return None
        size = int.from_bytes(header, "big")
        if size != CONFIRMED:
            return _receive_body(sock, size, fds)
        task_id = _receive_exactly(sock, 8)
        if task_id is None:
            return None
        unconfirmed.pop(int.from_bytes(task_id, "big"), None)


def _receive_exactly(sock: socket.socket, size: int) -> bytearray | None:
    """`size` bytes from the channel; None if it closes or fails first."""
    data = bytearray()
    try:
        while len(data) < size:
            chunk = sock.recv(min(size - len(data), 1 << 20))
            if not chunk:
                return None
            data += chunk
    except OSError:
        return None
    return data


def _receive_header(sock: socket.socket) -> tuple[bytes | None, list[int]]:
    import array
    import socket

    fds: list[int] = []
    try:
        header, ancillary, _, _ = sock.recvmsg(4, socket.CMSG_SPACE(3 * 4))
        if not header:
            return None, fds
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                numbers = array.array("i")
                numbers.frombytes(payload[: len(payload) - len(payload) % 4])
                fds.extend(numbers)
    except OSError:
        return None, fds
    if len(header) < 4:
        rest = _receive_exactly(sock, 4 - len(header))
        return (None if rest is None else header + rest), fds
    return header, fds


def _receive_body(sock: socket.socket, size: int, fds: list[int]) -> ShimSpec | None:
    body = _receive_exactly(sock, size)
    if body is None:
        return None
    data = fastjson.loads(body.decode("utf-8", "surrogatepass"))
    for fd in fds:
        os.set_inheritable(fd, False)  # the task gets dup2'd copies on 0-2, never these numbers
    caller = (fds[0], fds[1], fds[2]) if len(fds) >= 3 else None
    return ShimSpec(task_id=data["task_id"], argv=data["argv"], cwd=data["cwd"], env=data["env"],
                    log_path=data["log_path"], exit_path=data["exit_path"], log_cap=data["log_cap"],
                    caller_fds=caller, merged=data["merged"], umask=data.get("umask"),
                    nofile=data.get("nofile"), direct=data.get("direct", False))


def encode_spec(spec: ShimSpec) -> bytes:
    body = fastjson.dumps({"task_id": spec.task_id, "argv": spec.argv, "cwd": spec.cwd, "env": spec.env,
                           "log_path": spec.log_path, "exit_path": spec.exit_path, "log_cap": spec.log_cap,
                           "merged": spec.merged, "umask": spec.umask, "nofile": spec.nofile,
                           "direct": spec.direct}).encode("utf-8", "surrogatepass")
    return len(body).to_bytes(4, "big") + body


def _detach(control_fd: int) -> None:
    os.setsid()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Close everything inherited from the daemon (its listening socket, client connections,
    # database, other workers' channels): a client must see EOF when the daemon dies.
    os.closerange(3, control_fd)
    os.closerange(control_fd + 1, 1 << 20)


def _supervise(spec: ShimSpec, control_fd: int) -> dict:
    log = LogWriter(spec.log_path, spec.log_cap, split_streams=not spec.merged)
    stdin_fd = spec.caller_fds[0] if spec.caller_fds else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    pipes = [(out_r, out_w)]
    if not spec.merged:
        pipes.append(os.pipe2(os.O_CLOEXEC))
    for read_end, _ in pipes:
        _enlarge_pipe(read_end)
    err_w = pipes[-1][1]
    try:
        os.chdir(spec.cwd)
    except OSError as exc:
        _close_unspawned(pipes, stdin_fd, spec)
        log.finish()
        return {"spawn_error": f"cannot enter working directory {spec.cwd}: {exc.strerror}", "end": time.time()}
    inherited = _enter_task_limits(spec)
    file_actions = [(os.POSIX_SPAWN_DUP2, stdin_fd, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    try:
        pid = _spawn_direct(spec, file_actions) if spec.direct else None
        if pid is None:
            # argv[0] is the shell's bare name, as when a caller runs `bash -c CMD` from PATH: bash
            # puts $0 in every message ("bash: line 1: x: command not found"), and runq's must match.
            pid = os.posix_spawn(spec.argv[0], [os.path.basename(spec.argv[0]), *spec.argv[1:]], spec.env,
                                 file_actions=file_actions, setpgroup=0, setsigdef=DEFAULT_SIGNALS, setsigmask=())
    except OSError as exc:
        _close_unspawned(pipes, stdin_fd, spec)
        log.finish()
        return {"spawn_error": f"cannot execute {spec.argv[0]}: {exc.strerror}", "end": time.time()}
    finally:
        _leave_task_limits(inherited)
    try:
        os.write(control_fd, b"P %d\n" % pid)
    except OSError:
        # The daemon died between the spawn and now. The task runs all the same: keep pumping
        # its output and record its end (the next daemon finds the pid through /proc).
        pass
    for _, write_end in pipes:
        os.close(write_end)
    if not spec.caller_fds:
        os.close(stdin_fd)
    streams = {pipes[0][0]: 3 if spec.merged else 1}
    if not spec.merged:
        streams[pipes[1][0]] = 2
    counts = _pump(pid, streams, log, spec.caller_fds)
    _, status, usage = os.wait4(pid, 0)
    end = time.time()
    log.finish()
    report = {
        "end": end,
        "user_cpu": usage.ru_utime, "sys_cpu": usage.ru_stime, "max_rss_kb": usage.ru_maxrss,
        "stdout_bytes": counts[1] + counts[3], "stderr_bytes": counts[2],
        "log_error": log.error,
    }
    if os.WIFSIGNALED(status):
        report["signal"] = os.WTERMSIG(status)
    else:
        report["exit_code"] = os.WEXITSTATUS(status)
    return report


def _spawn_direct(spec: ShimSpec, file_actions: list) -> int | None:
    """Exec the line's program as bash would have (see direct.py); None: leave it to bash."""
    planned = direct.plan(spec.argv[-1], spec.env)
    if planned is None:
        return None
    program, argv, env = planned
    try:
        return os.posix_spawn(program, argv, env, file_actions=file_actions, setpgroup=0,
                              setsigdef=DEFAULT_SIGNALS, setsigmask=())
    except OSError:
        return None  # a script without #! (bash runs it itself), or the file just changed


def _enter_task_limits(spec: ShimSpec) -> tuple[int | None, int | None]:
    """Give the worker the task's umask and soft fd limit for the spawn; return what to restore."""
    umask = os.umask(spec.umask) if spec.umask is not None else None
    nofile = None
    if spec.nofile is not None:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if spec.nofile != soft:
            try:
                wanted = spec.nofile if hard == resource.RLIM_INFINITY else min(spec.nofile, hard)
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                nofile = soft
            except (OSError, ValueError):
                pass
    return umask, nofile


def _leave_task_limits(inherited: tuple[int | None, int | None]) -> None:
    umask, nofile = inherited
    if umask is not None:
        os.umask(umask)
    if nofile is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _close_unspawned(pipes: list[tuple[int, int]], stdin_fd: int, spec: ShimSpec) -> None:
    for read_end, write_end in pipes:
        _close(read_end)
        _close(write_end)
    if not spec.caller_fds:
        _close(stdin_fd)


def _enlarge_pipe(fd: int) -> None:
    import fcntl

    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


_buffer: bytearray | None = None


def _read_buffer() -> bytearray:
    """One read buffer per worker, reused task after task (a fresh bytes object per os.read
    churned the allocator into page faults on every chunk)."""
    global _buffer
    if _buffer is None:
        _buffer = bytearray(READ_CHUNK)
    return _buffer


def _pump(pid: int, streams: dict[int, int], log: LogWriter, caller_fds: tuple[int, int, int] | None) -> dict[int, int]:
    """Copy output until the pipes close, or the task's leader exits and the pipes run dry.

    Background children that keep the pipes open must not hold the task open: a direct run
    into a file (how agents run commands) returns when the shell exits, so the pump does too.
    """
    counts = {1: 0, 2: 0, 3: 0}
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
        os.set_blocking(fd, False)  # a re-read without a poll must never block on one stream
    pidfd = os.pidfd_open(pid)
    poller.register(pidfd, select.POLLIN)
    open_fds = set(streams)
    # Per stream, looked up once: a gigabyte arrives in ~100k chunks, each paying this loop.
    codes = {fd: STREAM_CODES[stream] for fd, stream in streams.items()}
    targets = {fd: None if caller_fds is None else caller_fds[2] if stream == 2 else caller_fds[1]
               for fd, stream in streams.items()}
    again = {fd: (fd, select.POLLIN) for fd in streams}
    readv, write, window_for, take = os.readv, os.write, log.window, log.take
    leader_done = False
    buffer = memoryview(_read_buffer())
    ready: list[tuple[int, int]] = []
    while open_fds:
        # After a read, read that pipe again before polling: on a fast stream more is usually
        # waiting, and a poll per chunk is a third of the relay's cost.
        events = ready or poller.poll(0 if leader_done else None)
        ready = []
        for fd, _ in events:
            if fd == pidfd:
                leader_done = True
                poller.unregister(pidfd)
                continue
            window = window_for(buffer)
            try:
                size = readv(fd, [window])
            except BlockingIOError:
                continue
            if not size:
                poller.unregister(fd)
                open_fds.discard(fd)
                os.close(fd)
                continue
            counts[streams[fd]] += size
            ready.append(again[fd])  # non-blocking: an empty pipe just says EAGAIN
            take(codes[fd], window, size)
            target = targets[fd]
            if target is None:
                continue
            try:
                written = write(target, window[:size])
                if written < size:
                    _write_all(target, window[written:size])
            except OSError:
                # The caller's reader went away: close our end so the task sees EPIPE or
                # SIGPIPE on its next write, as it would have writing there directly.
                targets[fd] = None
                poller.unregister(fd)
                open_fds.discard(fd)
                os.close(fd)
                ready = [entry for entry in ready if entry[0] != fd]
        if not events and leader_done:
            break
    if open_fds and caller_fds:  # a stream whose caller went away is closed already
        _forward_after_end(open_fds, streams, caller_fds)
    # The worker outlives the task: close what is left (pipes a background child still holds),
    # or every task would leak its read ends into the long-lived worker.
    for fd in open_fds:
        os.close(fd)
    os.close(pidfd)
    return counts


def _forward_after_end(fds: set[int], streams: dict[int, int], caller_fds: tuple[int, int, int]) -> None:
    """The task ended but a background child still holds its output pipes.

    Run directly, that child would keep writing into the caller's file after the shell exits
    (`(sleep 1; echo late) & echo early`), so a detached drainer keeps forwarding to the
    caller until the last writer closes. Those late bytes are not logged: the task's log and
    report are final when the task ends.
    """
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        os.waitpid(pid, 0)  # the intermediate exits at once; the drainer is reparented away
        return
    try:
        if os.fork() == 0:
            _drain(fds, streams, caller_fds)
    finally:
        os._exit(0)


def _drain(fds: set[int], streams: dict[int, int], caller_fds: tuple[int, int, int]) -> None:
    low = 3
    for fd in sorted({*fds, caller_fds[1], caller_fds[2]}):  # drop the worker's channel, logs, pidfd
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 20)
    poller = select.poll()
    for fd in fds:
        os.set_blocking(fd, True)
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    while open_fds:
        for fd, _ in poller.poll():
            data = os.read(fd, READ_CHUNK)
            if data:
                try:
                    _write_all(caller_fds[2] if streams[fd] == 2 else caller_fds[1], data)
                    continue
                except OSError:
                    pass  # the caller's reader is gone: the child gets EPIPE, as it would directly
            poller.unregister(fd)
            open_fds.discard(fd)
            os.close(fd)


def _write_exit_file(path: str, line: bytes) -> None:
    """The report on disk, for a daemon that died before saving it (the next one reads it)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.write(line)
        os.replace(tmp, path)
    except OSError:
        pass  # a full disk as well: the task's end is lost with the daemon that crashed
