"""A loopback OpenAI-compatible chat server: litellm really calls it over HTTP.

Replies are queued (a tool-call turn or a text turn, optionally delayed); every request body is
recorded. When the queue runs out the stub answers 500, so a test never passes by accident.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAIStub", "error", "text", "tool_calls"]


def tool_calls(*calls: tuple[str, dict[str, Any] | str]) -> dict[str, Any]:
    """An assistant turn calling tools: `(name, arguments)` pairs (a str is sent as-is, e.g. bad JSON)."""
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{i}", "type": "function",
         "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
        for i, (name, args) in enumerate(calls)]}


def text(content: str) -> dict[str, Any]:
    """An assistant turn with a final text."""
    return {"role": "assistant", "content": content}


def error(status: int, message: str) -> dict[str, Any]:
    """An error answer; `{authorization}` in `message` is replaced by the request's Authorization header
    (as providers that echo the key they were given do)."""
    return {"__error__": status, "message": message}


class OpenAIStub:
    """`POST /v1/chat/completions` on 127.0.0.1, port 0."""

    def __init__(self) -> None:
        self.replies: list[tuple[dict[str, Any], float]] = []
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                stub.requests.append(body)
                if not stub.replies:
                    self._send(500, {"error": {"message": "stub: no reply queued", "type": "server_error"}})
                    return
                message, delay = stub.replies.pop(0)
                time.sleep(delay)
                if "__error__" in message:
                    echoed = message["message"].replace("{authorization}", self.headers.get("Authorization", ""))
                    self._send(message["__error__"], {"error": {"message": echoed, "type": "invalid_request_error",
                                                                "code": "invalid_api_key"}})
                    return
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                self._send(200, {"id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion",
                                 "created": 1_790_000_000, "model": body.get("model", "stub"),
                                 "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *messages: dict[str, Any], delay: float = 0.0) -> None:
        self.replies += [(m, delay) for m in messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
