"""Limits on inbound HTTP bodies, checked before anything parses them (pure, stdlib only).

`read_body()` reads at most a cap from a WSGI request (nothing when the declared length is over
it or garbled); `too_deep()` tells, without parsing, whether a JSON body (or the JSON inside Slack's
`payload=` form field) nests deeper than a limit: Python's `json` module raises
`RecursionError` on very deep input, which would otherwise be a 500.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["MAX_DEPTH", "BodyTooLarge", "BodyUnreadable", "json_depth", "read_body", "too_deep"]

MAX_DEPTH = 64
"""JSON nesting allowed on inbound requests (Slack's deepest payloads stay well under 20)."""
_TOKEN = re.compile(rb'["\\\[\]{}]')


class BodyTooLarge(ValueError):
    """The declared body is over the cap (HTTP 413); nothing was read."""


class BodyUnreadable(ValueError):
    """`Content-Length` is not a number (HTTP 400); nothing was read."""


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, at most `limit` bytes; raises `BodyTooLarge` / `BodyUnreadable` before reading."""
    declared = str(environ.get("CONTENT_LENGTH") or "0").strip() or "0"
    if not declared.isdigit() or len(declared) > 18:
        raise BodyUnreadable("Content-Length is not a number")
    length = int(declared)
    if length > limit:
        raise BodyTooLarge(f"the body is over {limit} bytes")
    body = environ["wsgi.input"].read(length) if length else b""
    return bytes(body[:limit])


def json_depth(data: bytes, stop: int | None = None) -> int:
    """How deeply `data` nests `[` and `{` outside strings (scanning stops once `stop` is exceeded)."""
    depth = deepest = 0
    in_string = False
    skip = -1  # inside a string, the position right after a backslash: that character is escaped
    for match in _TOKEN.finditer(data):
        char, at = match.group(), match.start()
        if in_string:
            if at == skip:
                continue
            if char == b"\\":
                skip = at + 1
            elif char == b'"':
                in_string = False
            continue
        if char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop is not None and deepest > stop:
                    break
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when `body` nests deeper than `limit`: a JSON body, or the JSON in a form's `payload` field (Slack's
    interactivity); other form fields are never parsed as JSON, so they are not looked into."""
    if body.lstrip()[:1] in (b"{", b"["):
        return json_depth(body, limit) > limit
    if b"payload=" not in body:
        return False
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return False  # not form data; whoever parses it refuses it
    return any(json_depth(value.encode(), limit) > limit for name, value in fields if name == "payload")
