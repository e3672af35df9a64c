"""Every error the Zuora client raises, in one tree.

```
ZuoraError                      anything that went wrong talking to Zuora
├── ZuoraTransportError         no usable HTTP answer: connection failed, timed out, deadline passed
├── ZuoraIdempotencyError       our own guard: a key reused for another body, path or method
├── ZuoraInvalidKey             our own guard: an id or number that is not a Zuora key (never sent)
└── ZuoraAPIError               Zuora answered with an error: an HTTP error status, or HTTP 200
    │                           with "success": false (older Zuora-Version values)
    ├── ZuoraAuthError          401/403, or category 10/11, after the one token refresh
    │   └── ZuoraSetupError     the token endpoint refused the client id/secret or is not Zuora's
    ├── ZuoraNotFound           404, or category 40
    │   └── InvoiceNotFound     no invoice for any form of the number the user typed
    ├── ZuoraConflict           409: the same Idempotency-Key is in flight, or lock contention
    ├── ZuoraRateLimited        429 that outlasted the retries
    └── ZuoraServerError        5xx that outlasted the retries
```

`ZuoraAPIError` carries Zuora's reason codes and messages, the HTTP status and the
`Zuora-Request-Id`, so a message shown to a user or written to a log can be traced by Zuora support.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "InvoiceNotFound",
    "Reason",
    "ZuoraAPIError",
    "ZuoraAuthError",
    "ZuoraConflict",
    "ZuoraError",
    "ZuoraIdempotencyError",
    "ZuoraInvalidKey",
    "ZuoraNotFound",
    "ZuoraRateLimited",
    "ZuoraServerError",
    "ZuoraSetupError",
    "ZuoraTransportError",
]


@dataclass(frozen=True)
class Reason:
    """One entry of Zuora's `reasons` list: an 8-digit code (resource + category) and a message."""

    code: int | None
    message: str

    @property
    def category(self) -> int | None:
        """The last two digits of the code: 40 not found, 50 lock contention, 70 over limit, …"""
        return self.code % 100 if self.code is not None else None


class ZuoraError(Exception):
    """Base class of every error raised by `bot.zuora`."""


class ZuoraTransportError(ZuoraError):
    """No usable answer from Zuora: connection refused or reset, timeout, or deadline exceeded."""


class ZuoraIdempotencyError(ZuoraError):
    """An Idempotency-Key was reused for a different request; Zuora would replay the old answer."""


class ZuoraInvalidKey(ZuoraError, ValueError):
    """An id or number that is not a Zuora key, or cannot be a URL path segment; nothing was sent."""


class ZuoraAPIError(ZuoraError):
    """Zuora answered with an error (HTTP status >= 400, or `success: false`)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reasons: tuple[Reason, ...] = (),
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reasons = reasons
        self.request_id = request_id
        self.method = method
        self.path = path

    @property
    def messages(self) -> list[str]:
        """Zuora's own messages, as a user may need to read them."""
        return [reason.message for reason in self.reasons]


class ZuoraAuthError(ZuoraAPIError):
    """Zuora refused our credentials or token, or the user lacks a permission."""


class ZuoraSetupError(ZuoraAuthError):
    """`POST /oauth/token` refused the client id or secret, or `ZUORA_BASE_URL` is not a Zuora REST API
    (404, an HTML page, no `access_token`): a configuration problem, never an outage or missing data."""


class ZuoraNotFound(ZuoraAPIError):
    """The object does not exist in the tenant."""


class InvoiceNotFound(ZuoraNotFound):
    """No invoice matched any form of the number; `tried` lists the forms asked for."""

    def __init__(self, typed: str, tried: list[str]) -> None:
        super().__init__(
            f"no invoice {typed!r} in Zuora (tried {', '.join(tried) or 'nothing: not an invoice number'})",
            status=404,
        )
        self.typed = typed
        self.tried = tried


class ZuoraConflict(ZuoraAPIError):
    """409: a request with the same Idempotency-Key is still in flight, or a lock is contended."""


class ZuoraRateLimited(ZuoraAPIError):
    """429 that was still answered after the client's retries and deadline."""


class ZuoraServerError(ZuoraAPIError):
    """5xx that was still answered after the client's retries and deadline."""
