"""The sandbox's Object Query: same answers as the plain filter-and-sort it replaced, and a cursor walk in O(N)."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox import ZuoraSandbox
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import QueryCache, QuerySpec, page, parse_query
from bot.sandbox.routes.common import lower_fields

FIELDS = ("id", "accountid", "amount", "invoicedate", "status", "reversed")


def reference_page(records: list[dict[str, Any]], spec: QuerySpec) -> dict[str, Any]:
    """The implementation before indexes and kept results (filter and sort every record on every page)."""
    from bot.sandbox.query import _coerce

    def matches(value: Any, op: str, operand: str) -> bool:
        if op == "IN":
            return any(matches(value, "EQ", o.strip()) for o in operand.strip("[]").split(","))
        target = _coerce(operand, value)
        if target is None or value is None:
            return (value is None) == (target is None) if op == "EQ" else (value is None) != (target is None)
        if isinstance(value, str):
            value, target = value.lower(), str(target).lower()
        if op == "SW":
            return str(value).startswith(str(target))
        return {"EQ": value == target, "NE": value != target, "LT": value < target, "GT": value > target,
                "LE": value <= target, "GE": value >= target}[op]

    rows = [r for r in records if all(matches(lower_fields(r, f), op, v) for f, op, v in spec.filters)]
    if spec.sort:
        field, desc = spec.sort
        rows.sort(key=lambda r: (lower_fields(r, field) is None, lower_fields(r, field)), reverse=desc)
    chunk = rows[spec.offset:spec.offset + spec.page_size]
    return {"data": [r["id"] for r in chunk], "more": spec.offset + spec.page_size < len(rows)}


def walk(params: list[tuple[str, str]], step: Any) -> list[list[str]]:
    """Every page's ids, following `nextPage` cursors; `step(params)` answers one request."""
    pages, cursor = [], None
    for _ in range(10_000):
        body = step(params + ([("cursor", cursor)] if cursor else []))
        pages.append(body["data"])
        cursor = body.get("nextPage")
        if not cursor:
            return pages
    raise AssertionError("the cursor walk did not end")


def reference_walk(records: list[dict[str, Any]], params: list[tuple[str, str]]) -> list[list[str]]:
    pages, offset = [], 0
    while True:
        spec = parse_query(params, filterable=FIELDS)
        spec.offset = offset
        body = reference_page(records, spec)
        pages.append(body["data"])
        if not body["more"]:
            return pages
        offset += spec.page_size


def cached_walk(records: dict[str, dict[str, Any]], params: list[tuple[str, str]],
                field_of: Any = lower_fields) -> list[list[str]]:
    cache = QueryCache(records)
    return walk(params, lambda p: page(records.values(), parse_query(p, filterable=FIELDS), field_of,
                                       lambda r: r["id"], cache=cache))


ids = st.sampled_from(["a1", "A1", "b2", "c3", "d4"])
record = st.fixed_dictionaries({
    "accountId": st.one_of(st.none(), ids),
    "amount": st.one_of(st.none(), st.integers(-3, 3).map(Decimal)),
    "invoiceDate": st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 1, 5))),
    "status": st.sampled_from(["Posted", "Draft", "Canceled"]),
    "reversed": st.booleans(),
})
clause = st.one_of(
    st.tuples(st.just("accountid"), st.sampled_from(["EQ", "NE", "SW", "LT"]), st.sampled_from(["a1", "B2", "null"])),
    st.tuples(st.just("accountid"), st.just("IN"), st.sampled_from(["[a1,c3]", "[null,b2]", "[A1, d4]", "[zz]"])),
    st.tuples(st.just("id"), st.sampled_from(["EQ", "IN"]), st.sampled_from(["r1", "[r0,r3,r7]", "R2"])),
    st.tuples(st.just("amount"), st.sampled_from(["EQ", "GT", "LE", "NE", "IN"]), st.sampled_from(["0", "1", "[0,2]"])),
    st.tuples(st.just("invoicedate"), st.sampled_from(["LT", "GE", "EQ"]), st.just("2026-01-03")),
    st.tuples(st.just("status"), st.sampled_from(["EQ", "IN", "NE"]), st.sampled_from(["posted", "[Draft,Posted]"])),
    st.tuples(st.just("reversed"), st.just("EQ"), st.sampled_from(["true", "false"])),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(record, max_size=40), clauses=st.lists(clause, max_size=3),
       sort=st.one_of(st.none(), st.tuples(st.sampled_from(["amount", "invoicedate", "accountid", "status"]),
                                           st.sampled_from(["ASC", "DESC"]))),
       size=st.integers(1, 7))
