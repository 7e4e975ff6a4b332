"""Bad clients: garbage, truncated and oversized frames, wrong types, unknown commands, idle and
stalled connections. Each well-formed connection gets a clear error, the daemon stays up, and its
memory stays bounded (VmRSS from /proc before and after).
"""
from __future__ import annotations

import array
import fcntl
import json
import os
import random
import resource
import socket
import termios
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import wait_until
from reliability_support import (call, daemon_pid, header, open_fds, raw_socket, read_frame, rss_kb, send_and_read,
                                 write_config)
from runq.protocol import wire

MB = 1024 * 1024


def _frame(message: object) -> bytes:
    return wire.frame(json.dumps(message).encode())


def _assert_clear_error(reply: dict | None, *expected: str) -> None:
    assert reply is not None, "the daemon hung up without an answer"
    assert reply.get("ok") is False, reply
    error = reply["error"]
    assert isinstance(error, str) and error.strip() and "\n" not in error, error
    assert "internal error" not in error, error
    for text in expected:
        assert text in error, error


def _assert_up(home: Path, pid: int) -> None:
    assert call(home, "ping")["pid"] == pid


# ---- framing ------------------------------------------------------------------------------------


def test_random_bytes_never_take_the_daemon_down(daemon: Path) -> None:
    pid = daemon_pid(daemon)
    rng = random.Random(7)
    for size in (1, 3, 4, 5, 64, 4096, 100_000):
        payload = bytes(rng.randrange(256) for _ in range(size))
        reply = send_and_read(daemon, payload)
        if reply is not None:  # garbage that happens to frame as a request gets an error, not a crash
            _assert_clear_error(reply)
        _assert_up(daemon, pid)


def test_truncated_frames_are_dropped_without_an_answer(daemon: Path) -> None:
    pid = daemon_pid(daemon)
    request = _frame({"cmd": "ping"})
    for cut in (1, 3, 4, 5, len(request) - 1):
        assert send_and_read(daemon, request[:cut]) is None
        _assert_up(daemon, pid)


@pytest.mark.parametrize("claimed", [0xFFFFFFFF, wire.MAX_REQUEST + 1], ids=["4GiB", "cap+1"])
def test_length_prefix_beyond_the_cap_is_refused_at_once(daemon: Path, claimed: int) -> None:
    pid = daemon_pid(daemon)
    before = rss_kb(pid)
    with raw_socket(daemon) as sock:
        sock.sendall(header(claimed) + b"{")  # no body follows: the refusal must not wait for one
        _assert_clear_error(read_frame(sock), "exceeds the limit")
    _assert_up(daemon, pid)
    assert rss_kb(pid) - before < 8 * 1024


def test_length_prefix_claiming_100_gb_is_refused(daemon: Path) -> None:
    # The prefix is 4 bytes, so 100 GB does not fit it: a client writing it as 8 bytes sends the
    # high word as a 23-byte frame and the rest as garbage; written into 4 bytes it is cut to
    # 100 GB mod 4 GiB. Neither may cost the daemon memory or an answer to the next client.
    pid = daemon_pid(daemon)
    before = rss_kb(pid)
    hundred_gb = 100 * 1000 ** 3
    reply = send_and_read(daemon, hundred_gb.to_bytes(8, "big") + b"x" * 32)
    _assert_clear_error(reply, "malformed request")
    with raw_socket(daemon) as sock:
        sock.sendall(header(hundred_gb % 2 ** 32) + b"{}")
        _assert_clear_error(read_frame(sock), "exceeds the limit")
    _assert_up(daemon, pid)
    assert rss_kb(pid) - before < 8 * 1024


# ---- well-framed nonsense -----------------------------------------------------------------------

