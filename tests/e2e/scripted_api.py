"""A scripted Anthropic Messages API on 127.0.0.1 that makes Claude Code call Bash.

Each `claude -p` run gets a script: a list of shell commands. For every streamed
`POST /v1/messages` of the agent loop, the server answers with a `tool_use` block that runs the
next command through the Bash tool, and with a short `end_turn` text once the script is done.
The `tool_result` Claude Code sends back for each call is recorded, so a test can compare what
the model would have seen with and without the hook.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    command: str
    content: str
    is_error: bool


@dataclass
class Script:
    commands: list[str]
    results: list[ToolResult] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # tool_use_id -> command
    requests: int = 0


class ScriptedApi:
    """Start with `with ScriptedApi() as api:`; set `api.script` before each claude run."""

    def __init__(self) -> None:
        self.script = Script([])
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self.do_HEAD()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
                    self._send_json({"input_tokens": 10} if "count_tokens" in self.path else {})
                    return
                message = api.answer(body)
                if body.get("stream"):
                    self._send_stream(message)
                else:
                    self._send_json(message)

            def _send_json(self, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _send_stream(self, message: dict) -> None:
                raw = b"".join(_sse(event, data) for event, data in _events(message))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, body: dict) -> dict:
        with self._lock:
            script = self.script
            script.requests += 1
            tools = [tool.get("name") for tool in body.get("tools") or []]
            self._collect_results(script, body.get("messages") or [])
            model = body.get("model", "claude-scripted")
            if "Bash" not in tools:
                return _message(model, [{"type": "text", "text": "ok"}], "end_turn")
            done = {result.tool_use_id for result in script.results}
            if len(done) < len(script.issued):
                # a request that repeats an earlier turn (a retry): answer it the same way
                pending = next(i for i in script.issued if i not in done)
                return _tool_use(model, pending, script.issued[pending])
            if len(script.issued) < len(script.commands):
                tool_use_id = f"toolu_scripted_{next(self._ids):06d}"
                command = script.commands[len(script.issued)]
                script.issued[tool_use_id] = command
                return _tool_use(model, tool_use_id, command)
            return _message(model, [{"type": "text", "text": "All commands ran."}], "end_turn")

    @staticmethod
    def _collect_results(script: Script, messages: list) -> None:
        known = {result.tool_use_id for result in script.results}
        for message in messages:
            if message.get("role") != "user" or not isinstance(message.get("content"), list):
                continue
            for block in message["content"]:
                if block.get("type") != "tool_result" or block.get("tool_use_id") in known:
                    continue
                tool_use_id = block["tool_use_id"]
                script.results.append(ToolResult(tool_use_id, script.issued.get(tool_use_id, ""),
                                                 _text(block.get("content")), bool(block.get("is_error"))))
                known.add(tool_use_id)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _tool_use(model: str, tool_use_id: str, command: str) -> dict:
    block = {"type": "tool_use", "id": tool_use_id, "name": "Bash",
             "input": {"command": command, "description": "scripted command"}}
    return _message(model, [block], "tool_use")


def _message(model: str, content: list, stop_reason: str) -> dict:
    return {"id": "msg_scripted", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5}}


def _events(message: dict) -> Iterator[tuple[str, dict]]:
    start = {**message, "content": [], "stop_reason": None}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "input_json_delta",
                                                    "partial_json": json.dumps(block["input"])}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": block["text"]}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                               "stop_sequence": None},
                            "usage": {"output_tokens": 5}}
    yield "message_stop", {"type": "message_stop"}


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
