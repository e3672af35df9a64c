"""`ZuoraSandbox`: an emulator of the Zuora REST surface the bot uses, usable in-process as an
`httpx.MockTransport` handler (`sandbox.handle`) and over HTTP (`server.py`).

Cross-cutting behaviour, as Zuora does it:
- bearer tokens from `POST /oauth/token`; anything else without one → 401 `{"message": …}`;
- errors as `{success: false, processId, reasons[{code, message}]}` on v1, `{reasons, requestId}` on
  Object Query; HTTP 200 for v1 errors when `Zuora-Version` is before 2024-05-20 (or a legacy number),
  else the status of the reason's category;
- `Zuora-Request-Id` on every response, `Zuora-Track-Id` echoed, `RateLimit-*` headers;
- Idempotency-Key on POST/PATCH: the first response (success or failure) is stored for 24 h and
  replayed for the same key; 409 while the first request is in flight; 422 when the key comes back
  on another path or method. A different body with the same key gets the stored response too.

Test hooks: `requests` (every request received, in order), `inject()` (latency, scripted statuses,
timeouts, 429 with `RateLimit-Reset`, per route), `revoke_tokens()`, injected `clock` and `sleep`.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from bot.sandbox import routes as _routes  # noqa: F401  (registers the handlers)
from bot.sandbox.dataquery import result_of
from bot.sandbox.errors import SandboxError
from bot.sandbox.render import json_bytes
from bot.sandbox.routing import ROUTES, Call, Reply
from bot.sandbox.seed import DEMO_TODAY, build_demo_tenant
from bot.sandbox.state import Tenant

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "SANDBOX_URL", "LoggedRequest", "ZuoraSandbox"]

SANDBOX_URL = "https://sandbox.zuora.test"
DEMO_CLIENT_ID = "billing-copilot-demo-000000000000001"  # 36 characters, as the SDK requires
DEMO_CLIENT_SECRET = "demo-secret-do-not-use-in-production"
TOKEN_LIFETIME_S = 3599
IDEMPOTENCY_TTL_S = 24 * 3600
_CATEGORY_STATUS = {10: 403, 11: 401, 20: 400, 21: 400, 22: 400, 23: 400, 27: 400, 30: 400, 40: 404, 45: 405,
                    50: 409, 60: 500, 61: 500, 70: 429, 90: 400, 99: 500}


@dataclass(frozen=True)
class LoggedRequest:
    """A request the sandbox received, for assertions on counts, order and headers."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Fault:
    """Scripted trouble on matching requests: latency, then statuses consumed one per request."""

    method: str
    pattern: str
    statuses: deque[int | str] = field(default_factory=deque)
    latency: float = 0.0
    reset: int | None = None
    after: bool = False
    """Run the request, then replace its response (a lost answer): the write has happened."""

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and fnmatch.fnmatchcase(path, self.pattern)


@dataclass
class _Stored:
    method: str
    path: str
    created: float
    response: tuple[int, bytes] | None = None


