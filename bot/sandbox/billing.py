"""A tiny billing engine: the invoice items one subscription produces for one billing month.

Recurring charges bill in advance for the month, usage bills in arrears for the month before,
a segment that started mid-way through last month adds a proration line, percentage discounts
add negative lines applied to the recurring items, one-time fees bill on their trigger month, and
every line carries its tax. Amounts are rounded per line, half up; the invoice totals are the sums
of the lines, as in Zuora.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bot.sandbox.state import money

__all__ = ["Charge", "Line", "Segment", "add_months", "lines_for_month", "month_end", "monthly_value", "order_lines",
           "shift_months", "span_amount"]


@dataclass
class Segment:
    """One version of a charge: its quantity (or price, or discount) from `start` to `end`."""

    start: date
    quantity: Decimal = Decimal(1)
    price: Decimal = Decimal(0)
    end: date | None = None
    """Inclusive last day, or None while the segment is open-ended."""

    def active_on(self, day: date) -> bool:
        """True when `day` falls inside the segment."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass
class Charge:
    """A subscription charge. `model` is Zuora's charge model; `segments` its versions in order."""

    number: str
    name: str
    charge_type: str
    """`Recurring`, `Usage` or `OneTime`."""
    model: str
    """`PerUnit`, `FlatFee`, `Overage`, `DiscountPercentage`."""
    uom: str | None
    segments: list[Segment]
    included_units: Decimal = Decimal(0)
    """Usage (`Overage`): units included before the overage price applies."""
    applies_to: list[str] = field(default_factory=list)
    """Discounts: the charge numbers they reduce."""
    usage: dict[date, Decimal] = field(default_factory=dict)
    """Usage: quantity consumed per month (keyed by the month's first day)."""
    segment_ids: list[str] = field(default_factory=list)
    product_rate_plan_charge_id: str = ""
    sku: str = ""


@dataclass
class Line:
    """An invoice line before it becomes an item record."""

    charge: Charge
    segment_index: int
    amount: Decimal
    quantity: Decimal
    unit_price: Decimal
    start: date
    end: date
    processing_type: str = "Charge"
    applied_to: Line | None = None
    tax: Decimal = Decimal(0)
    description: str = ""


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _segment_at(charge: Charge, day: date) -> int | None:
    for index, segment in enumerate(charge.segments):
        if segment.active_on(day):
            return index
    return None


def lines_for_month(charges: list[Charge], bill_date: date, tax_rate: Decimal) -> list[Line]:
    """The lines of the invoice dated `bill_date` (the first of a month) for one subscription."""
    period_end = month_end(bill_date)
    last_start = add_months(bill_date, -1)
    last_end = bill_date - timedelta(days=1)
    last_days = Decimal(last_end.day)
    lines: list[Line] = []
    recurring: dict[str, Line] = {}

    for charge in charges:
        if charge.charge_type == "Recurring" and charge.model in ("PerUnit", "FlatFee"):
            index = _segment_at(charge, bill_date)
            if index is not None:
                seg = charge.segments[index]
                qty = seg.quantity if charge.model == "PerUnit" else Decimal(1)
                line = Line(charge, index, money(qty * seg.price), qty, seg.price, bill_date, period_end)
                lines.append(line)
                recurring[charge.number] = line
            for index, seg in enumerate(charge.segments[1:], start=1):
                if last_start < seg.start <= last_end:
                    previous = charge.segments[index - 1]
                    delta = seg.quantity - previous.quantity
                    days = Decimal((last_end - seg.start).days + 1)
                    amount = money(delta * seg.price * days / last_days)
                    if amount:
                        lines.append(Line(charge, index, amount, delta, seg.price, seg.start, last_end,
                                          description=f"Proration: {delta:+} {charge.uom or 'unit'}s "
                                                      f"for {int(days)} of {int(last_days)} days"))
        elif charge.charge_type == "Usage":
            index = _segment_at(charge, last_start)
            used = charge.usage.get(last_start)
            if index is not None and used is not None:
                seg = charge.segments[index]
                over = max(Decimal(0), used - charge.included_units)
                lines.append(Line(charge, index, money(over * seg.price), used, seg.price, last_start,
                                  last_end))
        elif charge.charge_type == "OneTime":
            seg = charge.segments[0]
            if bill_date <= seg.start <= period_end:
                lines.append(Line(charge, 0, money(seg.price), Decimal(1), seg.price, seg.start, seg.start))

    for charge in charges:
        if charge.model != "DiscountPercentage":
            continue
        index = _segment_at(charge, bill_date)
        if index is None:
            continue
        percent = charge.segments[index].price
        for number in charge.applies_to:
            target = recurring.get(number)
            if target is not None and target.amount:
                lines.append(Line(charge, index, -money(target.amount * percent / 100), Decimal(0),
                                  Decimal(0), bill_date, period_end, processing_type="Discount",
                                  applied_to=target))

    for line in lines:
        line.tax = money(line.amount * tax_rate / 100)
    return lines


# -- orders: billing a span of days (appended for order previews and billing-documents/generate) -----


def shift_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    first = add_months(day, months)
    return first.replace(day=min(day.day, month_end(first).day))