BAD_REQUESTS = [
    (b"[1, 2]", "not a JSON object"),
    (b'"ping"', "not a JSON object"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"cmd": NaN}', "malformed request"),
    (b"{", "malformed request"),
    (b"[" * 100_000, "malformed request"),
    (b'{"a":' * 100_000, "malformed request"),
    (json.dumps({"cmd": 5}).encode(), "unknown command"),
    (json.dumps({"cmd": "rm -rf /"}).encode(), "unknown command"),
    (json.dumps({}).encode(), "unknown command"),
    (json.dumps({"cmd": "add", "command": 5, "cwd": "/"}).encode(), "'command' must be a string"),
    (json.dumps({"cmd": "add", "command": "true", "cwd": "relative"}).encode(), "absolute"),
    (json.dumps({"cmd": "add", "command": "true", "cwd": "/", "env": ["x"]}).encode(), "'env'"),
    (json.dumps({"cmd": "add", "command": "echo a\0b", "cwd": "/"}).encode(), "NUL"),
    (json.dumps({"cmd": "add", "command": "true", "cwd": "/", "env": {"A=B": "x"}}).encode(), "environment"),
    (json.dumps({"cmd": "add", "command": "true", "cwd": "/", "env": {"A": "x\0y"}}).encode(), "environment"),
    (json.dumps({"cmd": "add", "command": "true", "cwd": "/", "priority": "high"}).encode(), "'priority'"),
    (json.dumps({"cmd": "kill", "ids": "all"}).encode(), "list of task ids"),
    (json.dumps({"cmd": "kill", "ids": [1], "signal": "SIGNOPE"}).encode(), "unknown signal"),
    (json.dumps({"cmd": "status", "group": 5}).encode(), "'group' must be a string"),
    (json.dumps({"cmd": "log_info", "group": ["default"]}).encode(), "group"),
    (json.dumps({"cmd": "stash", "group": {"a": 1}}).encode(), "group"),
    (json.dumps({"cmd": "parallel", "parallel": "8"}).encode(), "'parallel'"),
    (json.dumps({"cmd": "wait", "target": "forever"}).encode(), "unknown wait status"),
    (json.dumps({"cmd": "run", "command": "true", "cwd": "/"}).encode(), "stdin, stdout and stderr"),
]


@pytest.mark.parametrize("body, expected", BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))])
def test_well_framed_bad_request_gets_a_clear_error(daemon: Path, body: bytes, expected: str) -> None:
    pid = daemon_pid(daemon)
    _assert_clear_error(send_and_read(daemon, wire.frame(body)), expected)
    _assert_up(daemon, pid)
    assert call(daemon, "status")["tasks"] == []  # nothing was added by a refused request


# ---- connections that hold on -------------------------------------------------------------------


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard < needed:
            pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _warm_up(home: Path) -> int:
    """Exercise the daemon once so that later RSS readings compare like with like."""
    pid = daemon_pid(home)
    for _ in range(20):
        call(home, "status")
    return pid


