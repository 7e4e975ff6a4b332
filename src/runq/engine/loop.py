"""A small single-threaded event loop on epoll: sockets, pidfds, timers.

asyncio cannot receive file descriptors (SCM_RIGHTS) on a stream, which `runq run` needs to hand
the caller's own stdout and stderr to its task, so the daemon runs on `selectors` directly.
Being single-threaded also keeps `fork()` of task supervisors safe.
"""
from __future__ import annotations

import array
import heapq
import itertools
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable

from runq.protocol import wire

MAX_FDS_PER_MESSAGE = 8
RECV_SIZE = 256 * 1024  # recvmsg allocates the full buffer on every call; keep it modest
MAX_OUTBUF = 512 * 1024 * 1024  # a subscriber this far behind is dropped rather than grow the daemon
MAX_SLEEP = 3600.0


class EventLoop:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.counter = itertools.count()
        self.stopping = False
        self.idle_callbacks: list[Callable[[], None]] = []
        self.on_error: Callable[[BaseException], None] = lambda exc: None
        # Replies wait until this turn's changes are committed (durable before the client hears
        # back), so a turn's many changes share one commit instead of one each.
        self.commit: Callable[[], None] = lambda: None
        self.held: set[Connection] = set()

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self.selector.register(fd, selectors.EVENT_READ, lambda mask: callback())

    def remove(self, fd: int) -> None:
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (when, next(self.counter), callback))

    def run(self) -> None:
        while not self.stopping:
            timeout = None
            if self.timers:
                # Capped: a timer years away (a far `--delay`) would overflow epoll's timeout.
                timeout = min(MAX_SLEEP, max(0.0, self.timers[0][0] - time.monotonic()))
            for key, mask in self.selector.select(timeout):
                self._guarded(key.data, mask)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, callback = heapq.heappop(self.timers)
                self._guarded(callback)
            for callback in self.idle_callbacks:
                self._guarded(callback)
            self.release_replies()

    def release_replies(self) -> None:
        """Commit this turn's changes, then send the replies that waited for them."""
        try:
            self.commit()
        except Exception as exc:  # noqa: BLE001
            for conn in list(self.held):
                conn.drop_held(f"could not save the change ({exc}); nothing was changed")
            self.held.clear()
            self.on_error(exc)
            return
        held, self.held = self.held, set()
        for conn in held:
            conn.release_held()

    def _guarded(self, callback: Callable, *args: object) -> None:
        """Run one callback; a failure (a full disk, a bug) is reported, never the end of the loop."""
        try:
            callback(*args)
        except Exception as exc:  # noqa: BLE001
            self.on_error(exc)


class Connection:
    """One client connection: reads frames (and any passed fds), buffers writes."""

    # Bytes of unfinished requests held across all connections: many clients that each send most
    # of a huge frame and stall must not grow the daemon without bound.
    pending_total = 0
    PENDING_BUDGET = 256 * 1024 * 1024

    def __init__(self, loop: EventLoop, sock: socket.socket, on_message: Callable[[Connection, dict], None],
                 on_close: Callable[[Connection], None]) -> None:
        self.loop = loop
        self.sock = sock
        self.on_message = on_message
        self.on_close = on_close
        self.inbuf = bytearray()
        self.outbuf: deque[memoryview] = deque()  # chunks, sent without joining (status --json is MBs)
        self.outbuf_size = 0
        self.fds: list[int] = []
        self.closed = False
        self.close_after_flush = False
        self.peer_uid: int | None = None
        self.cleanups: list[Callable[[], None]] = []
        self.run_task: int | None = None
        self._counted = 0
        self.held: list[memoryview] = []
        loop.selector.register(sock, selectors.EVENT_READ, self._on_event)

    def _on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self._read()

    def _read(self) -> None:
        fd_space = socket.CMSG_SPACE(MAX_FDS_PER_MESSAGE * 4)
        try:
            data, ancillary, flags, _ = self.sock.recvmsg(RECV_SIZE, fd_space)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
                self.fds.extend(fds)
        if flags & socket.MSG_CTRUNC:
            self.fail("too many file descriptors in one message")
            return
        if not data:
            self.close()
            return
        self.inbuf += data
        if len(self.inbuf) > 65536 and Connection.pending_total + len(self.inbuf) - self._counted > self.PENDING_BUDGET:
            self.fail("too much unfinished request data across connections; try again")
            return
        self._parse()
        self._account()

    def _account(self) -> None:
        Connection.pending_total += len(self.inbuf) - self._counted
        self._counted = len(self.inbuf)

    def _parse(self) -> None:
        while not self.closed and len(self.inbuf) >= wire.HEADER:
            try:
                length = wire.frame_length(bytes(self.inbuf[: wire.HEADER]), wire.MAX_REQUEST)
            except ValueError as exc:
                self.fail(f"refused: {exc}")
                return
            if len(self.inbuf) < wire.HEADER + length:
                return
            body = bytes(self.inbuf[wire.HEADER: wire.HEADER + length])
            del self.inbuf[: wire.HEADER + length]
            try:
                message = wire.decode(body)
            except ValueError as exc:
                self.fail(f"malformed request: {exc}")
                return
            self.on_message(self, message)

    def fail(self, error: str) -> None:
        """Answer with one error and hang up: the framing can no longer be trusted."""
        self.send({"ok": False, "error": f"runq: {error}"})
        self.close_after_flush = True
        self.release_held()

    def take_fds(self, count: int) -> list[int] | None:
        if len(self.fds) < count:
            return None
        taken, self.fds = self.fds[:count], self.fds[count:]
        return taken

    def send(self, message: dict) -> None:
        self.send_bytes(wire.encode(message))

    def widen_send_buffer(self) -> None:
        """For multi-megabyte replies: fewer, larger socket writes and wake-ups on both sides."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        except OSError:
            pass

    def send_bytes(self, *chunks: bytes) -> None:
        """Queue bytes; they leave once the loop turn's changes are committed."""
        if self.closed:
            return
        for chunk in chunks:
            if chunk:
                self.held.append(memoryview(chunk))
                self.outbuf_size += len(chunk)
        if self.outbuf_size > MAX_OUTBUF:
            self.close()
            return
        self.loop.held.add(self)

    def release_held(self) -> None:
        self.outbuf.extend(self.held)
        self.held = []
        self._flush()

    def drop_held(self, error: str) -> None:
        """The turn's commit failed: replies that promised a change must not go out."""
        self.outbuf_size -= sum(len(chunk) for chunk in self.held)
        self.held = []
        self.send({"ok": False, "error": f"runq: {error}"})
        self.release_held()

    def _flush(self) -> None:
        if self.closed:
            return
        while self.outbuf:
            try:
                sent = self.sock.sendmsg(list(itertools.islice(self.outbuf, 64)))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close()
                return
            self.outbuf_size -= sent
            while sent:
                head = self.outbuf[0]
                if len(head) <= sent:
                    sent -= len(head)
                    self.outbuf.popleft()
                else:
                    self.outbuf[0] = head[sent:]
                    sent = 0
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)
        try:
            self.loop.selector.modify(self.sock, events, self.loop.selector.get_key(self.sock).data)
        except (KeyError, ValueError):
            pass
        if not self.outbuf and self.close_after_flush:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.held = []
        self.loop.held.discard(self)
        self.inbuf = bytearray()
        self._account()
        self.loop.remove(self.sock.fileno())
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        self.sock.close()
        for cleanup in self.cleanups:
            cleanup()
        self.cleanups = []
        self.on_close(self)