def span_amount(charge: Charge, start: date, end: date) -> tuple[Decimal, Decimal, Decimal]:
    """What a recurring charge (billed in advance, monthly) is worth from `start` to `end` inclusive.

    Returns (amount unrounded, quantity at the last active day, unit price there). A whole calendar
    month is the full price; a part of a month is prorated by actual days of that month.
    """
    total, quantity, price = Decimal(0), Decimal(0), Decimal(0)
    for seg in charge.segments:
        lo = max(seg.start, start)
        hi = min(seg.end or end, end)
        if lo > hi:
            continue
        qty = seg.quantity if charge.model == "PerUnit" else Decimal(1)
        quantity, price = qty, seg.price
        day = lo
        while day <= hi:
            last = min(month_end(day), hi)
            days_in_month = Decimal(month_end(day).day)
            total += qty * seg.price * Decimal((last - day).days + 1) / days_in_month
            day = last + timedelta(days=1)
    return total, quantity, price


def order_lines(before: list[Charge], after: list[Charge], *, changed_from: date | None, billed_through: date,
                through: date, tax_rate: Decimal) -> list[tuple[date, list[Line]]]:
    """The invoices (bill date, lines) an order's change produces, billed up to `through`.

    - Already billed days (`changed_from` … `billed_through`) are settled per charge: the charge as
      it is now minus what was billed before the change (a negative line is a proration credit).
    - Each later period (the 1st of a month after `billed_through`, up to `through`) bills every
      recurring charge in advance for the month, prorated when a segment covers part of it, and
      percentage discounts take their share of the charges they apply to (they do not prorate).
    Usage is billed by bill runs, not here; one-time charges are not supported.
    """
    invoices: list[tuple[date, list[Line]]] = []
    recurring = [c for c in after if c.charge_type == "Recurring" and c.model in ("PerUnit", "FlatFee")]
    if changed_from is not None and changed_from <= billed_through:
        old = {c.number: c for c in before}
        lines = []
        for charge in recurring + [c for c in before if c.number not in {a.number for a in after}]:
            now_amount, qty, price = span_amount(charge, changed_from, billed_through)
            then_amount, then_qty, then_price = (span_amount(old[charge.number], changed_from, billed_through)
                                                 if charge.number in old else (Decimal(0), Decimal(0), Decimal(0)))
            amount = money(now_amount) - money(then_amount)
            if amount:
                credit = amount < 0 and not now_amount
                lines.append(Line(charge, len(charge.segments) - 1, amount, qty - then_qty if not credit else -then_qty,
                                  price or then_price, changed_from, billed_through,
                                  description=f"{charge.name} {'Proration Credit' if amount < 0 else 'Proration'}"))
        if lines:
            invoices.append((changed_from, lines))
    bill_date = billed_through + timedelta(days=1)
    while bill_date <= through:
        period_end = month_end(bill_date)
        lines, by_number = [], {}
        for charge in recurring:
            amount, qty, price = span_amount(charge, bill_date, period_end)
            if amount:
                active = [s for s in charge.segments if s.start <= period_end and (s.end is None or s.end >= bill_date)]
                start = max(active[0].start, bill_date)
                end = min(active[-1].end or period_end, period_end)
                line = Line(charge, charge.segments.index(active[-1]), money(amount), qty, price, start, end)
                lines.append(line)
                by_number[charge.number] = line
        for charge in after:
            if charge.model != "DiscountPercentage":
                continue
            index = _segment_at(charge, bill_date)
            if index is None:
                continue
            percent = charge.segments[index].price
            targets = charge.applies_to or list(by_number)
            for number in targets:
                target = by_number.get(number)
                if target is not None and target.amount:
                    lines.append(Line(charge, index, -money(target.amount * percent / 100), Decimal(0), Decimal(0),
                                      bill_date, period_end, processing_type="Discount", applied_to=target,
                                      description=f"{charge.name} ({percent}%)"))
        if lines:
            invoices.append((bill_date, lines))
        bill_date = period_end + timedelta(days=1)
    for _, lines in invoices:
        for line in lines:
            line.tax = money(line.amount * tax_rate / 100)
    return invoices


def monthly_value(charges: list[Charge], day: date) -> tuple[Decimal, Decimal]:
    """(recurring MRR, discount MRR as a negative number) of the charges on `day`."""
    regular, by_number = Decimal(0), {}
    for charge in charges:
        if charge.charge_type == "Recurring" and charge.model in ("PerUnit", "FlatFee"):
            index = _segment_at(charge, day)
            if index is not None:
                seg = charge.segments[index]
                value = seg.price * (seg.quantity if charge.model == "PerUnit" else 1)
                regular += value
                by_number[charge.number] = value
    discount = Decimal(0)
    for charge in charges:
        if charge.model == "DiscountPercentage":
            index = _segment_at(charge, day)
            if index is not None:
                percent = charge.segments[index].price
                discount -= sum((by_number.get(n, Decimal(0)) for n in (charge.applies_to or list(by_number))),
                                Decimal(0)) * percent / 100
    return money(regular), money(discount)
