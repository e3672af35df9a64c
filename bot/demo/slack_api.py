"""A local fake of Slack's Web API (and of `response_url` hooks) on 127.0.0.1: the demo's Slack, and the tests'.

It records every request whole (method path, parsed body, Authorization header) and answers the
methods the app calls with the shapes Slack uses: `auth.test`, `chat.postMessage` (a new `ts`
each time), `chat.postEphemeral`, `chat.update`, `conversations.open`, `views.open`, `views.update`,
`views.publish`, `usergroups.users.list`, `assistant.threads.setStatus`, `apps.connections.open`, and file uploads
(`files.getUploadURLExternal`, the upload itself, `files.completeUploadExternal`; `GET /files/<id>/<name>`
serves them back);
`/hooks/<anything>` stands in for a command's or a click's `response_url`. `fail()` scripts errors,
including a 429 with `Retry-After`.

Besides the record, it keeps what a Slack client would show (`Workspace`): messages per channel with
their threads and in-place updates, ephemeral messages, each user's App Home and open modal, and
the status chip of agent threads. `bot.demo.server` renders that state in the browser; `version`
grows with every change, so the page polls cheaply.

Exceptions: none of its own; a malformed request body answers 400 (as Slack's `invalid_form_data`).
"""

from __future__ import annotations

import copy
import json
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["BOT_ID", "BOT_USER", "TEAM", "FakeSlack", "Hook", "Recorded", "Workspace", "dm_of"]

BOT_USER, BOT_ID, TEAM = "UBOT0001", "BBOT0001", "T0000001"
MAX_BODY = 1024 * 1024


def dm_of(user: str) -> str:
    """The DM channel id of the app with `user` (as `conversations.open` answers it)."""
    return "D" + user[1:]


@dataclass
class Recorded:
    method: str
    """The Web API method (`chat.postMessage`) or the hook path (`/hooks/r1`)."""
    body: dict[str, Any]
    authorization: str | None


@dataclass
class Hook:
    """Who a `response_url` answers: the user, the channel, and the message clicked (if any)."""

    user: str
    channel: str
    message_ts: str | None = None
    ephemeral: bool = False


@dataclass
class Workspace:
    """What the Slack clients would show; every change bumps `version` (under the fake's lock)."""

    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    modals: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    """`<channel>/<thread_ts>` → the status chip's text."""
    version: int = 0

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({"messages": self.messages, "homes": self.homes, "modals": self.modals,
                              "statuses": self.statuses, "version": self.version})


