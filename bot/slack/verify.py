"""Verify first: every request to `/slack/events` is checked here, before Bolt or anything else reads it.

Slack signs each request: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">`
with the app's signing secret, and `X-Slack-Request-Timestamp` (Unix seconds) must be within 5
minutes of now. `verified()` wraps the Slack WSGI app; a request it refuses reaches nothing (no
Bolt middleware, no listener, no error handler, no database) and is logged as one short line
(status, reason, size, peer), never with its body or header values:

    413  the declared body is over `max_body` (nothing is read)
    400  a garbled `Content-Length`, or JSON nested deeper than `max_depth` (checked after the signature)
    401  timestamp missing, not 1-12 digits, or more than `max_age` from now; signature missing,
         malformed or wrong; no signing secret configured

What passes is handed on unchanged (Bolt verifies it again, harmlessly). The one exception is Slack's
SSL check (`ssl_check=1&token=…` and nothing else), which may come unsigned: it gets an empty 200
here and goes no further. `Signature.signed()` is
also what the global error handler asks before it speaks to Slack about a request.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from bot.limits import MAX_DEPTH, BodyTooLarge, BodyUnreadable, read_body, too_deep

__all__ = ["MAX_BODY", "Signature", "verified"]

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
"""Bytes accepted on `/slack/events` (Slack's largest payloads, view submissions, stay far below)."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Signature:
    """Slack's request signature (v0), checked in constant time; `now` is injectable."""

    def __init__(self, secret: str | None, *, max_age: float = 300.0,
                 now: Callable[[], float] = time.time) -> None:
        self._secret = (secret or "").encode()
        self.max_age = max_age
        self.now = now

    def problem(self, timestamp: str | None, signature: str | None, body: bytes, *, check_age: bool = True
                ) -> str | None:
        """Why the request is not Slack's (a few words, safe to log), or None when it is."""
        if not self._secret:
            return "no signing secret configured"
        if not timestamp:
            return "no timestamp"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "malformed timestamp"
        if check_age and abs(self.now() - int(timestamp)) > self.max_age:
            return "stale timestamp"
        if not signature:
            return "no signature"
        if not _SIGNATURE.fullmatch(signature):
            return "malformed signature"
        expected = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(("v0=" + expected).encode(), signature.encode()):
            return "bad signature"
        return None

    def signed(self, headers: dict[str, Any], body: bytes) -> bool:
        """Whether Slack signed this request (age not checked: for requests already let in, e.g. at error time)."""
        def first(name: str) -> str | None:
            value = headers.get(name)
            if isinstance(value, list | tuple):
                value = value[0] if len(value) == 1 else None
            return value if isinstance(value, str) else None

        return self.problem(first("x-slack-request-timestamp"), first("x-slack-signature"), body,
                            check_age=False) is None


def _ssl_check(body: bytes) -> bool:
    """Exactly Slack's SSL check (`ssl_check=1&token=…`), which Bolt answers before any verification."""
    if len(body) > 200:
        return False
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return dict(fields).get("ssl_check") == "1" and {name for name, _ in fields} <= {"ssl_check", "token"}


def _refuse(start_response: Callable[..., Any], status: str, error: str) -> list[bytes]:
    body = json.dumps({"error": error}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def verified(app: Callable[..., Iterable[bytes]], signature: Signature, *, max_body: int = MAX_BODY,
             max_depth: int = MAX_DEPTH) -> Callable[..., Iterable[bytes]]:
    """`app` behind the checks above: only requests Slack signed, of sane size and shape, reach it."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "?")
        try:
            body = read_body(environ, max_body)
        except BodyTooLarge:
            log.warning("slack: refused 413 (body over %d bytes, declared %s) from %s", max_body,
                        str(environ.get("CONTENT_LENGTH"))[:20], peer)
            return _refuse(start_response, "413 Content Too Large", "body too large")
        except BodyUnreadable:
            log.warning("slack: refused 400 (garbled Content-Length) from %s", peer)
            return _refuse(start_response, "400 Bad Request", "bad Content-Length")
        problem = signature.problem(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                                    environ.get("HTTP_X_SLACK_SIGNATURE"), body)
        if problem and _ssl_check(body):  # Slack's certificate probe may come unsigned: 200, nothing else
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        if problem:
            log.warning("slack: refused 401 (%s, %d bytes) from %s", problem, len(body), peer)
            return _refuse(start_response, "401 Unauthorized", "invalid request")
        if too_deep(body, max_depth):
            log.warning("slack: refused 400 (JSON nested deeper than %d, %d bytes) from %s", max_depth, len(body),
                        peer)
            return _refuse(start_response, "400 Bad Request", "the body nests too deeply")
        return app({**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}, start_response)

    return guarded
