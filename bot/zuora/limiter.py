"""The process's budget for Zuora requests: at most N in flight, and one gate that closes for everyone.

Every request from the process (answers, callouts, summaries, executions) takes a slot for as long
as it is on the wire, so Zuora's per-tenant concurrency limit is respected however many callers
there are. A 429 (or a 503 with `Retry-After`), or a response saying `RateLimit-Remaining: 0`,
closes the gate until the time Zuora names: every caller waits there, not just the one that was
refused, so the process slows down as one client. Time and sleep are injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from bot.zuora.retry import retry_after_seconds

__all__ = ["DEFAULT_MAX_CONCURRENCY", "Limiter"]

DEFAULT_MAX_CONCURRENCY = 40
"""Zuora's default per-tenant concurrency limit for v1 operations (Object Query allows 80)."""
MAX_PAUSE_S = 60.0
"""The longest a single response may close the gate (a garbled or hostile header cannot stop the process)."""


class Limiter:
    """In-flight slots plus a shared pause; thread-safe. `stats()` reports what it saw."""

    def __init__(self, max_in_flight: int = DEFAULT_MAX_CONCURRENCY, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._in_flight = self._peak = self._waiting = self._pauses = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot, after waiting for a free one and for the gate to open."""
        with self._lock:
            self._waiting += 1
        acquired = False
        try:
            acquired = self._slots.acquire()
            self._wait_for_gate()
        except BaseException:
            with self._lock:
                self._waiting -= 1
            if acquired:
                self._slots.release()
            raise
        with self._lock:
            self._waiting -= 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()

    def _wait_for_gate(self) -> None:
        while True:
            with self._lock:
                delay = self._resume_at - self._clock()
            if delay <= 0:
                return
            self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Close the gate for everyone for `seconds` (capped; a later end is never brought forward)."""
        seconds = min(max(seconds, 0.0), MAX_PAUSE_S)
        with self._lock:
            until = self._clock() + seconds
            if until > self._resume_at:
                self._resume_at = until
                self._pauses += 1

    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Read a response's rate-limit news; returns the pause it caused (None when none)."""
        hint = retry_after_seconds(headers, status)
        if hint is None and _remaining(headers) == 0:
            hint = _reset(headers)
        if hint is None:
            return None
        self.pause(hint)
        return hint

    def stats(self) -> dict[str, int]:
        """In flight now, the most ever in flight at once, callers waiting, and pauses so far."""
        with self._lock:
            return {"in_flight": self._in_flight, "peak": self._peak, "waiting": self._waiting,
                    "pauses": self._pauses}


def _remaining(headers: Mapping[str, str]) -> int | None:
    value = headers.get("ratelimit-remaining")
    try:
        return int(value.split(",")[0].strip()) if value else None
    except ValueError:
        return None


def _reset(headers: Mapping[str, str]) -> float | None:
    value = headers.get("ratelimit-reset")
    try:
        return max(0.0, float(value.split(",")[0].strip())) if value else None
    except ValueError:
        return None