class FakeSlack:
    def __init__(self, token: str = "xoxb-test", app_token: str = "xapp-test") -> None:
        self.token, self.app_token = token, app_token
        self.requests: list[Recorded] = []
        self.groups: dict[str, list[str]] = {}
        """User group id → member ids, for `usergroups.users.list`."""
        self.socket_url: str | None = None
        """Where `apps.connections.open` sends a Socket Mode app (see `FakeSocketMode`)."""
        self.workspace = Workspace()
        self.hooks: dict[str, Hook] = {}
        """`response_url` name → who it answers (registered by the demo; unknown hooks are only recorded)."""
        self.triggers: dict[str, str] = {}
        """`trigger_id` → the user whose action made it (registered by the demo), for `views.open`."""
        self.files: dict[str, dict[str, Any]] = {}
        """Uploaded files by id: name, title, mimetype, content (bytes)."""
        self.changed = threading.Condition()
        self._failures: dict[str, list[tuple[int, str, int | None]]] = {}
        self._lock = threading.RLock()
        self._ts = 1_790_000_000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_error(413)
                    return
                if self.path.startswith("/upload/"):  # step 2 of an upload: the raw bytes
                    found = fake.files.get(self.path.removeprefix("/upload/"))
                    if found is None:
                        self.send_error(404)
                        return
                    found["content"] = self.rfile.read(length)
                    self._send(200, f"OK - {length}".encode(), "text/plain")
                    return
                raw = self.rfile.read(length).decode(errors="replace")
                try:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        body = json.loads(raw or "{}")
                    else:
                        body = dict(parse_qsl(raw))
                        for key in ("blocks", "view", "attachments"):
                            if isinstance(body.get(key), str):
                                body[key] = json.loads(body[key])
                except ValueError:
                    self.send_error(400)
                    return
                status, payload, headers = fake._answer(self.path, body, self.headers.get("Authorization"))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(payload, bytes) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = self.path.split("/")  # /files/<id>/<name>
                found = fake.files.get(parts[2]) if len(parts) == 4 and parts[1] == "files" else None
                if found is None or "content" not in found:
                    self.send_error(404)
                    return
                self._send(200, found["content"], found["mimetype"])

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
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

    # -- the workspace (what people see) ------------------------------------------------------------

    def next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{self._ts}.000100"

    def say(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> str:
        """A person's message in `channel` (the demo's composer); returns its ts."""
        ts = self.next_ts()
        self._post({"channel": channel, "text": text, "thread_ts": thread_ts}, ts, user=user)
        return ts

    def find(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            return next((m for m in self.workspace.messages.get(channel, []) if m["ts"] == ts), None)

    def reset(self) -> None:
        """Forget everything people see (the record of requests stays)."""
        with self._lock:
            version = self.workspace.version
            self.workspace = Workspace(version=version + 1)
            self.hooks.clear()
            self.triggers.clear()
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            self.workspace.version += 1
        with self.changed:
            self.changed.notify_all()

    def _post(self, body: dict[str, Any], ts: str, *, user: str = BOT_USER, ephemeral_for: str | None = None
              ) -> str:
        channel = str(body.get("channel") or "")
        if channel[:1] in ("U", "W"):  # posting to a user id lands in the app's DM with them
            channel = dm_of(channel)
        thread = body.get("thread_ts") or None
        message = {"ts": ts, "user": user, "text": body.get("text") or "", "blocks": body.get("blocks") or [],
                   "thread_ts": thread, "files": body.get("files") or [], "ephemeral_for": ephemeral_for,
                   "edited": False}
        with self._lock:
            self.workspace.messages.setdefault(channel, []).append(message)
            if user == BOT_USER and thread:  # the app replied: Slack clears the thread's status chip
                self.workspace.statuses.pop(f"{channel}/{thread}", None)
        self._changed()
        return channel

    def _update(self, channel: str, ts: str, body: dict[str, Any]) -> bool:
        with self._lock:
            message = self.find(channel, ts)
            if message is None:
                return False
            if "text" in body:
                message["text"] = body.get("text") or ""
            if "blocks" in body:
                message["blocks"] = body.get("blocks") or []
            message["edited"] = True
        self._changed()
        return True

    def _hooked(self, name: str, body: dict[str, Any]) -> None:
        """A `response_url` call: an ephemeral reply, an in-channel one, or a replacement of the clicked message."""
        hook = self.hooks.get(name)
        if hook is None:
            return
        if body.get("delete_original") and hook.message_ts:
            with self._lock:
                messages = self.workspace.messages.get(hook.channel, [])
                messages[:] = [m for m in messages if m["ts"] != hook.message_ts]
            self._changed()
            return
        if body.get("replace_original") and hook.message_ts and self.find(hook.channel, hook.message_ts):
            self._update(hook.channel, hook.message_ts, {"text": body.get("text"), "blocks": body.get("blocks")})
            return
        in_channel = body.get("response_type") == "in_channel"
        self._post({**body, "channel": hook.channel, "thread_ts": body.get("thread_ts")}, self.next_ts(),
                   ephemeral_for=None if in_channel else hook.user)

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
            self._hooked(method.removeprefix("/hooks/"), body)
            return 200, b"ok", {}
        if method == "apps.connections.open":  # Socket Mode: takes the app-level token
            if auth != f"Bearer {self.app_token}" or not self.socket_url:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        return 200, self._method(method, body, ts), {}

    def _method(self, method: str, body: dict[str, Any], ts: str) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "team": "Acme Test",
                    "user": "billing-copilot", "url": "https://acme-test.slack.com/"}
        if method == "chat.postMessage":
            channel = self._post(body, ts)
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": body.get("text")}}
        if method == "chat.postEphemeral":
            self._post(body, ts, ephemeral_for=str(body.get("user") or ""))
            return {"ok": True, "message_ts": ts}
        if method == "chat.update":
            channel, target = str(body.get("channel") or ""), str(body.get("ts") or "")
            self._update(channel, target, body)  # an unknown ts is answered ok, as before (tests post none)
            return {"ok": True, "channel": channel, "ts": target, "text": body.get("text")}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": dm_of(str(body.get("users", "U")))}}
        if method in ("views.open", "views.push"):
            user = self.triggers.get(str(body.get("trigger_id")))
            view = {**(body.get("view") or {}), "id": f"V{ts.replace('.', '')}"}
            if user:
                with self._lock:
                    self.workspace.modals[user] = view
                self._changed()
            return {"ok": True, "view": {"id": "V0001"} if not user else view}
        if method == "views.update":
            with self._lock:
                owner = next((u for u, v in self.workspace.modals.items() if v["id"] == body.get("view_id")), None)
                if owner:
                    self.workspace.modals[owner] = {**(body.get("view") or {}), "id": body.get("view_id")}
            if owner:
                self._changed()
            return {"ok": True, "view": body.get("view") or {}}
        if method == "views.publish":
            user = str(body.get("user_id") or "")
            with self._lock:
                self.workspace.homes[user] = body.get("view") or {}
            self._changed()
            return {"ok": True, "view": {"id": "V0002"}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.groups.get(str(body.get("usergroup")), [])}
        if method == "files.getUploadURLExternal":
            file_id = f"F{ts.replace('.', '')}"
            name = str(body.get("filename") or "file").replace("/", "_")[:200]
            with self._lock:
                self.files[file_id] = {"name": name, "title": name,
                                       "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream"}
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            listed = body.get("files")
            listed = json.loads(listed) if isinstance(listed, str) else listed or []
            shared = []
            for item in listed:
                found = self.files.get(str(item.get("id")))
                if found is None or "content" not in found:
                    return {"ok": False, "error": "file_not_found"}
                found["title"] = item.get("title") or found["name"]
                url = f"{self.url}/files/{item['id']}/{found['name']}"
                shared.append({"id": item["id"], "name": found["name"], "title": found["title"],
                               "mimetype": found["mimetype"], "url_private": url})
            if body.get("channel_id"):
                self._post({"channel": body["channel_id"], "thread_ts": body.get("thread_ts"),
                            "text": body.get("initial_comment") or "", "files": shared}, ts)
            return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}
        if method == "assistant.threads.setStatus":
            key = f"{body.get('channel_id')}/{body.get('thread_ts')}"
            with self._lock:
                if body.get("status"):
                    self.workspace.statuses[key] = str(body["status"])
                else:
                    self.workspace.statuses.pop(key, None)
            self._changed()
            return {"ok": True}
        return {"ok": True}
