"""The invoice explainer's line work (pure): class each invoice line (discount, credit, one-time,
proration, run rate), group lines by charge, read percentage and tax rates back from amounts, and
turn one charge's lines on both invoices into drivers, each with its sentence."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from bot.copilot.explanation import Driver, DriverKind
from bot.money import cents, money, period, price, qty, to_cents, units
from bot.zuora import InvoiceItem

__all__ = ["RATE_TOLERANCE", "DriverBuilder", "Group", "LineClass", "charge_key", "charge_types_of", "classify",
           "exact_rate", "is_partial_period", "tax_rate"]

LineClass = Literal["discount", "credit", "one_time", "proration", "usage", "regular"]
_ZERO = Decimal(0)
_FULL_MONTHS = (1, 2, 3, 6, 12, 24, 36)


def is_partial_period(start: date | None, end: date | None) -> bool:
    """True when a service period is not a whole number of billing months (nor a calendar month)."""
    if start is None or end is None or start >= end:
        return False
    after = end + timedelta(days=1)
    if start.day == 1 and after.day == 1:
        return False
    return not any(_add_months(start, n) == after for n in _FULL_MONTHS)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Group:
    """One charge's lines on both invoices (matched by subscription number and charge name)."""

    subscription_number: str | None
    charge_name: str
    previous: list[InvoiceItem] = field(default_factory=list)
    current: list[InvoiceItem] = field(default_factory=list)


def charge_key(item: InvoiceItem) -> tuple[str, str]:
    """What matches a line across the two invoices: (subscription number, charge name casefolded)."""
    return (item.subscription_number or "", item.charge_name.strip().casefold())


