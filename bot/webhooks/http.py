"""`POST /zuora/callouts`: authenticate, read, deduplicate, record, answer 200; the work runs from the outbox.

    401  wrong or missing credentials/signature (with `WWW-Authenticate: Basic` when Basic auth is
         configured, for Zuora's non-preemptive flow); nothing is stored
    400  a body that cannot be used, with the reason (garbled `Content-Length`, JSON nested deeper
         than `bot.limits.MAX_DEPTH`, checked before parsing); nothing is stored
    413  a body over 256 KB (refused before reading it)
    503  the event could not be recorded (e.g. the database is locked): Zuora retries it
    200  `{"success": true}`: taken and recorded (or a duplicate, `"duplicate": true`); Zuora counts only a 200
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bot.limits import BodyTooLarge, BodyUnreadable, read_body, too_deep
from bot.webhooks.callouts import Callout, CalloutError, authenticate, parse

__all__ = ["callout_app"]

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024


def _reply(start_response: Callable[..., Any], status: str, payload: dict[str, Any],
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *(headers or [])])
    return [body]


def callout_app(*, take: Callable[[Callout], bool], username: str | None, password: str | None,
                secret: str | None) -> Callable[..., Iterable[bytes]]:
    """The WSGI app; `take(callout)` records the event and its work durably (False for a duplicate).

    The work itself runs after the response, from the outbox (see `bot.webhooks.events`).
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"success": False, "error": "POST only"},
                          [("Allow", "POST")])
        try:
            body = read_body(environ, MAX_BODY)
        except BodyTooLarge:
            return _reply(start_response, "413 Content Too Large", {"success": False, "error": "body over 256 KB"})
        except BodyUnreadable:
            return _reply(start_response, "400 Bad Request", {"success": False, "error": "bad Content-Length"})
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if not authenticate(headers, body, username=username, password=password, secret=secret):
            log.warning("callout refused: bad or missing credentials (from %s)", environ.get("REMOTE_ADDR", "?"))
            challenge = [("WWW-Authenticate", 'Basic realm="billing-copilot"')] if username else []
            return _reply(start_response, "401 Unauthorized", {"success": False, "error": "unauthorized"}, challenge)
        if too_deep(body):
            log.warning("callout refused: JSON nested too deeply (%d bytes)", len(body))
            return _reply(start_response, "400 Bad Request", {"success": False, "error": "the body nests too deeply"})
        try:
            callout = parse(environ.get("CONTENT_TYPE", ""), body, headers.get("zuora-notification-id"))
        except CalloutError as exc:  # the reason may quote the body: kept short in the log and the answer
            log.warning("callout refused: %s", str(exc)[:200])
            return _reply(start_response, "400 Bad Request", {"success": False, "error": str(exc)[:500]})
        try:
            taken = take(callout)
        except Exception:  # e.g. the database stayed locked: not recorded, so Zuora must send it again
            log.exception("callout %s could not be recorded", callout.business_key)
            return _reply(start_response, "503 Service Unavailable", {"success": False, "error": "try again"},
                          [("Retry-After", "30")])
        if not taken:
            return _reply(start_response, "200 OK", {"success": True, "duplicate": True})
        return _reply(start_response, "200 OK", {"success": True})

    return app
