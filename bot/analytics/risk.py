"""Churn-risk score of an account from billing data only (pure: facts in, score and cited reasons out).

Deterministic weights (the README's table is checked against `WEIGHTS` by a test):

    failed_payment_unrecovered   a payment failed in the last 90 days and none succeeded after it
    failed_payment_recovered     a payment failed in the last 90 days, and a later one succeeded
    card_expired                 the default card's expiry month has passed
    card_expiring                the default card expires this month or next
    downgrade_or_removal         each quantity decrease or removed product in the last 6 months (at most 2)
    usage_falling                usage fell three months in a row (the last four complete months)
    overdue_over_60              the oldest overdue invoice is more than 60 days past due
    overdue_31_60                … 31 to 60 days past due
    overdue_1_30                 … 1 to 30 days past due

The score is the sum, capped at 100; `high` from 50, `medium` from 25, else `low`. Every reason
names the Zuora object it comes from (payment, payment method, subscription, invoice, account).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

__all__ = ["HIGH", "MAX_CHANGES", "MEDIUM", "WEIGHTS", "CardFact", "ChangeFact", "OverdueFact", "PaymentFact",
           "Reason", "Risk", "RiskInputs", "score"]

WEIGHTS: dict[str, int] = {
    "failed_payment_unrecovered": 30,
    "failed_payment_recovered": 10,
    "card_expired": 25,
    "card_expiring": 10,
    "downgrade_or_removal": 15,
    "usage_falling": 20,
    "overdue_over_60": 25,
    "overdue_31_60": 15,
    "overdue_1_30": 5,
}
MAX_CHANGES = 2
"""At most this many downgrades or removals count."""
HIGH, MEDIUM = 50, 25
PAYMENT_WINDOW = timedelta(days=90)
CHANGE_WINDOW_MONTHS = 6

Cite = Literal["payment", "payment_method", "subscription", "invoice", "account"]


@dataclass(frozen=True)
class PaymentFact:
    number: str
    payment_id: str
    day: date
    failed: bool


@dataclass(frozen=True)
class CardFact:
    label: str
    """What a person recognises: "Visa ending 4242"."""
    payment_method_id: str
    expiration_month: int
    expiration_year: int


@dataclass(frozen=True)
class ChangeFact:
    day: date
    what: str
    """"Seats 15 → 10" or "removed SMS add-on"."""
    subscription_number: str
    subscription_id: str


@dataclass(frozen=True)
class OverdueFact:
    invoice_number: str
    invoice_id: str
    due_date: date


@dataclass(frozen=True)
class RiskInputs:
    today: date
    payments: list[PaymentFact] = field(default_factory=list)
    card: CardFact | None = None
    changes: list[ChangeFact] = field(default_factory=list)
    usage: dict[str, Decimal] = field(default_factory=dict)
    """Total usage per month, `YYYY-MM`."""
    overdue: list[OverdueFact] = field(default_factory=list)


@dataclass(frozen=True)
class Reason:
    signal: str
    points: int
    text: str
    cite: Cite
    label: str
    object_id: str


@dataclass(frozen=True)
class Risk:
    score: int
    level: Literal["low", "medium", "high"]
    reasons: list[Reason]


def _months_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(today.day, 28))


def score(facts: RiskInputs, account_number: str = "", account_id: str = "") -> Risk:
    """The score and its reasons, strongest first."""
    today = facts.today
    reasons: list[Reason] = []
    recent = sorted((p for p in facts.payments if today - PAYMENT_WINDOW <= p.day <= today), key=lambda p: p.day)
    failures = [p for p in recent if p.failed]
    if failures:
        unrecovered = [f for f in failures if not any(not p.failed and p.day >= f.day for p in recent)]
        if unrecovered:
            last = unrecovered[-1]
            reasons.append(Reason("failed_payment_unrecovered", WEIGHTS["failed_payment_unrecovered"],
                                  f"payment {last.number} failed on {last.day} and no payment succeeded after it",
                                  "payment", last.number, last.payment_id))
        else:
            last = failures[-1]
            reasons.append(Reason("failed_payment_recovered", WEIGHTS["failed_payment_recovered"],
                                  f"payment {last.number} failed on {last.day}; a later payment succeeded",
                                  "payment", last.number, last.payment_id))
    card = facts.card
    if card is not None:
        expiry = (card.expiration_year, card.expiration_month)
        next_month = (today.year + (today.month == 12), today.month % 12 + 1)
        if expiry < (today.year, today.month):
            reasons.append(Reason("card_expired", WEIGHTS["card_expired"],
                                  f"the default card ({card.label}) expired {card.expiration_month:02d}/"
                                  f"{card.expiration_year}", "payment_method", card.label, card.payment_method_id))
        elif expiry <= next_month:
            reasons.append(Reason("card_expiring", WEIGHTS["card_expiring"],
                                  f"the default card ({card.label}) expires {card.expiration_month:02d}/"
                                  f"{card.expiration_year}", "payment_method", card.label, card.payment_method_id))
    since = _months_back(today, CHANGE_WINDOW_MONTHS)
    changes = sorted((c for c in facts.changes if since <= c.day <= today), key=lambda c: c.day, reverse=True)
    for change in changes[:MAX_CHANGES]:
        reasons.append(Reason("downgrade_or_removal", WEIGHTS["downgrade_or_removal"],
                              f"{change.what} on {change.subscription_number} ({change.day})", "subscription",
                              change.subscription_number, change.subscription_id))
    months = sorted(m for m in facts.usage if m < f"{today:%Y-%m}")[-4:]
    if len(months) == 4:
        values = [facts.usage[m] for m in months]
        if all(b < a for a, b in zip(values, values[1:], strict=False)):
            trail = " → ".join(f"{m}: {v:,.0f}" for m, v in zip(months, values, strict=True))
            reasons.append(Reason("usage_falling", WEIGHTS["usage_falling"],
                                  f"usage fell three months in a row ({trail})", "account", account_number,
                                  account_id))
    overdue = [o for o in facts.overdue if o.due_date < today]
    if overdue:
        oldest = min(overdue, key=lambda o: o.due_date)
        days = (today - oldest.due_date).days
        signal = "overdue_over_60" if days > 60 else "overdue_31_60" if days > 30 else "overdue_1_30"
        reasons.append(Reason(signal, WEIGHTS[signal], f"{oldest.invoice_number} is {days} days past due (the "
                                                       f"oldest overdue invoice)", "invoice", oldest.invoice_number,
                              oldest.invoice_id))
    total = min(100, sum(r.points for r in reasons))
    level: Literal["low", "medium", "high"] = "high" if total >= HIGH else "medium" if total >= MEDIUM else "low"
    reasons.sort(key=lambda r: -r.points)
    return Risk(total, level, reasons)