def charge_types_of(items: Iterable[InvoiceItem], known: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """The charge type of each charge key: `known` first, else what the items carry."""
    types = dict(known)
    for item in items:
        if item.charge_type:
            types.setdefault(charge_key(item), item.charge_type)
    return types


def classify(item: InvoiceItem, charge_type: str | None) -> LineClass:
    """The class of one invoice line, which decides the drivers it yields."""
    if item.is_discount:
        return "discount"
    if charge_type == "OneTime" or (charge_type is None and item.service_start_date is not None
                                    and item.service_start_date == item.service_end_date):
        return "one_time"
    if item.charge_amount < 0:
        return "credit"
    if charge_type == "Usage":
        return "usage"
    if is_partial_period(item.service_start_date, item.service_end_date):
        return "proration"
    return "regular"


def _total(items: Iterable[InvoiceItem]) -> Decimal:
    return sum((i.charge_amount for i in items), _ZERO)


def _same(values: list[Decimal | None]) -> Decimal | None:
    distinct = set(values)
    return values[0] if len(distinct) == 1 else None


def _quantity(items: list[InvoiceItem]) -> Decimal | None:
    if not items or any(i.quantity is None for i in items):
        return None
    return sum((i.quantity for i in items if i.quantity is not None), _ZERO)


def _span(items: Iterable[InvoiceItem]) -> tuple[date | None, date | None]:
    starts = [i.service_start_date for i in items if i.service_start_date]
    ends = [i.service_end_date for i in items if i.service_end_date]
    return (min(starts) if starts else None, max(ends) if ends else None)


class DriverBuilder:
    """Collects drivers for one explanation, writing each sentence as it goes."""

    def __init__(self, currency: str, previous_number: str | None,
                 bases: Mapping[tuple[str | None, int], Decimal] | None = None) -> None:
        self.currency = currency
        self.previous_number = previous_number
        self.drivers: list[Driver] = []
        self.bases = bases or {}
        """(subscription, side: 0 previous / 1 current) -> its full-period recurring charges (what a
        percentage discount reduces)."""

    def percent(self, group: Group, side: int, discount: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """The percentage `discount` is of its subscription's recurring charges on one side, when it is exact."""
        base = self.bases.get((group.subscription_number, side), _ZERO)
        return exact_rate(-discount, base), (base if base else None)

    def pct(self, rate: Decimal | None, base: Decimal | None) -> str:
        return f"{qty(rate)} % of {self.m(base)}" if rate is not None and base is not None else ""

    def m(self, amount: Decimal, *, signed: bool = False) -> str:
        return money(amount, self.currency, signed=signed)

    def add(self, kind: DriverKind, amount: Decimal, sentence: str, group: Group | None = None, *,
            current: Sequence[InvoiceItem] = (), previous: Sequence[InvoiceItem] = (), **details: object) -> None:
        if amount == 0 and kind not in ("new_charge", "one_time_charge"):
            return
        start, end = _span(current or previous)
        self.drivers.append(Driver(
            kind=kind, amount=to_cents(amount), currency=self.currency, sentence=sentence,
            charge_name=group.charge_name if group else None,
            subscription_number=group.subscription_number if group else None,
            period_start=start, period_end=end,
            current_item_ids=tuple(i.item_id for i in current), previous_item_ids=tuple(i.item_id for i in previous),
            **details))  # type: ignore[arg-type]

    def lines(self, group: Group, cls: LineClass, prev: list[InvoiceItem], cur: list[InvoiceItem]) -> None:
        name = group.charge_name
        before = self.previous_number or "the previous invoice"
        if cls == "discount":
            p, c = _total(prev), _total(cur)
            r0, b0 = self.percent(group, 0, p) if prev else (None, None)
            r1, b1 = self.percent(group, 1, c) if cur else (None, None)
            rates = {"rate_before": r0, "rate_after": r1, "base_before": b0 if r0 is not None else None,
                     "base_after": b1 if r1 is not None else None}
            if not prev:
                of = f", {self.pct(r1, b1)}" if r1 is not None else ""
                self.add("discount_started", c, f"{name} started: {self.m(c)}{of} ({period(*_span(cur))}).", group,
                         current=cur, **rates)
            elif not cur:
                of = f" ({self.pct(r0, b0)})" if r0 is not None else ""
                self.add("discount_ended", -p, f"{name} ended: it took {self.m(-p)}{of} off {before} and does not "
                         f"apply to this one ({self.m(-p, signed=True)}).", group, previous=prev, **rates)
            elif r0 is not None and r1 is not None and r0 != r1:
                self.add("discount_changed", c - p, f"{name}: the discount rate went from {qty(r0)} % to "
                         f"{qty(r1)} % (of {self.m(b0)} → {self.m(b1)} of charges): {self.m(p)} → {self.m(c)} "
                         f"({self.m(c - p, signed=True)}).", group, current=cur, previous=prev, **rates)
            else:
                same = f" at the same {qty(r1)} % of {self.m(b0)} → {self.m(b1)}" if r1 is not None and r0 == r1 \
                    else ""  # a rate on one side only (the other's base is nil) is no "same rate"
                self.add("discount_changed", c - p, f"{name} changed from {self.m(p)} to {self.m(c)}{same} "
                         f"({self.m(c - p, signed=True)}).", group, current=cur, previous=prev, **rates)
            return
        for item in cur:
            when = period(item.service_start_date, item.service_end_date)
            if cls == "credit":
                self.add("credit", item.charge_amount, f"{name}: a credit of {self.m(-item.charge_amount)} for "
                         f"{when}.", group, current=[item])
            elif cls == "one_time":
                self.add("one_time_charge", item.charge_amount, f"{name}: a one-time charge of "
                         f"{self.m(item.charge_amount)} on {when}.", group, current=[item])
            else:
                days = _days(item)
                self.add("proration", item.charge_amount, f"{name}: "
                         f"{units(item.quantity, item.unit_of_measure)} × {price(item.unit_price)} {self.currency} "
                         f"prorated for {when}{days}: "
                         f"{self.m(item.charge_amount, signed=True)}.", group, current=[item],
                         quantity_after=item.quantity, unit_price_after=item.unit_price,
                         unit_of_measure=item.unit_of_measure)
        for item in prev:
            when = period(item.service_start_date, item.service_end_date)
            label = {"credit": "credit", "one_time": "one_time_charge", "proration": "proration"}[cls]
            what = {"credit": "credit", "one_time": "one-time charge", "proration": "partial-period charge"}[cls]
            self.add(label, -item.charge_amount, f"{name}: the {what} of {self.m(item.charge_amount)} for {when} "
                     f"on {before} does not recur ({self.m(-item.charge_amount, signed=True)}).", group,
                     previous=[item])

    def run_rate(self, group: Group, usage: bool, prev: list[InvoiceItem], cur: list[InvoiceItem], *,
                 first: bool) -> None:
        name = group.charge_name
        p, c = _total(prev), _total(cur)
        q0, q1 = _quantity(prev), _quantity(cur)
        u0, u1 = _same([i.unit_price for i in prev]) if prev else None, _same([i.unit_price for i in cur]) if cur \
            else None
        uom = next((i.unit_of_measure for i in [*cur, *prev] if i.unit_of_measure), None)
        details = {"quantity_before": q0, "quantity_after": q1, "unit_price_before": u0, "unit_price_after": u1,
                   "unit_of_measure": uom}
        if not prev:
            verb = "" if first else "new charge, "
            self.add("new_charge", c, f"{name}: {verb}{units(q1, uom)} × {price(u1)} {self.currency} for "
                     f"{period(*_span(cur))}: {self.m(c, signed=not first)}.", group, current=cur, **details)
            return
        if not cur:
            self.add("removed_charge", -p, f"{name} is no longer billed: it was {self.m(p)} on "
                     f"{self.previous_number} ({self.m(-p, signed=True)}).", group, previous=prev, **details)
            return
        delta = c - p
        if delta == 0:
            return
        if usage:
            self.add("usage_change", delta, f"{name}: usage went from {units(q0, uom)} to {units(q1, uom)} "
                     f"({self.m(p)} → {self.m(c)}, {self.m(delta, signed=True)}).", group, current=cur,
                     previous=prev, **details)
            return
        qty_changed = q0 is not None and q1 is not None and q0 != q1
        price_changed = u0 is not None and u1 is not None and u0 != u1
        if qty_changed and price_changed and q0 is not None and q1 is not None and u0 is not None:
            by_qty = cents((q1 - q0) * u0)
            self.add("quantity_change", by_qty, f"{name}: quantity {qty(q0)} → {units(q1, uom)} at "
                     f"{price(u0)} {self.currency}: {self.m(by_qty, signed=True)}.", group, current=cur, previous=prev,
                     **details)
            tier = " (the whole quantity re-priced: a volume tier)" if (q1 - q0) * (u1 - u0) < 0 else ""
            self.add("price_change", delta - by_qty, f"{name}: unit price {price(u0)} → {price(u1)} {self.currency} "
                     f"on all {units(q1, uom)}{tier}: {self.m(delta - by_qty, signed=True)}.", group, current=cur,
                     previous=prev, **details)
        elif qty_changed:
            self.add("quantity_change", delta, f"{name}: quantity {qty(q0)} → {units(q1, uom)} "
                     f"({self.m(p)} → {self.m(c)}, {self.m(delta, signed=True)}).", group, current=cur,
                     previous=prev, **details)
        else:
            what = f"unit price {price(u0)} → {price(u1)} {self.currency}" if price_changed else "amount changed"
            self.add("price_change", delta, f"{name}: {what} ({self.m(p)} → {self.m(c)}, "
                     f"{self.m(delta, signed=True)}).", group, current=cur, previous=prev, **details)


_RATE_STEP = Decimal("0.01")
RATE_TOLERANCE = Decimal("0.05")
"""Percentage points two computed tax rates may differ by and still be one rate (tax is rounded per line)."""


def exact_rate(part: Decimal, base: Decimal) -> Decimal | None:
    """`part` as a percentage of `base` with at most two decimals (`30` of `300` → `10`), when that percentage
    gives back `part` to the cent; None otherwise (or when `base` is zero)."""
    if not base or not part:
        return None
    rate = (part / base * 100).quantize(_RATE_STEP)
    if (rate * 4) % 1 or cents(base * rate / 100) != cents(part):  # whole quarters of a percent only: 10, 12.5
        return None
    return _plain(rate)


def _plain(rate: Decimal) -> Decimal:
    """`8.50` → `8.5`, `10.00` → `10` (never `1E+1`)."""
    return Decimal(format(rate.normalize(), "f"))


def tax_rate(tax: Decimal, base: Decimal) -> Decimal | None:
    """The rate (percent, two decimals) `tax` is of its taxable `base`; tax rounded per line may move it a little."""
    if not base or not tax:
        return None
    return _plain((tax / base * 100).quantize(_RATE_STEP))


def _days(item: InvoiceItem) -> str:
    start, end = item.service_start_date, item.service_end_date
    if start is None or end is None or (start.year, start.month) != (end.year, end.month):
        return ""
    return f" ({(end - start).days + 1} of {calendar.monthrange(start.year, start.month)[1]} days)"
