"""Object Query mechanics: `filter[]`, `sort[]`, `expand[]`, `pageSize` and opaque cursors.

Field names match case-insensitively; filters are AND-combined; one sort field; `IN` takes
`[a,b]`; `null` matches missing values. A field that the object does not allow, or a malformed
clause, is a category-27 error (HTTP 400), as in Zuora.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.errors import SandboxError

__all__ = ["QuerySpec", "page", "parse_query"]

_CLAUSE = re.compile(r"^([A-Za-z0-9_]+)\.(EQ|NE|LT|GT|LE|GE|SW|IN):(.*)$", re.DOTALL)


class QuerySpec:
    """A parsed Object Query request."""

    def __init__(self, filters: list[tuple[str, str, str]], sort: tuple[str, bool] | None,
                 expand: list[str], page_size: int, offset: int) -> None:
        self.filters, self.sort, self.expand = filters, sort, expand
        self.page_size, self.offset = page_size, offset


def parse_query(params: list[tuple[str, str]], *, filterable: Iterable[str], expandable: Iterable[str] = (),
                filter_required: bool = False) -> QuerySpec:
    """Validate and parse an Object Query list request's parameters."""
    allowed = {f.lower() for f in filterable}
    expand_ok = {e.lower() for e in expandable}
    filters: list[tuple[str, str, str]] = []
    sort: tuple[str, bool] | None = None
    expand: list[str] = []
    page_size, offset = 10, 0
    for key, value in params:
        if key == "filter[]":
            match = _CLAUSE.match(value)
            if not match:
                raise SandboxError(27, f"Invalid filter '{value}': expected field.OPERATOR:value")
            field, op, operand = match.groups()
            if field.lower() not in allowed:
                raise SandboxError(27, f"Field '{field}' is not filterable")
            filters.append((field.lower(), op, operand))
        elif key == "sort[]":
            field, _, direction = value.rpartition(".")
            if not field or direction.upper() not in ("ASC", "DESC") or field.lower() not in allowed:
                raise SandboxError(27, f"Invalid sort '{value}'")
            if sort is not None:
                raise SandboxError(27, "Only one sort field is supported")
            sort = (field.lower(), direction.upper() == "DESC")
        elif key == "expand[]":
            for part in value.split(","):
                if part.strip().lower() not in expand_ok:
                    raise SandboxError(27, f"Invalid expand '{part.strip()}'")
                expand.append(part.strip().lower())
        elif key == "pageSize":
            if not value.isdigit() or not 1 <= int(value) <= 99:
                raise SandboxError(27, "pageSize must be an integer from 1 to 99")
            page_size = int(value)
        elif key == "cursor":
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(value.encode()))["offset"])
            except (ValueError, KeyError, TypeError):
                raise SandboxError(27, "Invalid cursor") from None
    if filter_required and not filters:
        raise SandboxError(23, "filter[] is required for this object")
    return QuerySpec(filters, sort, expand, page_size, offset)


def _coerce(operand: str, sample: Any) -> Any:
    if operand == "null":
        return None
    try:
        if isinstance(sample, bool):
            return operand.lower() == "true"
        if isinstance(sample, Decimal | int | float):
            return Decimal(operand)
        if isinstance(sample, datetime):
            return datetime.fromisoformat(operand.replace("Z", "+00:00")).replace(tzinfo=None)
        if isinstance(sample, date):
            return date.fromisoformat(operand[:10])
    except (ValueError, InvalidOperation):
        raise SandboxError(27, f"Invalid value '{operand}'") from None
    return operand


def _matches(value: Any, op: str, operand: str) -> bool:
    if op == "IN":
        options = [o.strip() for o in operand.strip("[]").split(",")]
        return any(_matches(value, "EQ", o) for o in options)
    target = _coerce(operand, value)
    if target is None or value is None:
        return (value is None) == (target is None) if op == "EQ" else (value is None) != (target is None)
    if isinstance(value, str):
        value, target = value.lower(), str(target).lower()
    if op == "SW":
        return str(value).startswith(str(target))
    return {"EQ": value == target, "NE": value != target, "LT": value < target, "GT": value > target,
            "LE": value <= target, "GE": value >= target}[op]


def page(records: Iterable[dict[str, Any]], spec: QuerySpec, field_of: Callable[[dict, str], Any],
         render: Callable[[dict], dict[str, Any]]) -> dict[str, Any]:
    """Filter, sort and page stored `records`; `field_of(record, name)` reads a lower-case field."""
    rows = [r for r in records if all(_matches(field_of(r, f), op, v) for f, op, v in spec.filters)]
    if spec.sort:
        field, desc = spec.sort
        rows.sort(key=lambda r: (field_of(r, field) is None, field_of(r, field)), reverse=desc)
    chunk = rows[spec.offset:spec.offset + spec.page_size]
    body: dict[str, Any] = {"data": [render(r) for r in chunk]}
    if spec.offset + spec.page_size < len(rows):
        token = json.dumps({"offset": spec.offset + spec.page_size}).encode()
        body["nextPage"] = base64.urlsafe_b64encode(token).decode()
    return body
