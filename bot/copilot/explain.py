"""The invoice explainer: two invoices with their items in, the drivers of the difference out (pure).

Lines are matched across the two invoices by (subscription number, charge name), which both v1
and Object Query items carry. Within one charge, each line is classed as a discount, a credit, a
one-time charge, a proration (a partial service period) or a run-rate line (recurring or usage),
and each class yields its own drivers. Tax is one driver of its own. Whatever the items cannot
account for (an item list that is incomplete, an invoice-level adjustment) becomes an explicit
`unexplained` driver, so the drivers always add up to the difference of the two invoice amounts,
to the cent.

An account's first invoice is explained by its composition (the same drivers against an empty
previous invoice); invoices in different currencies are not compared. The lines become drivers in
`bot.copilot.drivers`; what is returned is defined in `bot.copilot.explanation`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from bot.copilot.drivers import (
    RATE_TOLERANCE,
    DriverBuilder,
    Group,
    LineClass,
    charge_key,
    charge_types_of,
    classify,
    tax_rate,
)
from bot.copilot.explanation import Driver, Explanation, InvoiceRef
from bot.money import money, qty, to_cents
from bot.zuora import Invoice, InvoiceItem

__all__ = ["explain"]

_ZERO = Decimal(0)


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
    types = charge_types_of([*current_items, *prior], charge_types or {})
    groups: dict[tuple[str, str], Group] = {}
    for side, items in (("previous", prior), ("current", current_items)):
        for item in items:
            group = groups.setdefault(charge_key(item), Group(item.subscription_number, item.charge_name))
            getattr(group, side).append(item)

    bases: dict[tuple[str | None, int], Decimal] = defaultdict(lambda: _ZERO)
    for side, items in ((0, prior), (1, current_items)):
        for item in items:
            if classify(item, types.get(charge_key(item))) == "regular":
                bases[(item.subscription_number, side)] += item.charge_amount
    builder = DriverBuilder(current.currency, previous.invoice_number if previous else None, bases)
    for key, group in groups.items():
        by_class: dict[LineClass, tuple[list[InvoiceItem], list[InvoiceItem]]] = defaultdict(lambda: ([], []))
        for side, items in ((0, group.previous), (1, group.current)):
            for item in items:
                by_class[classify(item, types.get(key))][side].append(item)
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
    elif rate_before is not None and rate_after is not None and abs(rate_before - rate_after) > RATE_TOLERANCE:
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
