"""Retry policy for Zuora requests: what to retry, and how long to wait (pure, no I/O).

Reads retry on transport errors, 429, 500/502/503/504, and on `success: false` whose category
means "try again" (50 lock contention, 61 temporary, 70 over limit). POST/PATCH retry on the same
conditions because they always carry an Idempotency-Key, so Zuora answers a repeat with the stored
response. PUT/DELETE carry no key: they retry only when the request surely did not run (the
connection was never made, or Zuora answered 429). 400/401/403/404/409/422 are never retried.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["RetryPolicy", "retry_after_seconds", "should_retry"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PATCH"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how long to back off, and the overall deadline for one call."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float = 30.0
    """Seconds from the first attempt after which no new attempt starts."""

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """Delay before attempt `attempt + 1` (attempt counts from 1): capped, jittered to [½, 1]."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (0.5 + random() / 2)


def should_retry(method: str, *, status: int | None, connect_failed: bool = False) -> bool:
    """True when a request that ended with `status` (None = no response) may be sent again."""
    method = method.upper()
    if status is None:
        return connect_failed or method in IDEMPOTENT_METHODS
    if status == 429:
        return True
    return status in RETRY_STATUSES and method in IDEMPOTENT_METHODS


def retry_after_seconds(headers: Mapping[str, str], status: int, *, now: datetime | None = None) -> float | None:
    """The server's wait hint for a 429 or 503: `Retry-After` (seconds or HTTP date), else, on a 429,
    `RateLimit-Reset` (seconds). Zuora sends `RateLimit-Reset` on every response, so on other statuses
    it is no hint."""
    if status not in (429, 503):
        return None
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    reset = headers.get("ratelimit-reset") if status == 429 else None
    if reset:
        first = reset.split(",")[0].strip()
        try:
            return max(0.0, float(first))
        except ValueError:
            return None
    return None