class ZuoraSandbox:
    """The emulator; see the module docstring. Thread-safe."""

    def __init__(
        self,
        *,
        tenant: Tenant | None = None,
        today: date = DEMO_TODAY,
        seed: int = 7,
        clock: Any = time.time,
        sleep: Any = time.sleep,
        default_version: str = "186.0",
        replay_as_conflict: bool = False,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
    ) -> None:
        self.tenant = tenant or build_demo_tenant(today=today, seed=seed)
        self._clock, self._sleep = clock, sleep
        self.default_version = default_version
        self.replay_as_conflict = replay_as_conflict
        self.client_id, self.client_secret = client_id, client_secret
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self._tokens: dict[str, float] = {}
        self._idempotency: dict[str, _Stored] = {}
        self._lock = threading.RLock()
        self._meta_lock = threading.Lock()
        self._counter = 0

    # -- test hooks --------------------------------------------------------------------------------

    def inject(self, path: str, *, method: str = "*", statuses: list[int | str] | None = None,
               latency: float = 0.0, reset: int | None = None, after: bool = False) -> Fault:
        """Script trouble for requests whose path matches the glob `path` (e.g. `/v1/invoices/*`).

        `statuses` are answered one per request, in order, then requests pass again; a status may be
        `"timeout"` (the client sees a read timeout). `reset` adds `RateLimit-Reset` and `Retry-After`
        to 429s. `after=True` processes the request before answering with the scripted status.
        """
        fault = Fault(method.upper(), path, deque(statuses or []), latency, reset, after)
        with self._meta_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._meta_lock:
            self.faults.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next API call gets a 401)."""
        with self._meta_lock:
            self._tokens.clear()

    def requests_to(self, pattern: str, method: str = "*") -> list[LoggedRequest]:
        """Logged requests whose path matches the glob `pattern`."""
        return [r for r in self.requests if method in ("*", r.method) and fnmatch.fnmatchcase(r.path, pattern)]

    # -- the handler -------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the `httpx.MockTransport` handler signature)."""
        method = request.method.upper()
        path = unquote(request.url.path)
        params = [(unquote(k), v) for k, v in parse_qsl(request.url.query.decode(), keep_blank_values=True)]
        body = request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._meta_lock:
            self._counter += 1
            request_id = uuid.UUID(int=self._counter).hex
            self.requests.append(LoggedRequest(method, path, tuple(params), headers, body, self._clock()))
            faults = [f for f in self.faults if f.matches(method, path)]
        out_headers = {"Zuora-Request-Id": request_id, "Content-Type": "application/json; charset=utf-8",
                       "RateLimit-Limit": "2500, 2500;w=60, 5000;w=3600, 10000;w=86400",
                       "RateLimit-Remaining": "2400", "RateLimit-Reset": "60"}
        if "zuora-track-id" in headers:
            out_headers["Zuora-Track-Id"] = headers["zuora-track-id"]

        scripted: int | str | None = None
        after, reset = False, None
        latency = sum(f.latency for f in faults)
        for fault in faults:
            with self._meta_lock:
                if fault.statuses and scripted is None:
                    scripted = fault.statuses.popleft()
                    after = fault.after
                    reset = fault.reset
        if scripted is not None and not after:
            if latency:
                self._sleep(latency)
            return self._fault_response(request, scripted, reset, out_headers)

        base_url = str(request.url.copy_with(path="/", query=None)).rstrip("/")
        status, payload = self._dispatch(method, path, params, body, headers, base_url, request_id, latency)
        if scripted is not None:
            return self._fault_response(request, scripted, reset, out_headers)
        return httpx.Response(status, headers=out_headers, content=payload)

    def _fault_response(self, request: httpx.Request, status: int | str, reset: int | None,
                        headers: dict[str, str]) -> httpx.Response:
        if status == "timeout":
            raise httpx.ReadTimeout("sandbox: injected timeout", request=request)
        code = int(status)
        if code == 429:
            headers = {**headers, "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset or 1),
                       "Retry-After": str(reset or 1)}
            body = {"message": "Too many requests"}
        else:
            body = {"success": False, "reasons": [{"code": 50000061, "message": "Temporary error, try again"}]}
        return httpx.Response(code, headers=headers, content=json_bytes(body))

    def _dispatch(self, method: str, path: str, params: list[tuple[str, str]], body: bytes,
                  headers: dict[str, str], base_url: str, request_id: str, latency: float) -> tuple[int, bytes]:
        version = headers.get("zuora-version", self.default_version)
        if path == "/oauth/token" and method == "POST":
            return self._token(body)
        if path.startswith("/query/results/") and method == "GET":  # a pre-signed URL: its signature, no bearer
            with self._lock:
                data = result_of(self.tenant, path.removeprefix("/query/results/").removesuffix(".jsonl"),
                                 dict(params).get("X-Amz-Signature", ""))
            return (200, data) if data is not None else (403, b'{"message": "Request has expired or is invalid"}')
        token = headers.get("authorization", "")
        if not self._valid_token(token.removeprefix("Bearer ").strip() if token.startswith("Bearer ") else ""):
            return 401, json_bytes({"message": "Authentication error"})

        key = headers.get("idempotency-key") if method in ("POST", "PATCH") else None
        if key:
            early = self._claim_key(key, method, path)
            if early is not None:
                return early
        try:
            if latency:
                self._sleep(latency)  # inside the in-flight window: a same-key request now gets 409
            result = self._route(method, path, params, body, version, base_url, request_id)
        except BaseException:
            if key:
                with self._meta_lock:
                    self._idempotency.pop(key, None)
            raise
        if key:
            with self._meta_lock:
                self._idempotency[key].response = result
        return result

    def _claim_key(self, key: str, method: str, path: str) -> tuple[int, bytes] | None:
        now = self._clock()
        with self._meta_lock:
            stored = self._idempotency.get(key)
            if stored is not None and now - stored.created > IDEMPOTENCY_TTL_S:
                stored = None
            if stored is None:
                self._idempotency[key] = _Stored(method, path, now)
                return None
        if (stored.method, stored.path) != (method, path):
            return 422, json_bytes({"success": False, "reasons": [{"code": 50000020, "message":
                                    "The Idempotency-Key was already used for a different request"}]})
        if stored.response is None:
            return 409, json_bytes({"success": False, "reasons": [{"code": 50000050, "message":
                                    "A request with the same Idempotency-Key is still in progress"}]})
        if self.replay_as_conflict:
            return 409, stored.response[1]
        return stored.response

    def _route(self, method: str, path: str, params: list[tuple[str, str]], body: bytes, version: str,
               base_url: str, request_id: str) -> tuple[int, bytes]:
        family = "oq" if path.startswith("/object-query/") else "co" if path.startswith("/objects/") else "v1"
        for route_method, regex, handler in ROUTES:
            match = regex.match(path)
            if match and route_method == method:
                call = Call(method, path, params, body, self.tenant, version, base_url, match.groupdict(), {})
                try:
                    with self._lock:
                        reply: Reply = handler(call)
                except SandboxError as exc:
                    return self._error(exc, family, version, request_id)
                return reply.status, json_bytes(reply.body)
        if any(regex.match(path) for _, regex, _ in ROUTES):
            return self._error(SandboxError(45, f"Method {method} is not supported on {path}"), family, version,
                               request_id)
        return 404, json_bytes({"message": "no Route matched with those values"})

    def _error(self, exc: SandboxError, family: str, version: str, request_id: str) -> tuple[int, bytes]:
        status = exc.status or _CATEGORY_STATUS.get(exc.category, 400)
        reasons = [{"code": exc.code, "message": exc.message}]
        if family == "oq":
            return status, json_bytes({"reasons": reasons, "requestId": request_id})
        if family == "co":
            return status, json_bytes({"code": exc.code, "message": exc.message})
        dated = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", version)) and version >= "2024-05-20"
        body = {"success": False, "processId": request_id[:16].upper(), "reasons": reasons, "requestId": request_id}
        return (status if dated else 200), json_bytes(body)

    # -- auth --------------------------------------------------------------------------------------

    def _token(self, body: bytes) -> tuple[int, bytes]:
        form = dict(parse_qsl(body.decode(errors="replace")))
        if form.get("grant_type") != "client_credentials":
            return 400, json_bytes({"code": 400, "message": "grant_type must be client_credentials"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, json_bytes({"message": "Authentication error"})
        with self._meta_lock:
            token = uuid.uuid4().hex
            self._tokens[token] = self._clock() + TOKEN_LIFETIME_S
        return 200, json_bytes({"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_S,
                                "scope": "user.demo entity.demo service.billing.read service.billing.write tenant.1",
                                "jti": uuid.uuid4().hex})

    def _valid_token(self, token: str) -> bool:
        with self._meta_lock:
            expires = self._tokens.get(token)
        return expires is not None and self._clock() < expires
