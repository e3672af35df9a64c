"""Object Query mechanics: `filter[]`, `sort[]`, `expand[]`, `pageSize` and opaque cursors.

Field names match case-insensitively; filters are AND-combined; one sort field; `IN` takes
`[a,b]`; `null` matches missing values. A field that the object does not allow, or a malformed
clause, is a category-27 error (HTTP 400), as in Zuora.

Cost: with a `QueryCache` (one per tenant collection, `cache_of(tenant, kind)`), a query filters
and sorts once: its ordered result is kept under a token that its cursor carries, so each further
page is a slice, and a cursor walk over N records costs O(N) overall. `EQ`/`IN` filters on
identifier fields (which never change once a record exists) are answered from a hash index built
on first use, then checked again like any filter. A cursor whose result was evicted (or made by an
older sandbox) is still valid: the query runs again and the page is cut at the cursor's offset.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.errors import SandboxError

__all__ = ["QueryCache", "QuerySpec", "cache_of", "page", "parse_query"]

_CLAUSE = re.compile(r"^([A-Za-z0-9_]+)\.(EQ|NE|LT|GT|LE|GE|SW|IN):(.*)$", re.DOTALL)
INDEXED_FIELDS = frozenset({"id", "accountid", "invoiceid", "sourceid", "subscriptionid", "invoicenumber",
                            "accountnumber", "billingrunnumber", "paymentnumber", "subscriptionnumber"})
"""Fields whose value is set when a record is created and never changes: safe to index."""
_RESULTS_KEPT = 32
Record = dict[str, Any]
FieldOf = Callable[[Record, str], Any]


class QuerySpec:
    """A parsed Object Query request."""

    def __init__(self, filters: list[tuple[str, str, str]], sort: tuple[str, bool] | None,
                 expand: list[str], page_size: int, offset: int, token: str | None = None) -> None:
        self.filters, self.sort, self.expand = filters, sort, expand
        self.page_size, self.offset = page_size, offset
        self.token = token
        """The kept result a cursor points into (None on a first page)."""

    @property
    def key(self) -> tuple[Any, ...]:
        """What decides the rows and their order (not the page, not the expansions)."""
        return tuple(self.filters), self.sort


def parse_query(params: list[tuple[str, str]], *, filterable: Iterable[str], expandable: Iterable[str] = (),
                filter_required: bool = False) -> QuerySpec:
    """Validate and parse an Object Query list request's parameters."""
    allowed = {f.lower() for f in filterable}
    expand_ok = {e.lower() for e in expandable}
    filters: list[tuple[str, str, str]] = []
    sort: tuple[str, bool] | None = None
    expand: list[str] = []
    page_size, offset, token = 10, 0, None
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
                decoded = json.loads(base64.urlsafe_b64decode(value.encode()))
                offset = int(decoded["offset"])
                token = decoded.get("query")
            except (ValueError, KeyError, TypeError, AttributeError):
                raise SandboxError(27, "Invalid cursor") from None
            if offset < 0 or not isinstance(token, str | None):
                raise SandboxError(27, "Invalid cursor")
    if filter_required and not filters:
        raise SandboxError(23, "filter[] is required for this object")
    return QuerySpec(filters, sort, expand, page_size, offset, token)


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


def _options(operand: str) -> list[str]:
    return [o.strip() for o in operand.strip("[]").split(",")]


def _compare(value: Any, op: str, target: Any) -> bool:
    if target is None or value is None:
        return (value is None) == (target is None) if op == "EQ" else (value is None) != (target is None)
    if isinstance(value, str):
        value, target = value.lower(), str(target).lower()
    if op == "SW":
        return str(value).startswith(str(target))
    return {"EQ": value == target, "NE": value != target, "LT": value < target, "GT": value > target,
            "LE": value <= target, "GE": value >= target}[op]


def _predicate(op: str, operand: str) -> Callable[[Any], bool]:
    """One filter as a function of a field value; operands are parsed once per value type, not per record."""
    coerced: dict[tuple[type, str], Any] = {}

    def target(value: Any, text: str) -> Any:
        key = (type(value), text)
        if key not in coerced:
            coerced[key] = _coerce(text, value)  # raises for a malformed operand, as each record did before
        return coerced[key]

    if op != "IN":
        return lambda value: _compare(value, op, target(value, operand))
    options = _options(operand)
    lowered = frozenset(o.lower() for o in options if o != "null")
    has_null = "null" in options

    def is_in(value: Any) -> bool:
        if value is None:
            return has_null
        if isinstance(value, str):
            return value.lower() in lowered
        return any(_compare(value, "EQ", target(value, o)) for o in options)

    return is_in


