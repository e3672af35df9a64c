"""Zuora JSON in and out with money kept exact: `loads` reads every non-integer number as `Decimal`,
`dumps` writes `Decimal` as an exact JSON number (and dates as ISO strings)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]


def loads(text: str | bytes) -> Any:
    """Parse Zuora JSON with every non-integer number as `Decimal` (money never passes through float)."""
    return json.loads(text, parse_float=Decimal)


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\x00D{value}\x00"
    if isinstance(value, dict):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Serialise to JSON with `Decimal` written as an exact JSON number, dates as ISO strings."""
    text = json.dumps(_mark_decimals(value), default=str, separators=(",", ":"))
    if "\\u0000D" not in text:
        return text
    out, rest = [], text
    while (start := rest.find('"\\u0000D')) != -1:
        end = rest.index('\\u0000"', start)
        out.append(rest[:start])
        out.append(rest[start + 8:end])
        rest = rest[end + 7:]
    out.append(rest)
    return "".join(out)