def test_every_page_is_what_the_plain_implementation_gave(rows: list[dict[str, Any]], clauses: list[Any],
                                                          sort: Any, size: int) -> None:
    records = {f"r{n}": {"id": f"r{n}", **row} for n, row in enumerate(rows)}
    params = [("filter[]", f"{f}.{op}:{v}") for f, op, v in clauses] + [("pageSize", str(size))]
    if sort:
        params.append(("sort[]", f"{sort[0]}.{sort[1]}"))
    try:
        expected = reference_walk(list(records.values()), params)
    except SandboxError as exc:  # a malformed operand, met when a record of that type is compared
        if any(f in ("id", "accountid") and op in ("EQ", "IN") for f, op, _ in clauses):
            return  # an index narrowed the records first: fewer comparisons, so maybe no error
        with pytest.raises(SandboxError) as raised:
            cached_walk(records, params)
        assert raised.value.message == exc.message
        return
    assert cached_walk(records, params) == expected


def test_a_cursor_walk_reads_each_record_a_bounded_number_of_times() -> None:
    n, size = 2_000, 20
    records = {f"r{k:05d}": {"id": f"r{k:05d}", "accountId": f"acc{k % 7}", "amount": Decimal(k % 13),
                             "status": "Posted" if k % 3 else "Draft"} for k in range(n)}
    reads = [0]

    def counted(record: dict[str, Any], name: str) -> Any:
        reads[0] += 1
        return lower_fields(record, name)

    params = [("filter[]", "status.EQ:Posted"), ("sort[]", "amount.DESC"), ("pageSize", str(size))]
    pages = cached_walk(records, params, counted)
    matching = sum(1 for r in records.values() if r["status"] == "Posted")
    assert len(pages) == -(-matching // size) > 60
    assert sum(map(len, pages)) == matching
    # one filter read per record and one sort-key read per match, for the whole walk (was that per page)
    assert reads[0] == n + matching


def test_an_identifier_filter_reads_only_the_matching_records_once_indexed() -> None:
    records = {f"r{k:05d}": {"id": f"r{k:05d}", "accountId": f"acc{k % 100}"} for k in range(5_000)}
    cache = QueryCache(records)
    reads = [0]

    def counted(record: dict[str, Any], name: str) -> Any:
        reads[0] += 1
        return lower_fields(record, name)

    def ask(clause: str) -> list[str]:
        spec = parse_query([("filter[]", clause), ("pageSize", "99")], filterable=FIELDS)
        return page(records.values(), spec, counted, lambda r: r["id"], cache=cache)["data"]

    assert len(ask("accountid.EQ:ACC7")) == 50  # builds the index: one read per record
    reads[0] = 0
    assert ask("accountid.IN:[acc1,acc2]") == [f"r{k:05d}" for k in range(5_000) if k % 100 in (1, 2)][:99]
    assert reads[0] == 100  # the 100 candidates are checked again, nothing else is read
    records["r99999"] = {"id": "r99999", "accountId": "acc1"}  # a new record: the index is rebuilt
    assert ask("accountid.EQ:acc1")[-1] == "r99999"


def test_cursors_of_an_evicted_or_older_result_still_page_correctly(sandbox: ZuoraSandbox) -> None:
    t = sandbox.tenant
    posted = sorted((i for i in t.invoices.values() if i["status"] == "Posted"),
                    key=lambda i: i["invoiceDate"], reverse=True)
    params = [("filter[]", "status.EQ:Posted"), ("sort[]", "invoicedate.DESC"), ("pageSize", "7")]
    spec = parse_query(params, filterable=("status", "invoicedate"))
    from bot.sandbox.query import cache_of

    cache = cache_of(t, "invoices")
    first = page(t.invoices.values(), spec, lower_fields, lambda r: r["id"], cache=cache)
    for _ in range(40):  # push the first result out of the kept results
        page(t.invoices.values(), parse_query(params, filterable=("status", "invoicedate")), lower_fields,
             lambda r: r["id"], cache=cache)
    for cursor in (first["nextPage"], base64.urlsafe_b64encode(json.dumps({"offset": 7}).encode()).decode()):
        later = page(t.invoices.values(), parse_query([*params, ("cursor", cursor)], filterable=("status",
                     "invoicedate")), lower_fields, lambda r: r["id"], cache=cache)
        assert later["data"] == [i["id"] for i in posted[7:14]]


@pytest.mark.parametrize("cursor", ["not-base64!", base64.urlsafe_b64encode(b'{"offset": -1}').decode(),
                                    base64.urlsafe_b64encode(b'{"offset": 1, "query": 5}').decode(),
                                    base64.urlsafe_b64encode(b'[1]').decode()])
def test_a_garbled_cursor_is_a_category_27_error(cursor: str) -> None:
    with pytest.raises(SandboxError) as raised:
        parse_query([("cursor", cursor)], filterable=())
    assert raised.value.category == 27