def test_1000_idle_connections_and_a_stalled_half_request_do_not_block_others(daemon: Path) -> None:
    _raise_fd_limit(4096)
    pid = _warm_up(daemon)
    fds_before, rss_before = open_fds(pid), rss_kb(pid)
    idle = [raw_socket(daemon) for _ in range(1000)]
    stalled = raw_socket(daemon)
    request = _frame({"cmd": "status"})
    stalled.sendall(request[: len(request) // 2])
    try:
        wait_until(lambda: open_fds(pid) >= fds_before + 995)  # it holds them all (give or take a transient fd)
        started = time.monotonic()
        _assert_up(daemon, pid)
        assert time.monotonic() - started < 2.0
        assert rss_kb(pid) - rss_before < 32 * 1024, "1,000 idle connections cost more than 32 MB"
        # The stalled client can still finish its request and gets its answer.
        stalled.sendall(request[len(request) // 2:])
        assert read_frame(stalled)["ok"] is True
    finally:
        for sock in idle:
            sock.close()
        stalled.close()
    wait_until(lambda: open_fds(pid) <= fds_before + 2)
    assert rss_kb(pid) - rss_before < 32 * 1024


def test_many_stalled_huge_requests_stay_within_the_pending_budget(daemon: Path) -> None:
    """Each client sends 30 MB of a 32 MB request and stalls: the daemon buffers at most its
    budget (256 MiB) across them, refuses the rest with a clear error, and gives the memory
    back when they go (glibc returns such large blocks to the system)."""
    pid = _warm_up(daemon)
    rss_before = rss_kb(pid)
    chunk = b" " * (30 * MB)
    clients, refused = [], 0
    try:
        for _ in range(12):  # 360 MB offered against a 256 MiB budget
            sock = raw_socket(daemon, timeout=30)
            clients.append(sock)
            try:
                sock.sendall(header(wire.MAX_REQUEST - 16) + chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            wait_until(lambda sock=sock: _unread_by_daemon(sock) == 0)
            reply = _pending_reply(sock)
            if reply is not None:
                refused += 1
                assert b"too much unfinished request data" in reply
        peak = rss_kb(pid)
        print(f"pending budget: {refused} refused, daemon RSS {rss_before // 1024} -> {peak // 1024} MB")
        assert refused >= 3
        assert peak - rss_before < (256 + 48) * 1024, f"daemon grew by {(peak - rss_before) // 1024} MB"
        _assert_up(daemon, pid)
    finally:
        for sock in clients:
            sock.close()
    wait_until(lambda: call(daemon, "ping") and open_fds(pid) < 40)
    after = rss_kb(pid)
    print(f"after the stalled clients left: {after // 1024} MB")
    assert after - rss_before < 64 * 1024, "the buffers of departed clients were not given back"


def _unread_by_daemon(sock: socket.socket) -> int:
    """Bytes we sent that the daemon has not read yet (0 once it read them all or hung up)."""
    buffer = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buffer)
    except OSError:
        return 0
    return buffer[0]


def _pending_reply(sock: socket.socket) -> bytes | None:
    """What the daemon said without being asked (a refusal), or None if it is still listening."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) or b"<closed>"
    except BlockingIOError:
        return None
    except ConnectionResetError:
        return b"<reset>"
    finally:
        sock.setblocking(True)


# ---- property-based: the decoder and the daemon's request handling --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_decoder_raises_only_value_error_on_any_bytes(body: bytes) -> None:
    try:
        value = wire.decode(body)
    except ValueError:
        return
    assert isinstance(value, dict)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=4), st.integers(min_value=0, max_value=2 ** 32))
def test_frame_length_accepts_exactly_the_lengths_within_the_limit(head: bytes, limit: int) -> None:
    claimed = int.from_bytes(head, "big")
    try:
        length = wire.frame_length(head, limit)
    except ValueError:
        assert claimed > limit
        return
    assert length == claimed <= limit


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_any_json_object_survives_encode_then_decode(message: dict) -> None:
    encoded = wire.encode(message)
    assert wire.frame_length(encoded[: wire.HEADER], wire.MAX_REPLY) == len(encoded) - wire.HEADER
    assert wire.decode(encoded[wire.HEADER:]) == message


FIELDS = ["command", "cwd", "env", "group", "label", "after", "priority", "stashed", "delay_until", "immediate",
          "timeout", "retries", "origin", "ids", "all", "target", "signal", "name", "parallel", "groups",
          "successful_only", "in_place", "wait", "raw_env", "policy", "all_failed", "failed_in_group",
          "original_command", "session_id", "dag_run", "stdio", "detach"]
COMMANDS = ["ping", "add", "status", "status_pueue", "log_info", "log_pueue", "wait", "watch", "kill", "remove",
            "stash", "enqueue", "start", "pause", "restart", "clean", "group_add", "group_remove", "groups",
            "parallel", "reset", "run", "bogus"]
field_values = st.one_of(json_values, st.sampled_from(["/", "default", "", "KILL", "\0", "a\nb"]),
                         st.lists(st.integers(min_value=-1, max_value=5), max_size=3))
requests = st.fixed_dictionaries(
    {"cmd": st.one_of(st.sampled_from(COMMANDS), json_values)},
    optional={name: field_values for name in FIELDS},
)


@pytest.mark.slow
def test_daemon_answers_any_json_request_with_a_reply_or_a_clear_error(home: Path, runq) -> None:
    # Tasks the fuzzer manages to add run `/bin/true COMMAND`: nothing it generates can execute.
    write_config(home, '[daemon]\nshell = ["/bin/true"]\n')
    assert runq("group").returncode == 0
    pid = daemon_pid(home)

    @settings(max_examples=int(os.environ.get("RUNQ_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=list(HealthCheck))
    @given(requests)
    def check(message: dict) -> None:
        with raw_socket(home) as sock:
            sock.sendall(_frame(message))
            if message.get("cmd") == "signal":
                return
            reply = read_frame(sock)
        assert reply is not None, f"no reply to {message!r}"
        if reply.get("ok") is False:
            _assert_clear_error(reply)
        else:
            assert reply.get("ok") is True, reply
        assert os.path.exists(f"/proc/{pid}")

    check()
    _assert_up(home, pid)
    assert call(home, "status")["groups"]  # the state is still readable


def test_unknown_peer_closing_mid_reply_is_harmless(daemon: Path) -> None:
    """A client that asks for a big streamed answer and hangs up before reading it."""
    pid = daemon_pid(daemon)
    for _ in range(50):
        with raw_socket(daemon) as sock:
            sock.sendall(_frame({"cmd": "status_pueue"}))
            sock.shutdown(socket.SHUT_RDWR)
    _assert_up(daemon, pid)
