"""The client side of the socket: connect (starting the daemon when needed), call, stream.

Imports stay minimal on purpose (`_socket`, not `socket`): this module is on the hot path of
`runq run` and the hook.
"""
from __future__ import annotations

import _socket
import os
import sys
import time

from runq import paths
from runq.errors import DaemonUnreachable, ProtocolError, RunqError
from runq.protocol import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

AUTOSTART_TIMEOUT = 10.0
_FD_SPACE = 64  # ancillary buffer, unused by clients but harmless


class Connection:
    def __init__(self, sock: _socket.socket, root: str) -> None:
        self.sock = sock
        self.root = root

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: dict, fds: list[int] | None = None) -> None:
        data = wire.encode(message)
        try:
            if fds:
                # Native ints, as SCM_RIGHTS wants them, without importing `array` (2 ms on the hot path).
                payload = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
                ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, payload)]
                sent = self.sock.sendmsg([data], ancillary)
                data = data[sent:]
            if data:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The daemon may answer and hang up before reading a word (it refuses another user's
            # connection at once): its reason is waiting to be read, and says more than EPIPE.
            self.receive()
            raise DaemonUnreachable("runq: the daemon closed the connection (did it stop or crash?)") from None

    def _read_exact(self, size: int) -> bytearray:
        """Exactly `size` bytes, nothing past them: a frame is read to its end and no further, so
        nothing is ever left over for the next read and `select` on the socket tells the truth.
        Large frames (status --json of many tasks) land in one preallocated buffer: appending
        chunk by chunk would copy the frame again on every read."""
        data = bytearray(size)
        view = memoryview(data)
        have = 0
        while have < size:
            try:
                got = self.sock.recv_into(view[have:], size - have)
            except (ConnectionResetError, BrokenPipeError):
                got = 0
            if not got:
                raise DaemonUnreachable("runq: the daemon closed the connection (did it stop or crash?)")
            have += got
        return data  # a bytearray: copying a multi-megabyte frame into bytes buys nothing

    def read_frame(self) -> bytearray:
        length = wire.frame_length(self._read_exact(wire.HEADER), wire.MAX_REPLY)
        return self._read_exact(length)

    def receive(self) -> dict:
        try:
            reply = wire.decode(self.read_frame())
        except ValueError as exc:
            raise ProtocolError(f"runq: bad reply from the daemon: {exc}") from None
        if reply.get("ok") is False:
            raise RunqError(str(reply.get("error", "the daemon refused the request")))
        return reply

    def read_raw(self) -> Iterator[bytearray]:
        """Yield the raw chunks that follow a reply with "raw": true."""
        while True:
            chunk = self.read_frame()
            if not chunk:
                return
            yield chunk

    def call(self, cmd: str, **args: Any) -> dict:
        args["cmd"] = cmd
        self.send(args)
        return self.receive()

    def stream(self, cmd: str, **args: Any) -> Iterator[dict]:
        """Send one request and yield its reply frames until the one marked done."""
        args["cmd"] = cmd
        self.send(args)
        while True:
            reply = self.receive()
            yield reply
            if reply.get("done"):
                return


def _connect_once(path: str) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def connect(root: str | None = None, autostart: bool = True) -> Connection:
    root = root or paths.home()
    path = paths.socket_path(root)
    if len(path.encode()) >= 108:
        raise DaemonUnreachable(f"runq: socket path too long for a Unix socket: {path} (use a shorter RUNQ_HOME)")
    sock = _connect_once(path)
    if sock is None:
        if not autostart:
            raise DaemonUnreachable(f"runq: no daemon is running for {root}")
        sock = _start_daemon_and_connect(root, path)
    return Connection(sock, root)


def _start_daemon_and_connect(root: str, path: str) -> _socket.socket:
    """Start a background daemon and wait for its socket.

    Racing clients may each start one; the daemon takes an exclusive lock before binding, so
    every loser exits quietly and all clients end up on the single winner.
    """
    spawn_daemon(root)
    deadline = time.monotonic() + AUTOSTART_TIMEOUT
    delay = 0.002
    while time.monotonic() < deadline:
        sock = _connect_once(path)
        if sock is not None:
            return sock
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    log = paths.daemon_log(root)
    raise DaemonUnreachable(f"runq: could not start the daemon within {AUTOSTART_TIMEOUT:.0f} s (see {log})")


def spawn_daemon(root: str) -> None:
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        log_fd = os.open(paths.daemon_log(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DaemonUnreachable(f"runq: cannot use {root} as runq's home: {exc.strerror} "
                                "(point RUNQ_HOME at a directory you can write)") from None
    null_fd = os.open(os.devnull, os.O_RDONLY)
    env = dict(os.environ)
    env["RUNQ_HOME"] = root
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package_parent = os.path.dirname(package_parent)
    argv = [sys.executable, "-I", "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); from runq.engine.daemon import main; sys.exit(main(['--background']))",
            package_parent]
    pid = os.posix_spawn(
        sys.executable, argv, env,
        file_actions=[(os.POSIX_SPAWN_DUP2, null_fd, 0), (os.POSIX_SPAWN_DUP2, log_fd, 1),
                      (os.POSIX_SPAWN_DUP2, log_fd, 2)],
        setsid=True,
    )
    os.close(log_fd)
    os.close(null_fd)
    # The daemon double-forks itself; reap the intermediate process so it leaves no zombie.
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        # It refused to start (a broken config): its one-line reason is the log's last line.
        raise DaemonUnreachable(_last_line(paths.daemon_log(root)) or f"runq: the daemon failed to start (see {paths.daemon_log(root)})")


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
