"""The invoice explainer: two invoices with their items in, the drivers of the difference out (pure).

Lines are matched across the two invoices by (subscription number, charge name), which both v1
and Object Query items carry. Within one charge, each line is classed as a discount, a credit, a
one-time charge, a proration (a partial service period) or a run-rate line (recurring or usage),
and each class yields its own drivers. Tax is one driver of its own. Whatever the items cannot
account for (an item list that is incomplete, an invoice-level adjustment) becomes an explicit
`unexplained` driver, so the drivers always add up to the difference of the two invoice amounts,
to the cent.

An account's first invoice is explained by its composition (the same drivers against an empty
previous invoice); invoices in different currencies are not compared.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.money import cents, money, period, price, qty, to_cents, units
from bot.zuora import Invoice, InvoiceItem

__all__ = ["Driver", "DriverKind", "Explanation", "InvoiceRef", "explain", "is_partial_period"]

DriverKind = Literal[
    "new_charge", "removed_charge", "quantity_change", "price_change", "proration", "usage_change",
    "discount_started", "discount_ended", "discount_changed", "one_time_charge", "tax_change", "credit",
    "unexplained",
]
LineClass = Literal["discount", "credit", "one_time", "proration", "usage", "regular"]
_ZERO = Decimal(0)
_FULL_MONTHS = (1, 2, 3, 6, 12, 24, 36)


class InvoiceRef(BaseModel):
    """The invoice facts an explanation cites."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    invoice_number: str
    invoice_date: date
    amount: Decimal
    tax_amount: Decimal
    currency: str
    account_id: str

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceRef:
        """The reference for a Zuora invoice."""
        return cls(invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
                   invoice_date=invoice.invoice_date, amount=to_cents(invoice.amount),
                   tax_amount=to_cents(invoice.tax_amount),
                   currency=invoice.currency, account_id=invoice.account_id)


class Driver(BaseModel):
    """One reason for the difference, with the amount it contributes and the lines it comes from."""

    model_config = ConfigDict(frozen=True)

    kind: DriverKind
    amount: Decimal
    """Signed: what this driver adds to the current invoice compared with the previous one."""
    currency: str
    sentence: str
    charge_name: str | None = None
    subscription_number: str | None = None
    period_start: date | None = None
    """The service period of the current invoice's lines (the previous invoice's when none)."""
    period_end: date | None = None
    current_item_ids: tuple[str, ...] = ()
    previous_item_ids: tuple[str, ...] = ()
    quantity_before: Decimal | None = None
    quantity_after: Decimal | None = None
    unit_price_before: Decimal | None = None
    unit_price_after: Decimal | None = None
    unit_of_measure: str | None = None
    rate_before: Decimal | None = None
    """For tax and percentage discounts: the rate in percent (`8.25`) on the previous invoice (a discount's only
    when it is a whole quarter of a percent that gives back the amount to the cent)."""
    rate_after: Decimal | None = None
    base_before: Decimal | None = None
    """The amount `rate_before` applies to (the taxable amount, or the discounted charges)."""
    base_after: Decimal | None = None


