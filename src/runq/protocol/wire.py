"""Framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).

Requests are objects with a "cmd" key. Replies are objects with "ok": true plus fields, or
"ok": false plus "error" (one line). Streaming commands send several reply frames; the last
one has "done": true. A reply may announce raw bytes ("raw": true): they follow as frames of
at most RAW_CHUNK bytes each, ended by an empty frame, so large outputs never need one
huge buffer on either side.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from runq.protocol import fastjson

HEADER = 4
MAX_REQUEST = 32 * 1024 * 1024  # a 1 MB command plus a large environment fits many times over
MAX_REPLY = 256 * 1024 * 1024
RAW_CHUNK = 4 * 1024 * 1024


def encode(message: dict) -> bytes:
    body = fastjson.dumps(message).encode("utf-8", "surrogatepass")
    return len(body).to_bytes(HEADER, "big") + body


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(HEADER, "big") + body


def frame_length(header: bytes | bytearray, limit: int) -> int:
    length = int.from_bytes(header, "big")
    if length > limit:
        raise ValueError(f"frame of {length} bytes exceeds the limit of {limit}")
    return length


def decode(body: bytes | bytearray) -> dict[str, Any]:
    """Decode one request or reply body; anything but a JSON object is a ValueError."""
    try:
        text = body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ValueError(f"frame is not UTF-8: {exc.reason}") from None
    try:
        value = fastjson.loads(text)
    except RecursionError:
        # `[[[[...` nested deeper than the interpreter's stack: a RuntimeError, not a ValueError,
        # which the daemon would not answer (and would treat as an internal failure).
        raise ValueError("frame nests too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("frame is not a JSON object")
    return value
