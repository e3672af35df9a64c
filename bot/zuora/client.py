"""`ZuoraClient`: one `httpx.Client` speaking Zuora's REST API, shared safely across threads.

It owns everything every call needs: the OAuth token (cached, refreshed shortly before expiry and
once on a 401), the pinned `Zuora-Version`, a `Zuora-Track-Id` per call, an `Idempotency-Key` on
every POST/PATCH (reused across the call's retries, and guarded against reuse for another body),
retries with capped, jittered backoff under an overall deadline, error mapping (HTTP errors and
`success: false` alike, in `responses`), and paging. Every request takes a slot of the process's `Limiter`
(`limiter.py`: the in-flight budget, and one gate that a 429 closes for every caller). Resource
methods live in the noun modules (`invoices`, `accounts`, …) and are attached here as namespaces:
`client.invoices.get("INV00000042")`.

Transport, sleep, clock, randomness and id generation are injected, so tests run against the
embedded sandbox with no sockets and no real waiting.
"""

from __future__ import annotations

import hashlib
import logging
import random as _random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from bot.config import DEFAULT_ZUORA_VERSION
from bot.zuora.codec import dumps, loads
from bot.zuora.errors import (
    ZuoraAPIError,
    ZuoraIdempotencyError,
    ZuoraInvalidKey,
    ZuoraSetupError,
    ZuoraTransportError,
)
from bot.zuora.limiter import DEFAULT_MAX_CONCURRENCY, Limiter
from bot.zuora.responses import error_for, parse_body
from bot.zuora.retry import RetryPolicy, retry_after_seconds, should_retry

__all__ = ["ZuoraClient", "dumps", "loads"]  # `dumps`/`loads` live in `codec`; bot/actions/store.py imports them here

log = logging.getLogger(__name__)
T = TypeVar("T")

_TOKEN_MARGIN_S = 300.0
_KEY_TTL_S = 24 * 3600.0
_KEY_MEMORY = 10_000
_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_DEFAULT_RETRY = RetryPolicy()