class Explanation(BaseModel):
    """Why an invoice differs from the account's previous one (or what a first invoice is made of)."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["comparison", "first_invoice", "mixed_currency"]
    invoice: InvoiceRef
    previous: InvoiceRef | None
    currency: str
    difference: Decimal | None
    """`invoice.amount - previous.amount`; None when there is nothing comparable."""
    direction: Literal["higher", "lower", "equal"] | None
    drivers: tuple[Driver, ...]
    summary: str

    @property
    def unexplained(self) -> Decimal:
        """The part of the difference no invoice line accounts for (zero when fully explained)."""
        return sum((d.amount for d in self.drivers if d.kind == "unexplained"), _ZERO)


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
class _Group:
    subscription_number: str | None
    charge_name: str
    previous: list[InvoiceItem] = field(default_factory=list)
    current: list[InvoiceItem] = field(default_factory=list)


def _key(item: InvoiceItem) -> tuple[str, str]:
    return (item.subscription_number or "", item.charge_name.strip().casefold())


def _charge_types(items: Iterable[InvoiceItem], known: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    types = dict(known)
    for item in items:
        if item.charge_type:
            types.setdefault(_key(item), item.charge_type)
    return types


def _classify(item: InvoiceItem, charge_type: str | None) -> LineClass:
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


class _Builder:
    """Collects drivers for one explanation, writing each sentence as it goes."""

    def __init__(self, currency: str, previous_number: str | None,
                 bases: Mapping[tuple[str | None, int], Decimal] | None = None) -> None:
        self.currency = currency
        self.previous_number = previous_number
        self.drivers: list[Driver] = []
        self.bases = bases or {}
        """(subscription, side: 0 previous / 1 current) -> its full-period recurring charges (what a
        percentage discount reduces)."""

    def percent(self, group: _Group, side: int, discount: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """The percentage `discount` is of its subscription's recurring charges on one side, when it is exact."""
        base = self.bases.get((group.subscription_number, side), _ZERO)
        return exact_rate(-discount, base), (base if base else None)

    def pct(self, rate: Decimal | None, base: Decimal | None) -> str:
        return f"{qty(rate)} % of {self.m(base)}" if rate is not None and base is not None else ""

    def m(self, amount: Decimal, *, signed: bool = False) -> str:
        return money(amount, self.currency, signed=signed)

    def add(self, kind: DriverKind, amount: Decimal, sentence: str, group: _Group | None = None, *,
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

    def lines(self, group: _Group, cls: LineClass, prev: list[InvoiceItem], cur: list[InvoiceItem]) -> None:
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
                same = f" at the same {qty(r1)} % of {self.m(b0)} → {self.m(b1)}" if r1 is not None else ""
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

    def run_rate(self, group: _Group, usage: bool, prev: list[InvoiceItem], cur: list[InvoiceItem], *,
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
_RATE_TOLERANCE = Decimal("0.05")
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


def explain(current: Invoice, current_items: Sequence[InvoiceItem], previous: Invoice | None,
            previous_items: Sequence[InvoiceItem] = (), *,
            charge_types: Mapping[tuple[str, str], str] | None = None) -> Explanation:
    """Explain `current` against the account's `previous` invoice (None: `current` is the first one).

    `charge_types` maps `(subscription number, charge name casefolded)` to `Recurring`/`Usage`/`OneTime`
    when the caller knows more than the items say (Object Query items carry no charge type).
    """
    ref = InvoiceRef.of(current)
    prev_ref = InvoiceRef.of(previous) if previous else None
    number = current.invoice_number
    if previous is not None and previous.currency != current.currency:
        return Explanation(
            mode="mixed_currency", invoice=ref, previous=prev_ref, currency=current.currency, difference=None,
            direction=None, drivers=(),
            summary=f"{number} is in {current.currency} and the previous invoice {previous.invoice_number} is in "
                    f"{previous.currency}; amounts in different currencies cannot be compared, so I won't guess a "
                    f"difference.")
    first = previous is None
    prior: Sequence[InvoiceItem] = () if previous is None else previous_items
    types = _charge_types([*current_items, *prior], charge_types or {})
    groups: dict[tuple[str, str], _Group] = {}
    for side, items in (("previous", prior), ("current", current_items)):
        for item in items:
            group = groups.setdefault(_key(item), _Group(item.subscription_number, item.charge_name))
            getattr(group, side).append(item)

    bases: dict[tuple[str | None, int], Decimal] = defaultdict(lambda: _ZERO)
    for side, items in ((0, prior), (1, current_items)):
        for item in items:
            if _classify(item, types.get(_key(item))) == "regular":
                bases[(item.subscription_number, side)] += item.charge_amount
    builder = _Builder(current.currency, previous.invoice_number if previous else None, bases)
    for key, group in groups.items():
        by_class: dict[LineClass, tuple[list[InvoiceItem], list[InvoiceItem]]] = defaultdict(lambda: ([], []))
        for side, items in ((0, group.previous), (1, group.current)):
            for item in items:
                by_class[_classify(item, types.get(key))][side].append(item)
        for cls in ("discount", "credit", "one_time", "proration"):
            if cls in by_class:
                builder.lines(group, cls, *by_class[cls])  # type: ignore[arg-type]
        prev_run = by_class["regular"][0] + by_class["usage"][0]
        cur_run = by_class["regular"][1] + by_class["usage"][1]
        if prev_run or cur_run:
            builder.run_rate(group, bool(by_class["usage"][0] or by_class["usage"][1]), prev_run, cur_run,
                             first=first)

    charge_drivers = sorted(builder.drivers, key=lambda d: -abs(d.amount))
    builder.drivers = []
    tax_before = sum((i.tax_amount for i in prior), _ZERO)
    tax_after = sum((i.tax_amount for i in current_items), _ZERO)
    base_before = sum((i.charge_amount for i in prior if i.tax_amount), _ZERO)
    base_after = sum((i.charge_amount for i in current_items if i.tax_amount), _ZERO)
    rate_before, rate_after = tax_rate(tax_before, base_before), tax_rate(tax_after, base_after)
    m = builder.m
    if first:
        tax_sentence = f"Tax: {m(tax_after)}" + (f" ({qty(rate_after)} % of {m(base_after)})." if rate_after else ".")
    elif rate_before is not None and rate_after is not None and abs(rate_before - rate_after) > _RATE_TOLERANCE:
        tax_sentence = (f"Tax rate went from {qty(rate_before)} % to {qty(rate_after)} % (taxable amount "
                        f"{m(base_before)} → {m(base_after)}): tax {m(tax_before)} → {m(tax_after)} "
                        f"({m(tax_after - tax_before, signed=True)}).")
    elif rate_after is not None:
        tax_sentence = (f"Tax went from {m(tax_before)} to {m(tax_after)} ({m(tax_after - tax_before, signed=True)}) "
                        f"at the same {qty(rate_after)} % rate, on a taxable amount of {m(base_before)} → "
                        f"{m(base_after)}.")
    else:
        tax_sentence = (f"Tax went from {m(tax_before)} to {m(tax_after)} "
                        f"({m(tax_after - tax_before, signed=True)}), following the taxed lines.")
    builder.add("tax_change", tax_after - tax_before, tax_sentence,
                current=[i for i in current_items if i.tax_amount], previous=[i for i in prior if i.tax_amount],
                rate_before=rate_before, rate_after=rate_after, base_before=base_before if prior else None,
                base_after=base_after)
    drivers = [*charge_drivers, *builder.drivers]
    difference = current.amount - (previous.amount if previous else _ZERO)
    rest = difference - sum((d.amount for d in drivers), _ZERO)
    if rest:
        drivers.append(Driver(kind="unexplained", amount=to_cents(rest), currency=current.currency,
                              sentence=f"{builder.m(rest, signed=True)} of the difference is not on any invoice line "
                                       f"I could read (an invoice-level adjustment or lines I could not load)."))
    direction: Literal["higher", "lower", "equal"] = (
        "higher" if difference > 0 else "lower" if difference < 0 else "equal")
    return Explanation(mode="first_invoice" if first else "comparison", invoice=ref, previous=prev_ref,
                       currency=current.currency, difference=to_cents(difference), direction=direction,
                       drivers=tuple(drivers), summary=_summary(current, previous, difference, rest))


def _summary(current: Invoice, previous: Invoice | None, difference: Decimal, rest: Decimal) -> str:
    c = current.currency
    if previous is None:
        return (f"{current.invoice_number} ({money(current.amount, c)}, {current.invoice_date}) is the account's "
                f"first invoice, so there is nothing to compare it with; here is what it is made of.")
    head = (f"{current.invoice_number} ({money(current.amount, c)}, {current.invoice_date}) vs "
            f"{previous.invoice_number} ({money(previous.amount, c)}, {previous.invoice_date}): ")
    if difference > 0:
        head += f"{money(difference, c)} higher."
    elif difference < 0:
        head += f"{money(-difference, c)} lower."
    else:
        head += "the same amount."
    if rest:
        head += f" {money(rest, c, signed=True)} of it is not explained by the invoice lines."
    return head
