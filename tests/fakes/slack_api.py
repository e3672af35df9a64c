"""A local fake of Slack's Web API (and of `response_url` hooks), on 127.0.0.1 port 0.

It records every request whole (method path, parsed body, Authorization header) and answers the
methods the app calls with the shapes Slack uses: `auth.test`, `chat.postMessage` (a new `ts`
each time), `chat.update`, `conversations.open`, `views.open`, `views.publish`,
`usergroups.users.list`, `apps.connections.open`; `/hooks/<anything>` stands in for a command's `response_url`. `fail()`
scripts errors, including a 429 with `Retry-After`. File uploads follow Slack's external flow:
`files.getUploadURLExternal` (needs `filename` and `length`) hands out an upload URL here, the bytes
POSTed to it are kept in `uploads` (file id → bytes), and `files.completeUploadExternal` shares the
uploaded files (`files` JSON, `channel_id`, `thread_ts`); an unknown or never-uploaded file id is
`file_not_found`, a length that differs from the bytes uploaded is `file_upload_size_mismatch`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FakeSlack", "Recorded"]

BOT_USER, BOT_ID, TEAM = "UBOT0001", "BBOT0001", "T0000001"


@dataclass
class Recorded:
    method: str
    """The Web API method (`chat.postMessage`) or the hook path (`/hooks/r1`)."""
    body: dict[str, Any]
    authorization: str | None


class FakeSlack:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.groups: dict[str, list[str]] = {}
        """User group id → member ids, for `usergroups.users.list`."""
        self.socket_url: str | None = None
        """Where `apps.connections.open` sends a Socket Mode app (see `FakeSocketMode`)."""
        self._failures: dict[str, list[tuple[int, str, int | None]]] = {}
        self._lock = threading.Lock()
        self._ts = 1_790_000_000
        self.uploads: dict[str, bytes] = {}
        """File id → the bytes uploaded to its URL."""
        self._expected: dict[str, tuple[str, int]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data_in = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/upload/"):  # the file's bytes, not a Web API call
                    status = fake._upload(self.path.removeprefix("/upload/"), data_in)
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                raw = data_in.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = dict(parse_qsl(raw))
                    for key in ("blocks", "view"):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                status, payload, headers = fake._answer(self.path, body, self.headers.get("Authorization"))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(payload, bytes) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.url}/api/"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hook(self, name: str = "r1") -> str:
        """A `response_url` that lands here."""
        return f"{self.url}/hooks/{name}"

    def fail(self, method: str, error: str, *, status: int = 200, times: int = 1, retry_after: int | None = None
             ) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}` with `status`."""
        self._failures.setdefault(method, []).extend([(status, error, retry_after)] * times)

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> list[Recorded]:
        """Poll until `predicate(requests)` holds (the app answers on worker threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.requests)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.005)
        raise AssertionError(f"timed out; Slack saw {[r.method for r in self.requests]}")

    def _upload(self, file_id: str, data: bytes) -> int:
        with self._lock:
            self.requests.append(Recorded(f"upload:{file_id}", {"length": len(data)}, None))
            if file_id not in self._expected:
                return 404
            self.uploads[file_id] = data
            return 200

    def _files(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            if not body.get("filename") or not str(body.get("length", "")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            with self._lock:
                file_id = f"F{len(self._expected) + 1:08d}"
                self._expected[file_id] = (str(body["filename"]), int(body["length"]))
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        files = body.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        shared = []
        with self._lock:
            for entry in files:
                file_id = entry.get("id")
                if file_id not in self.uploads:
                    return {"ok": False, "error": "file_not_found"}
                if len(self.uploads[file_id]) != self._expected[file_id][1]:
                    return {"ok": False, "error": "file_upload_size_mismatch"}
                shared.append({"id": file_id, "name": self._expected[file_id][0], "title": entry.get("title")})
        return {"ok": True, "files": shared}

    def _answer(self, path: str, body: dict[str, Any], auth: str | None
                ) -> tuple[int, dict[str, Any] | bytes, dict[str, str]]:
        method = path.removeprefix("/api/") if path.startswith("/api/") else path
        with self._lock:
            self.requests.append(Recorded(method, body, auth))
            queued = self._failures.get(method)
            if queued:
                status, error, retry_after = queued.pop(0)
                return status, {"ok": False, "error": error}, {"Retry-After": str(retry_after)} if retry_after else {}
            self._ts += 1
            ts = f"{self._ts}.000100"
        if method.startswith("/hooks/"):
            return 200, b"ok", {}
        if method == "apps.connections.open":  # Socket Mode: takes the app-level token
            if auth != "Bearer xapp-test" or not self.socket_url:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        if auth != "Bearer xoxb-test":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "team": "Acme Test",
                          "user": "billing-copilot", "url": "https://acme-test.slack.com/"},
            "chat.postMessage": {"ok": True, "channel": body.get("channel"), "ts": ts,
                                 "message": {"ts": ts, "text": body.get("text")}},
            "chat.update": {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text")},
            "conversations.open": {"ok": True, "channel": {"id": "D" + str(body.get("users", "U"))[1:]}},
            "views.open": {"ok": True, "view": {"id": "V0001"}},
            "views.publish": {"ok": True, "view": {"id": "V0002"}},
            "usergroups.users.list": {"ok": True, "users": self.groups.get(str(body.get("usergroup")), [])},
        }
        if method in ("files.getUploadURLExternal", "files.completeUploadExternal"):
            return 200, self._files(method, body), {}
        return 200, answers.get(method, {"ok": True}), {}
