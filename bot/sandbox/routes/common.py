"""Helpers shared by the route modules: look-ups that raise Zuora's not-found, and v1 paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bot.sandbox.errors import SandboxError
from bot.sandbox.routing import Call

__all__ = ["lower_fields", "must_find", "v1_page"]

_LABELS = {"invoices": "Invoice", "accounts": "Account", "payments": "Payment", "credit_memos": "CreditMemo",
           "subscriptions": "Subscription", "bill_runs": "BillRun", "payment_methods": "PaymentMethod",
           "payment_schedules": "PaymentSchedule", "orders": "Order"}


def must_find(call: Call, kind: str, key: str) -> dict[str, Any]:
    """The record of `kind` with id or number `key`, else Zuora's category-40 error."""
    record = call.tenant.find(kind, key)
    if record is None:
        raise SandboxError(40, f"Cannot find a {_LABELS.get(kind, kind)} instance with id {key}.")
    return record


def v1_page(call: Call, rows: list[Any], key: str, *, default_size: int = 20) -> dict[str, Any]:
    """One page of a v1 list (`page` 1-based, `pageSize` ≤ 40) with `nextPage` as a full URL."""
    size = call.int_param("pageSize", default_size, high=40)
    number = call.int_param("page", 1)
    start = (number - 1) * size
    body: dict[str, Any] = {key: rows[start:start + size]}
    if start + size < len(rows):
        params = [(k, v) for k, v in call.params if k not in ("page", "pageSize")]
        params += [("page", str(number + 1)), ("pageSize", str(size))]
        body["nextPage"] = f"{call.base_url}{call.path}?{urlencode(params)}"
    body["success"] = True
    return body


def lower_fields(record: dict[str, Any], name: str) -> Any:
    """Read a field by its lower-case Object Query name (`accountid` → `accountId`)."""
    for key, value in record.items():
        if key.lower() == name:
            return value
    return None
