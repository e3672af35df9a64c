"""One budget for Zuora requests per process: never more than N in flight, and a 429 pauses every caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.config import ConfigError, load_settings
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.zuora import ZuoraClient
from bot.zuora.limiter import MAX_PAUSE_S, Limiter
from tests.conftest import FakeClock


class Doorway:
    """The sandbox's injected sleep: a request with injected latency waits inside until let through."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.inside = self.peak = self.permits = 0

    def sleep(self, seconds: float) -> None:
        with self.cond:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.permits > 0, timeout=20)
            self.permits -= 1
            self.inside -= 1
            self.cond.notify_all()

    def let_through(self, n: int) -> None:
        with self.cond:
            self.permits += n
            self.cond.notify_all()

    def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (bounded) for `condition`; re-checked on every change here and every few ms (the limiter's
        own counts change without telling this condition)."""
        deadline = time.monotonic() + 20
        with self.cond:
            while not self.cond.wait_for(condition, timeout=0.01):
                assert time.monotonic() < deadline, "timed out"


def _client(sandbox: ZuoraSandbox, **options: Any) -> ZuoraClient:
    return ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                       transport=httpx.MockTransport(sandbox.handle), **options)


def _run(target: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target())
        except Exception as exc:  # pragma: no cover - asserted below
            results.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_never_more_than_the_limit_in_flight_however_many_callers() -> None:
    door = Doorway()
    sandbox = ZuoraSandbox(sleep=door.sleep)
    sandbox.inject("/v1/invoices/*", latency=2.0)
    with _client(sandbox, max_concurrency=3) as client:
        client.accounts.get("A00000003")  # the token, outside the doorway
        results: list[Any] = []
        threads = [_run(lambda n=n: client.invoices.get(f"INV{n:08d}"), results) for n in range(1, 13)]
        door.wait_until(lambda: door.inside == 3 and client.limiter.stats()["waiting"] == 9)
        door.let_through(12)
        for thread in threads:
            thread.join(20)
    assert sorted(r.invoice_number for r in results) == [f"INV{n:08d}" for n in range(1, 13)]
    assert door.peak == 3 and client.limiter.stats()["peak"] == 3


def test_a_parallel_wave_is_not_capped_by_a_small_thread_pool() -> None:
    door = Doorway()
    sandbox = ZuoraSandbox(sleep=door.sleep)
    sandbox.inject("/v1/invoices/*", latency=2.0)
    with _client(sandbox, max_concurrency=10) as client:
        client.accounts.get("A00000003")
        results: list[Any] = []
        thread = _run(lambda: client.concurrently(*(lambda n=n: client.invoices.get(f"INV{n:08d}")
                                                    for n in range(1, 11))), results)
        door.wait_until(lambda: door.inside == 10)  # all ten on the wire at once (the old pool allowed 4)
        door.let_through(10)
        thread.join(20)
    assert [r.invoice_number for r in results[0]] == [f"INV{n:08d}" for n in range(1, 11)]


def test_a_429_pauses_every_caller_not_only_the_refused_one() -> None:
    sandbox = ZuoraSandbox()
    clock = FakeClock()
    cond = threading.Condition()
    sleeps: list[tuple[str, float]] = []
    resume = threading.Event()

    def sleep(seconds: float) -> None:
        with cond:
            sleeps.append((threading.current_thread().name, seconds))
            cond.notify_all()
        assert resume.wait(20)
        clock.advance(seconds)

    with _client(sandbox, clock=clock, sleep=sleep) as client:
        client.accounts.get("A00000003")
        sandbox.inject("/v1/invoices/*", statuses=[429], reset=2)
        results: list[Any] = []
        refused = _run(lambda: client.invoices.get("INV00000042"), results)
        with cond:
            assert cond.wait_for(lambda: len(sleeps) == 1, timeout=20)
        other = _run(lambda: client.accounts.get("A00000004"), results)
        with cond:
            assert cond.wait_for(lambda: len(sleeps) == 2, timeout=20)
        # the other caller waits at the gate before sending anything
        assert len(sandbox.requests_to("/v1/accounts/A00000004")) == 0
        assert len(sandbox.requests_to("/v1/invoices/*")) == 1
        assert [s for _, s in sleeps] == [2.0, 2.0]
        resume.set()
        refused.join(20)
        other.join(20)
    assert not [r for r in results if isinstance(r, Exception)] and len(results) == 2
    assert len(sandbox.requests_to("/v1/invoices/*")) == 2 and len(sandbox.requests_to("/v1/accounts/A00000004")) == 1
    assert client.limiter.stats()["pauses"] == 1


def _answering(headers: dict[str, str]) -> httpx.MockTransport:
    calls = [0]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        calls[0] += 1
        return httpx.Response(200, json={"success": True}, headers=headers if calls[0] == 1 else {})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(("reset", "waited"), [("5", 5.0), ("999999", MAX_PAUSE_S)])
def test_ratelimit_remaining_zero_holds_the_next_request_until_the_reset(clock: FakeClock, reset: str,
                                                                       waited: float) -> None:
    transport = _answering({"RateLimit-Remaining": "0", "RateLimit-Reset": reset})
    with ZuoraClient("https://zuora.test", client_id="x", client_secret="y", transport=transport,
                     clock=clock, sleep=clock.sleep) as client:
        client.get("/v1/anything")
        assert clock.sleeps == []  # the answer itself is fine
        client.get("/v1/anything")
    assert clock.sleeps == [waited]  # a hostile reset cannot stop the process for long


def test_remaining_budget_is_no_pause(clock: FakeClock) -> None:
    transport = _answering({"RateLimit-Remaining": "12", "RateLimit-Reset": "30"})
    with ZuoraClient("https://zuora.test", client_id="x", client_secret="y", transport=transport,
                     clock=clock, sleep=clock.sleep) as client:
        client.get("/v1/anything")
        client.get("/v1/anything")
    assert clock.sleeps == []


def test_a_shared_limiter_is_one_budget_for_two_clients(sandbox: ZuoraSandbox) -> None:
    limiter = Limiter(2)
    with _client(sandbox, limiter=limiter) as one, _client(sandbox, limiter=limiter) as two:
        assert one.limiter is two.limiter is limiter
        one.invoices.get("INV00000042")
        two.invoices.get("INV00000042")
    assert limiter.stats() == {"in_flight": 0, "peak": 1, "waiting": 0, "pauses": 0}


@pytest.mark.parametrize("value", ["0", "-3", "many", "1000"])
def test_a_bad_zuora_max_concurrency_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ZUORA_MAX_CONCURRENCY", value)
    with pytest.raises(ConfigError, match="^invalid setting ZUORA_MAX_CONCURRENCY: "):
        load_settings()
    with pytest.raises(ValueError):
        Limiter(0)
