"""Zuora callouts in: authenticate them and read their body into a `Callout` (no I/O).

Zuora's callout body is whatever the tenant's template says; the README documents the template
to configure. Bodies are JSON, or form fields with the same names; names match case-insensitively,
extra fields are ignored, and only the ids are trusted (everything else is re-read from Zuora).

    CalloutError        the body cannot be used (HTTP 400, with the reason)
    authenticate()      False → HTTP 401, nothing stored
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

__all__ = ["Callout", "CalloutError", "authenticate", "parse"]

Event = Literal["PaymentDeclined", "BillRunCompletion"]
_EVENTS: dict[str, Event] = {"paymentdeclined": "PaymentDeclined", "paymentfailed": "PaymentDeclined",
                             "billruncompletion": "BillRunCompletion", "billruncompleted": "BillRunCompletion"}
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class CalloutError(ValueError):
    """The callout body cannot be used; the message says why (it goes back to Zuora with a 400)."""


@dataclass(frozen=True)
class Callout:
    event: Event
    object_id: str
    """The payment id or number, or the bill run id or number."""
    fields: dict[str, str]
    notification_id: str | None

    @property
    def business_key(self) -> str:
        return f"{self.event}:{self.object_id}"


def authenticate(headers: dict[str, str], body: bytes, *, username: str | None, password: str | None,
                 secret: str | None) -> bool:
    """Basic auth and/or an HMAC-SHA256 of the raw body (hex or base64 in `X-Zuora-Signature`), in constant time.

    Every configured method must pass; with none configured, nothing passes.
    """
    if not (username or secret):
        return False
    ok = True
    if username:
        expected = "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        ok &= hmac.compare_digest(headers.get("authorization", "").encode(), expected.encode())
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        given = headers.get("x-zuora-signature", "").strip().removeprefix("sha256=")
        ok &= hmac.compare_digest(given.lower().encode(), digest.hex().encode()) or \
            hmac.compare_digest(given.encode(), base64.b64encode(digest))
    return bool(ok)


def _fields(content_type: str, body: bytes) -> dict[str, str]:
    text = body.decode("utf-8", errors="strict") if body else ""
    if not text.strip():
        raise CalloutError("the body is empty")
    data: Any
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalloutError(f"the body is not valid JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(data, dict):
            raise CalloutError("the JSON body must be an object of merge fields")
    else:
        data = dict(parse_qsl(text, keep_blank_values=True))
        if not data:
            raise CalloutError("the body is neither JSON nor form fields")
    return {str(k).strip().lower(): "" if v is None else str(v).strip() for k, v in data.items()}


def parse(content_type: str, body: bytes, notification_id: str | None) -> Callout:
    """The callout in `body`; raises `CalloutError` with the reason when it cannot be used."""
    try:
        fields = _fields(content_type.lower(), body)
    except UnicodeDecodeError:
        raise CalloutError("the body is not UTF-8 text") from None
    named = re.sub(r"[^a-z]", "", fields.get("event", "").lower())
    if named:
        event = _EVENTS.get(named)
        if event is None:
            raise CalloutError(f"unknown event {fields['event']!r}: expected PaymentDeclined or BillRunCompletion")
    else:
        event = "PaymentDeclined" if fields.get("paymentid") or fields.get("paymentnumber") else \
            "BillRunCompletion" if fields.get("billrunid") or fields.get("billrunnumber") else None
        if event is None:
            raise CalloutError("no event field, and neither PaymentId nor BillRunId to tell which event it is")
    keys = ("paymentid", "paymentnumber") if event == "PaymentDeclined" else ("billrunid", "billrunnumber")
    object_id = next((fields[k] for k in keys if fields.get(k)), "")
    if not object_id:
        raise CalloutError(f"{event} needs {'PaymentId' if event == 'PaymentDeclined' else 'BillRunId'}")
    if not _ID.match(object_id):
        raise CalloutError(f"{object_id[:40]!r} is not a Zuora id or number")
    return Callout(event=event, object_id=object_id, fields=fields,
                   notification_id=(notification_id or "").strip() or None)
