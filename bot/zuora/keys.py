"""Zuora object keys: the formats ids and numbers take, and the one way a key goes into a URL path (pure).

A key that comes from outside our code (a user, a model, a callout) reaches a URL only through
`segment()`, which refuses empty and dot segments and percent-encodes everything else (`/`, `?`,
`#`, `%`, spaces…), so `"../accounts/A00000101"` stays one segment of the path it was meant for
and can never walk to another endpoint. `check()` validates a key against Zuora's formats before
anything is sent: 32-hex ids, and numbers as the default tenant numbering writes them (prefix
letters, an optional dash, digits: `INV00000042`, `INV-0000001`, `A00000007`, `A-S00000002`,
`P-00000001`, `CM00000618`, `BR-00000042`), with tenant-defined account numbers allowed to be any
short run of letters, digits, `-` and `_`.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from bot.zuora.errors import ZuoraInvalidKey

__all__ = ["KeyKind", "check", "is_key", "segment"]

KeyKind = Literal["invoice", "account", "subscription", "payment", "payment_method", "credit_memo", "bill_run",
                  "invoice_item", "payment_schedule"]

_ID = r"[0-9a-f]{32}"
_NUMBER = r"[A-Z]{1,10}-?\d{1,20}"
_FORMATS: dict[str, re.Pattern[str]] = {
    "invoice": re.compile(rf"{_ID}|{_NUMBER}", re.IGNORECASE),
    "account": re.compile(rf"{_ID}|[A-Z0-9][A-Z0-9_-]{{0,49}}", re.IGNORECASE),
    "subscription": re.compile(rf"{_ID}|[A-Z]{{1,10}}-?S?-?\d{{1,20}}", re.IGNORECASE),
    "payment": re.compile(rf"{_ID}|{_NUMBER}", re.IGNORECASE),
    "payment_method": re.compile(_ID, re.IGNORECASE),
    "credit_memo": re.compile(rf"{_ID}|{_NUMBER}", re.IGNORECASE),
    "bill_run": re.compile(rf"{_ID}|{_NUMBER}", re.IGNORECASE),
    "invoice_item": re.compile(_ID, re.IGNORECASE),
    "payment_schedule": re.compile(rf"{_ID}|{_NUMBER}", re.IGNORECASE),
}


def is_key(kind: KeyKind, value: object) -> bool:
    """True when `value` has the shape of a Zuora key of `kind`."""
    return isinstance(value, str) and _FORMATS[kind].fullmatch(value) is not None


def check(kind: KeyKind, value: object) -> str:
    """`value` if it is a Zuora key of `kind`, else `ZuoraInvalidKey` (nothing is sent)."""
    if not is_key(kind, value):
        shown = repr(value)[:40]
        raise ZuoraInvalidKey(f"{shown} is not a Zuora {kind.replace('_', ' ')} number or id")
    return str(value)


def segment(value: object) -> str:
    """`value` as exactly one URL path segment: percent-encoded; empty, `.` and `..` refused."""
    text = str(value)
    if text.strip() in ("", ".", "..") or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ZuoraInvalidKey(f"{text[:40]!r} cannot be part of a Zuora URL")
    return quote(text, safe="")
