"""The demo process: the real app, the fake Slack Web API and the page, on one local port.

`Demo` builds the app exactly as `serve` does (`bot.app.build`, `slack_app`, `wsgi`) on the embedded
sandbox and a throwaway database, pointed at `FakeSlack` (`bot.demo.slack_api`). Everything the page
does becomes what Slack or Zuora would send: a signed request to the app's own `/slack/events`
(commands, mentions, DMs, clicks, modal submissions, App Home opened) or a Basic-authenticated
callout to `/zuora/callouts` (a declined payment, a completed bill run), over HTTP. What the app
answers through the Web API lands in the fake's `Workspace`, which the page long-polls.

Routes: `GET /` the page; `GET /demo/state?since=N` (waits up to 15 s for a change);
`POST /demo/{send,click,submit,close,open,simulate,reset}` (JSON); the app's own routes
(`/slack/events`, `/zuora/callouts`, `/healthz`) pass through.

Exceptions: `DemoError` (a request from the page that cannot be done: unknown user, channel or
message; answered 400 with its message). Failures of the app itself show as they would in Slack.

The cast (users, channels, approval rules) is in `cast`, the page's HTTP side in `page`, the
simulated Zuora events in `callouts`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.demo.callouts import billrun_body, card_accounts, decline_body
from bot.demo.cast import APPROVERS, CALLOUT_USER, CHANNELS, GROUP_NAMES, GROUPS, TIERS, TOKEN, USERS
from bot.demo.errors import DemoError
from bot.demo.page import page_wsgi
from bot.demo.slack_api import BOT_USER, TEAM, FakeSlack, Hook, dm_of

__all__ = ["Demo", "DemoError"]

log = logging.getLogger(__name__)
_APP_ROUTES = ("/slack/events", "/zuora/callouts", "/healthz")


class Demo:
    """The app, the fake Slack and the page; `start()` then `url`; `close()` stops it all and deletes the data."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 3000, sandbox: Callable[[], Any] | None = None,
                 **settings: Any) -> None:
        """`sandbox` makes the Zuora sandbox (at start and at each reset; tests inject latency); `settings`
        override the demo's (e.g. `llm_model`)."""
        import waitress

        self._extra = settings
        self._sandbox = sandbox
        self.slack = FakeSlack(token=TOKEN).start()
        self.slack.groups.update({k: list(v) for k, v in GROUPS.items()})
        self.secret = secrets.token_hex(16)
        self.callout_password = secrets.token_urlsafe(18)
        self.dir = Path(tempfile.mkdtemp(prefix="billing-copilot-demo-"))
        self._generation = 0
        self._n = 0
        self._lock = threading.Lock()
        self.services: Any = None
        self._app: Any = None
        self._boot()
        self.server: Any = waitress.create_server(self.wsgi, host=host, port=port, threads=16,
                                                  ident="billing-copilot-demo", asyncore_loop_timeout=0.05)
        self.port = int(self.server.effective_port)
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60, trust_env=False)
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def _boot(self) -> None:
        from bot.app import build, slack_app, wsgi
        from bot.config import load_settings

        self._generation += 1
        options: dict[str, Any] = {
            "slack_bot_token": TOKEN, "slack_signing_secret": self.secret, "slack_api_url": self.slack.api_url,
            "database_path": self.dir / f"demo-{self._generation}.db", "database_url": None,  # never a real database
            "zuora_base_url": None,
            "approvers": APPROVERS, "approval_tiers": TIERS, "collections_channel": "C0COLLECT",
            "zuora_callout_username": CALLOUT_USER, "zuora_callout_password": self.callout_password,
            "billrun_poll_seconds": 0, "shutdown_grace_seconds": 2, **self._extra}
        services = build(load_settings(**options), sandbox=self._sandbox() if self._sandbox else None)
        app = slack_app(services)
        services.subscribers.subscribe("U0FINANCE1", TEAM)  # finance gets the bill-run DMs
        self.services, self._app = services, wsgi(services, app)

    def start(self) -> Demo:
        """Serve in a background thread (`run()` serves in this one)."""
        self._thread = threading.Thread(target=self.server.run, name="demo-http", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        self.server.run()

    def close(self) -> None:
        from waitress import wasyncore

        self._closing = True  # the page's long polls return at once
        with self.slack.changed:
            self.slack.changed.notify_all()
        server = self.server
        try:  # close the sockets from inside waitress's loop (closing them from here races its select())
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:  # the loop already closed its trigger
            wasyncore.close_all(server._map)
        if self._thread is not None:
            self._thread.join(5)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
        self.http.close()
        self.services.close(2.0)
        self.slack.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def reset(self) -> None:
        """A fresh sandbox, database and workspace (the same URL and users)."""
        with self._lock:
            old = self.services
            self._boot()
            self.slack.reset()
        old.close(1.0)

    # -- what people do -------------------------------------------------------------------------------

    def _next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def _trigger(self, user: str) -> str:
        trigger = f"{self._next()}.{uuid.uuid4().hex[:12]}"  # fresh each time: the app refuses replays
        self.slack.triggers[trigger] = user
        return trigger

    def _signed(self, body: str, content_type: str) -> httpx.Response:
        ts = str(int(time.time()))
        digest = hmac.new(self.secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return self.http.post("/slack/events", content=body.encode(), headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"})

    def _event(self, event: dict[str, Any]) -> httpx.Response:
        body = json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A0DEMO", "type": "event_callback",
                           "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}", "event_time": int(time.time()),
                           "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
                           "event": event})
        return self._signed(body, "application/json")

    def _payload(self, payload: dict[str, Any]) -> httpx.Response:
        return self._signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    @staticmethod
    def _user(user: str) -> str:
        if not any(u["id"] == user for u in USERS):
            raise DemoError(f"unknown user {user!r}")
        return user

    @staticmethod
    def _channel(channel: str, user: str) -> str:
        if channel != dm_of(user) and not any(c["id"] == channel for c in CHANNELS):
            raise DemoError(f"unknown channel {channel!r}")
        return channel

    def send(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
        """The composer: `/billing …` (a command), a mention of @billing-copilot, a DM, or plain chat."""
        user, text = self._user(user), text.strip()[:4000]
        channel = self._channel(channel, user)
        if not text:
            raise DemoError("nothing to send")
        if text.startswith("/billing"):
            if thread_ts:
                raise DemoError("/billing is not supported in threads (as in Slack): mention @billing-copilot")
            name = f"c{self._next()}"
            self.slack.hooks[name] = Hook(user, channel)
            form = {"token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": channel,
                    "channel_name": self._name(channel), "user_id": user, "user_name": user.lower(),
                    "command": "/billing", "text": text[len("/billing"):].strip(), "api_app_id": "A0DEMO",
                    "response_url": self.slack.hook(name), "trigger_id": self._trigger(user)}
            response = self._signed(urlencode(form), "application/x-www-form-urlencoded")
            self._ephemeral_ack(response, user, channel)
            return {"status": response.status_code}
        ts = self.slack.say(channel, user, text, thread_ts=thread_ts)
        mention = "@billing-copilot" in text or f"<@{BOT_USER}>" in text
        event: dict[str, Any] = {"user": user, "text": text.replace("@billing-copilot", f"<@{BOT_USER}>"),
                                 "ts": ts, "channel": channel, "event_ts": ts, "team": TEAM}
        if thread_ts:
            event["thread_ts"] = thread_ts
        if channel.startswith("D"):
            response = self._event({**event, "type": "message", "channel_type": "im"})
        elif mention:
            response = self._event({**event, "type": "app_mention"})
        else:
            return {"status": 200, "ts": ts}
        return {"status": response.status_code, "ts": ts}

    def _ephemeral_ack(self, response: httpx.Response, user: str, channel: str) -> None:
        """What the app put in its ack (a command's or a click's immediate answer) shows only to `user`."""
        if not response.content:
            return
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            self.slack._post({"channel": channel, "text": body.get("text"), "blocks": body.get("blocks")},
                             self.slack.next_ts(), ephemeral_for=user)

    def click(self, user: str, action: dict[str, Any], *, channel: str | None = None, ts: str | None = None,
              surface: str = "message") -> dict[str, Any]:
        """A button, overflow or select in a message (or App Home): a signed `block_actions` payload."""
        user = self._user(user)
        act = {k: action[k] for k in ("type", "action_id", "block_id", "value", "selected_option") if k in action}
        act["action_ts"] = f"{time.time():.6f}"
        payload: dict[str, Any] = {"type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
                                   "user": {"id": user, "team_id": TEAM, "username": user.lower()},
                                   "api_app_id": "A0DEMO", "token": "legacy", "trigger_id": self._trigger(user),
                                   "actions": [act]}
        if surface == "home":
            view = self.slack.workspace.homes.get(user) or {}
            payload.update(container={"type": "view", "view_id": view.get("id", "VHOME")},
                           view={**view, "type": "home", "id": view.get("id", "VHOME")})
        elif surface == "modal":
            view = self.slack.workspace.modals.get(user) or {}
            payload.update(container={"type": "view", "view_id": view.get("id")}, view=view)
        else:
            channel = self._channel(channel or "", user)
            message = self.slack.find(channel, ts or "")
            if message is None:
                raise DemoError("that message is gone")
            ephemeral = bool(message["ephemeral_for"])
            name = f"a{self._next()}"
            self.slack.hooks[name] = Hook(user, channel, message_ts=message["ts"], ephemeral=ephemeral)
            payload.update(container={"type": "message", "channel_id": channel, "is_ephemeral": ephemeral,
                                      "message_ts": message["ts"], **({"thread_ts": message["thread_ts"]}
                                                                      if message["thread_ts"] else {})},
                           channel={"id": channel, "name": self._name(channel)},
                           response_url=self.slack.hook(name))
            if not ephemeral:
                payload["message"] = {"type": "message", "ts": message["ts"], "text": message["text"],
                                      "blocks": message["blocks"], "user": message["user"],
                                      **({"thread_ts": message["thread_ts"]} if message["thread_ts"] else {})}
        response = self._payload(payload)
        if channel:
            self._ephemeral_ack(response, user, channel)
        return {"status": response.status_code}

    def submit(self, user: str, values: dict[str, dict[str, str]]) -> dict[str, Any]:
        """The open modal submitted; the app's inline errors come back (the modal stays open) or it closes."""
        user = self._user(user)
        view = self.slack.workspace.modals.get(user)
        if view is None:
            raise DemoError("no modal is open")
        state = {block: {action: {"type": "plain_text_input", "value": value} for action, value in actions.items()}
                 for block, actions in values.items()}
        payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "acme"},
                   "user": {"id": user, "team_id": TEAM, "username": user.lower()}, "api_app_id": "A0DEMO",
                   "token": "legacy", "trigger_id": self._trigger(user),
                   "view": {**view, "state": {"values": state}, "team_id": TEAM}}
        response = self._payload(payload)
        answer: dict[str, Any] = {}
        if response.content:
            try:
                answer = response.json()
            except ValueError:
                answer = {}
        if response.status_code == 200 and answer.get("response_action") == "errors":
            return {"status": 200, "errors": answer.get("errors") or {}}
        with self.slack._lock:
            if answer.get("response_action") == "update" and answer.get("view"):
                self.slack.workspace.modals[user] = {**answer["view"], "id": view["id"]}
            else:
                self.slack.workspace.modals.pop(user, None)
        self.slack._changed()
        return {"status": response.status_code, "errors": {}}

    def close_modal(self, user: str) -> None:
        with self.slack._lock:
            self.slack.workspace.modals.pop(self._user(user), None)
        self.slack._changed()

    def open_tab(self, user: str, tab: str) -> dict[str, Any]:
        """The user opened the app's Home or Messages tab: `app_home_opened`."""
        user = self._user(user)
        if tab not in ("home", "messages"):
            raise DemoError(f"unknown tab {tab!r}")
        response = self._event({"type": "app_home_opened", "user": user, "channel": dm_of(user), "tab": tab,
                                "event_ts": f"{time.time():.6f}"})
        return {"status": response.status_code}

    def _name(self, channel: str) -> str:
        return next((c["name"] for c in CHANNELS if c["id"] == channel), "directmessage")

    # -- Zuora's events -------------------------------------------------------------------------------

    def accounts(self) -> list[dict[str, str]]:
        """Accounts a declined payment can be simulated for (they pay by card)."""
        return card_accounts(self.services.sandbox.tenant)

    def simulate(self, kind: str, account: str | None = None) -> dict[str, Any]:
        """A Zuora callout, as Zuora sends it (Basic auth): `decline` for `account`, or `billrun`."""
        sandbox = self.services.sandbox
        if kind == "decline":
            body = decline_body(sandbox, account)
        elif kind == "billrun":
            body = billrun_body(sandbox.tenant)
        else:
            raise DemoError(f"unknown event {kind!r}")
        response = self.http.post("/zuora/callouts", json=body, auth=(CALLOUT_USER, self.callout_password),
                                  headers={"Zuora-Notification-Id": uuid.uuid4().hex,
                                           "Zuora-Request-Id": uuid.uuid4().hex})
        return {"status": response.status_code, "body": response.json()}

    # -- the page's HTTP side -------------------------------------------------------------------------

    def state(self, since: int, wait: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        with self.slack.changed:
            while self.slack.workspace.version <= since and time.monotonic() < deadline and not self._closing:
                self.slack.changed.wait(max(0.0, deadline - time.monotonic()))
        return self.slack.workspace.snapshot()

    def config(self) -> dict[str, Any]:
        return {"users": USERS, "channels": CHANNELS, "groups": GROUP_NAMES, "bot": BOT_USER,
                "accounts": self.accounts(), "llm": bool(self.services.settings.llm_model)}

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in _APP_ROUTES:
            return self._app(environ, start_response)
        return page_wsgi(self, environ, start_response)