class QueryCache:
    """Object Query state kept for one tenant collection: identifier indexes and recent results."""

    def __init__(self, records: dict[str, Record], *, results_kept: int = _RESULTS_KEPT) -> None:
        self.records = records
        self._indexes: dict[str, tuple[int, dict[Any, list[tuple[int, str]]]]] = {}
        self._unindexable: set[str] = set()
        self._results: OrderedDict[str, tuple[tuple[Any, ...], list[Record]]] = OrderedDict()
        self._results_kept = results_kept
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    def candidates(self, spec: QuerySpec, field_of: FieldOf) -> list[Record] | None:
        """The records an indexed `EQ`/`IN` filter allows, in collection order; None when no filter can use one."""
        for field, op, operand in spec.filters:
            if field not in INDEXED_FIELDS or op not in ("EQ", "IN"):
                continue
            index = self._index(field, field_of)
            if index is None:
                continue
            wanted = {None if o == "null" else o.lower() for o in (_options(operand) if op == "IN" else [operand])}
            hits = sorted(hit for key in wanted for hit in index.get(key, ()))
            return [self.records[record_id] for _, record_id in hits]
        return None

    def _index(self, field: str, field_of: FieldOf) -> dict[Any, list[tuple[int, str]]] | None:
        """value (lower-case) -> [(position, record id)], rebuilt when records were added; None if a value
        is neither text nor null."""
        built = self._indexes.get(field)
        if built is not None and built[0] == len(self.records):
            return built[1]
        if field in self._unindexable:
            return None
        index: dict[Any, list[tuple[int, str]]] = {}
        for position, (record_id, record) in enumerate(self.records.items()):
            value = field_of(record, field)
            if value is not None and not isinstance(value, str):
                self._unindexable.add(field)
                return None
            index.setdefault(value.lower() if value is not None else None, []).append((position, record_id))
        self._indexes[field] = (len(self.records), index)
        return index

    def keep(self, spec: QuerySpec, rows: list[Record]) -> str:
        """Keep a query's ordered result; returns the token its cursors carry."""
        with self._lock:
            token = f"q{next(self._tokens)}"
            self._results[token] = (spec.key, rows)
            while len(self._results) > self._results_kept:
                self._results.popitem(last=False)
            return token

    def kept(self, spec: QuerySpec) -> list[Record] | None:
        """The result a cursor points into, if still kept and made by the same query."""
        if spec.token is None:
            return None
        with self._lock:
            found = self._results.get(spec.token)
            if found is None or found[0] != spec.key:
                return None
            self._results.move_to_end(spec.token)
            return found[1]


def cache_of(tenant: Any, kind: str) -> QueryCache:
    """The `QueryCache` of the tenant's collection `kind` (e.g. "invoices"), made on first use."""
    caches: dict[str, QueryCache] = tenant.query_caches
    cache = caches.get(kind)
    if cache is None:
        cache = caches.setdefault(kind, QueryCache(getattr(tenant, kind)))
    return cache


def _select(records: Iterable[Record], spec: QuerySpec, field_of: FieldOf) -> list[Record]:
    checks = [(field, _predicate(op, operand)) for field, op, operand in spec.filters]
    rows = [r for r in records if all(check(field_of(r, field)) for field, check in checks)]
    if spec.sort:
        field, desc = spec.sort

        def key(record: Record) -> tuple[bool, Any]:
            value = field_of(record, field)
            return value is None, value

        rows.sort(key=key, reverse=desc)
    return rows


def page(records: Iterable[Record], spec: QuerySpec, field_of: FieldOf, render: Callable[[Record], dict[str, Any]],
         *, cache: QueryCache | None = None) -> dict[str, Any]:
    """Filter, sort and page stored `records`; `field_of(record, name)` reads a lower-case field.

    With `cache` (whose records are then the ones queried), the result is computed once per query
    and later pages are cut from it.
    """
    rows = cache.kept(spec) if cache is not None else None
    token = spec.token if rows is not None else None
    if rows is None:
        source = records
        if cache is not None:
            candidates = cache.candidates(spec, field_of)
            source = cache.records.values() if candidates is None else candidates
        rows = _select(source, spec, field_of)
    end = spec.offset + spec.page_size
    body: dict[str, Any] = {"data": [render(r) for r in rows[spec.offset:end]]}
    if end < len(rows):
        if cache is not None and token is None:
            token = cache.keep(spec, rows)
        cursor: dict[str, Any] = {"offset": end}
        if token is not None:
            cursor["query"] = token
        body["nextPage"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
    return body