class ZuoraClient:
    """A Zuora REST client; see the module docstring. Close it (or use `with`) when done."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        version: str = DEFAULT_ZUORA_VERSION,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
        retry: RetryPolicy = _DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        limiter: Limiter | None = None,
    ) -> None:
        from bot import __version__

        self.limiter = limiter or Limiter(max_concurrency, clock=clock, sleep=sleep)
        """Every request of this client takes one of its slots; share it to share the budget."""
        slots = self.limiter.max_in_flight
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
            limits=httpx.Limits(max_connections=slots + 2, max_keepalive_connections=slots + 2),
            headers={"Zuora-Version": version, "Accept": "application/json",
                     "User-Agent": f"billing-copilot/{__version__}"},
        )
        self._client_id = client_id
        self._client_secret = client_secret
        self.version = version
        self.retry = retry
        self._sleep, self._clock, self._random, self._new_id = sleep, clock, random, new_id
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._keys_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

        from bot.zuora.accounts import Accounts
        from bot.zuora.billruns import BillRuns
        from bot.zuora.customobjects import CustomObjects
        from bot.zuora.invoices import Invoices
        from bot.zuora.memos import CreditMemos
        from bot.zuora.payments import PaymentMethods, Payments, PaymentSchedules
        from bot.zuora.subscriptions import Subscriptions, Usage

        self.invoices = Invoices(self)
        self.accounts = Accounts(self)
        self.payments = Payments(self)
        self.payment_methods = PaymentMethods(self)
        self.payment_schedules = PaymentSchedules(self)
        self.credit_memos = CreditMemos(self)
        self.bill_runs = BillRuns(self)
        self.subscriptions = Subscriptions(self)
        self.usage = Usage(self)
        self.custom_objects = CustomObjects(self)
        from bot.zuora.orders import Catalog, Orders

        self.catalog = Catalog(self)
        self.orders = Orders(self)

        from bot.zuora.dataquery import DataQuery

        self.data_query = DataQuery(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections and the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> ZuoraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- concurrency -----------------------------------------------------------------------------

    def concurrently(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent calls at the same time; results in the calls' order.

        The first call runs on the calling thread, the others on the client's threads; how many
        requests are on the wire at once is the limiter's business, not the number of threads.
        Every call finishes before this returns; the first error (in call order) is raised.
        """
        if len(calls) <= 1:
            return [call() for call in calls]
        with self._pool_lock:
            if self._pool is None:  # threads are made on demand; idle ones are reused
                self._pool = ThreadPoolExecutor(4 * self.limiter.max_in_flight, thread_name_prefix="zuora")
        futures = [self._pool.submit(call) for call in calls[1:]]
        first: Future[Any] = Future()
        try:
            first.set_result(calls[0]())
        except Exception as exc:
            first.set_exception(exc)
        futures.insert(0, first)
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
        return [f.result() for f in futures]

    # -- auth ------------------------------------------------------------------------------------

    def _bearer(self) -> str:
        with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires_at:
                self._token, lifetime = self._fetch_token()
                margin = min(_TOKEN_MARGIN_S, lifetime / 10)
                self._token_expires_at = self._clock() + lifetime - margin
            return self._token

    def _drop_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        form = {"client_id": self._client_id, "client_secret": self._client_secret,
                "grant_type": "client_credentials"}
        try:
            body = self._send("POST", "/oauth/token", data=form, authenticated=False)
        except ZuoraAPIError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise  # an outage or a rate limit, not a configuration problem
            what = ("refused the client id or secret" if exc.status in (400, 401, 403) else
                    "is not a Zuora REST API")
            said = f" ({'; '.join(exc.messages)[:200]})" if exc.messages else ""
            raise ZuoraSetupError(f"{self.base_url}/oauth/token answered HTTP {exc.status}{said}: "
                                  f"the Zuora base URL {what}",
                                  status=exc.status, reasons=exc.reasons, request_id=exc.request_id,
                                  method="POST", path="/oauth/token") from None
        try:
            return str(body["access_token"]), float(body.get("expires_in", 3599))
        except (KeyError, TypeError, ValueError):
            raise ZuoraSetupError(f"{self.base_url}/oauth/token answered without an access_token: the Zuora base "
                                  "URL is not a Zuora REST API", status=200, method="POST",
                                  path="/oauth/token") from None

    @property
    def base_url(self) -> str:
        """The Zuora REST base URL this client talks to (never carries credentials)."""
        return str(self._http.base_url).rstrip("/")

    def authenticate(self) -> None:
        """Fetch an OAuth token now (start-up check); raises `ZuoraSetupError` for a configuration problem."""
        self._bearer()

    # -- requests --------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        """GET `path` and return the parsed JSON body."""
        return self._send("GET", path, params=params)

    def post(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        """POST JSON with an Idempotency-Key (the caller's, or a new one kept across retries)."""
        return self._send("POST", path, json_body=body, idempotency_key=idempotency_key)

    def put(self, path: str, body: Any) -> Any:
        """PUT JSON. Zuora takes no Idempotency-Key on PUT: guard the call with a re-read instead."""
        return self._send("PUT", path, json_body=body)

    def _guard_key(self, key: str, method: str, path: str, content: bytes) -> None:
        fingerprint = hashlib.sha256(f"{method} {path}\n".encode() + content).hexdigest()
        now = self._clock()
        with self._keys_lock:
            while self._keys and (len(self._keys) > _KEY_MEMORY
                                  or next(iter(self._keys.values()))[1] < now - _KEY_TTL_S):
                self._keys.popitem(last=False)
            seen = self._keys.get(key)
            if seen is not None and seen[0] != fingerprint:
                raise ZuoraIdempotencyError(
                    f"Idempotency-Key {key!r} was already used for a different request; "
                    "Zuora would replay the first answer. Use a new key for a new request.")
            self._keys[key] = (fingerprint, now)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        authenticated: bool = True,
    ) -> Any:
        method = method.upper()
        if any(unquote(part).strip() in (".", "..") for part in urlsplit(path).path.split("/")):
            raise ZuoraInvalidKey(f"refusing a dot segment in the path {path[:80]!r}")  # would walk to another URL
        headers = {"Zuora-Track-Id": self._new_id()}
        content: bytes | None = None
        if json_body is not None:
            content = dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if method in ("POST", "PATCH") and authenticated:
            key = idempotency_key or self._new_id()
            self._guard_key(key, method, path, content or b"")
            headers["Idempotency-Key"] = key
        elif idempotency_key is not None:
            raise ValueError(f"Zuora accepts Idempotency-Key on POST and PATCH only, not {method}")

        started = self._clock()
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            token = self._bearer() if authenticated else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                with self.limiter.slot():
                    response = self._http.request(method, path, params=params, content=content, data=data,
                                                  headers=headers)
            except httpx.TransportError as exc:
                connect_failed = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if should_retry(method, status=None, connect_failed=connect_failed) and self._wait(
                        attempt, started, None):
                    continue
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                raise ZuoraTransportError(
                    f"Zuora {method} {path} {kind} after {attempt} attempt(s): {exc.__class__.__name__}"
                ) from exc

            if response.status_code == 401 and authenticated and not refreshed:
                refreshed = True
                attempt -= 1
                self._drop_token(token or "")
                continue
            paused = self.limiter.observe(response.status_code, response.headers)
            body = parse_body(response)
            error = error_for(method, path, response, body)
            if error is None:
                log.debug("zuora %s %s -> %s (%s)", method, path, response.status_code,
                          response.headers.get("Zuora-Request-Id"))
                return body
            if should_retry(method, status=error.status) and self._wait(
                    attempt, started, retry_after_seconds(response.headers, response.status_code),
                    gated=paused is not None):
                continue
            log.info("zuora %s %s failed: HTTP %s %s (request id %s)", method, path, response.status_code,
                     [r.code for r in error.reasons], error.request_id)
            raise error

    def _wait(self, attempt: int, started: float, hint: float | None, *, gated: bool = False) -> bool:
        """Sleep before the next attempt; False when attempts or the deadline are used up.

        `gated`: the response closed the limiter's gate, where the next attempt waits (with everyone).
        """
        if attempt >= self.retry.max_attempts:
            return False
        delay = hint if hint is not None else self.retry.backoff(attempt, self._random)
        if self._clock() - started + delay > self.retry.deadline:
            return False
        if not gated:
            self._sleep(delay)
        return True

    # -- paging ----------------------------------------------------------------------------------

    def iter_v1(self, path: str, key: str, params: Mapping[str, Any] | None = None, *,
                page_size: int = 40) -> Iterator[dict[str, Any]]:
        """Yield the records under `key` of a v1 list, page by page (`page`/`pageSize`, `nextPage` URL)."""
        query: list[tuple[str, Any]] = [*dict(params or {}).items(), ("pageSize", page_size)]
        while True:
            body = self.get(path, query)
            yield from body.get(key) or []
            next_page = body.get("nextPage")
            if not next_page:
                return
            parts = urlsplit(next_page)
            path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)

    def iter_query(self, path: str, params: list[tuple[str, Any]] | None = None, *,
                   page_size: int = 50) -> Iterator[dict[str, Any]]:
        """Yield the records of an Object Query list, page by page (opaque `cursor`)."""
        query = [*(params or []), ("pageSize", page_size)]
        while True:
            body = self.get(path, query)
            yield from body.get("data") or []
            cursor = body.get("nextPage")
            if not cursor:
                return
            query = [*(params or []), ("pageSize", page_size), ("cursor", cursor)]
