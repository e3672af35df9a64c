"""Dunning rules (pure): a declined payment's facts in, the one next step and its reasons out.

In order, the first rule that applies wins:

1. a proposal for the invoice is already waiting → nothing (one at a time);
2. overdue beyond `escalate_after_days`, or `max_attempts` failed attempts → collections escalation;
3. expired card or hard decline (lost/stolen/invalid card, do-not-retry codes) → a reminder email
   asking for a new payment method; never a retry;
4. repeated failures (`plan_after_failures` in a row) on a balance of `plan_above` or more → payment plan;
5. soft decline (insufficient funds, do not honor, limits, issuer unavailable) → a retry on the next
   day that fits the customer's history (their usual payment day, else `retry_after_days`), with
   the backup payment method when there is one;
6. an unknown decline code → a reminder email (an unknown code is never retried).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from bot.money import money

__all__ = ["HARD", "SOFT", "Decision", "DunningRules", "Facts", "decide", "usual_day"]

SOFT = {"05": "do not honor", "51": "insufficient funds", "61": "exceeds withdrawal limit",
        "65": "activity limit exceeded", "91": "issuer unavailable", "96": "system malfunction",
        "19": "re-enter transaction", "N7": "decline for CVV2 failure"}
HARD = {"04": "pick up card", "07": "pick up card, special condition", "14": "invalid card number",
        "15": "no such issuer", "41": "lost card", "43": "stolen card", "54": "expired card",
        "57": "transaction not permitted", "62": "restricted card", "R0": "stop payment order",
        "R1": "revocation of authorization"}


@dataclass(frozen=True)
class DunningRules:
    max_attempts: int = 4
    escalate_after_days: int = 60
    plan_above: Decimal = Decimal(5000)
    plan_after_failures: int = 2
    retry_after_days: int = 3


@dataclass(frozen=True)
class Facts:
    """What Zuora says about a declined payment and its account, re-read after the callout."""

    today: date
    code: str | None
    message: str | None
    currency: str
    invoice_number: str
    balance: Decimal
    days_overdue: int
    failed_attempts: int
    """Failed payments on the account since the invoice was issued."""
    consecutive_failures: int
    """The payment method's count of failures in a row."""
    card_expired: bool
    has_backup: bool
    paid_last_12_months: Decimal
    payment_days: tuple[int, ...] = ()
    """Days of the month of the account's processed payments (its history)."""
    waiting: tuple[str, ...] = field(default=())
    """Kinds of proposals already pending for the invoice."""


@dataclass(frozen=True)
class Decision:
    kind: Literal["payment_retry", "dunning_email", "payment_plan", "collections_escalation"] | None
    reasons: tuple[str, ...]
    retry_on: date | None = None
    use_backup: bool = False


def usual_day(days: tuple[int, ...]) -> int | None:
    """The day of the month the customer usually pays, if at least two payments agree."""
    if not days:
        return None
    day, count = Counter(days).most_common(1)[0]
    return day if count >= 2 else None


def _next(day_of_month: int, after: date) -> date:
    candidate = after.replace(day=min(day_of_month, 28))
    if candidate <= after:
        month = candidate.month % 12 + 1
        candidate = candidate.replace(year=candidate.year + (candidate.month == 12), month=month)
    return candidate


def decide(facts: Facts, rules: DunningRules = DunningRules()) -> Decision:
    f = facts
    decline = f"declined with code {f.code or '?'} ({f.message or 'no message'})"
    value = f"paid {money(f.paid_last_12_months, f.currency)} in the last 12 months"
    if f.waiting:
        return Decision(None, (f"a {f.waiting[0].replace('_', ' ')} proposal for {f.invoice_number} is already "
                               f"waiting for approval",))
    if f.days_overdue > rules.escalate_after_days or f.failed_attempts >= rules.max_attempts:
        why = (f"{f.invoice_number} is {f.days_overdue} days overdue (escalation after "
               f"{rules.escalate_after_days})" if f.days_overdue > rules.escalate_after_days else
               f"{f.failed_attempts} failed attempts (at most {rules.max_attempts})")
        return Decision("collections_escalation", (why, decline, value))
    hard = f.code in HARD
    if f.card_expired or hard:
        why = "the card has expired" if f.card_expired else f"hard decline: {HARD[f.code or '']}"
        return Decision("dunning_email", (f"{why}: retrying cannot succeed; ask for a new payment method",
                                          decline, value))
    if f.consecutive_failures >= rules.plan_after_failures and f.balance >= rules.plan_above:
        return Decision("payment_plan", (
            f"{f.consecutive_failures} failures in a row on an open balance of {money(f.balance, f.currency)}",
            decline, value))
    if f.code in SOFT:
        day = usual_day(f.payment_days)
        retry_on = _next(day, f.today) if day else f.today + timedelta(days=rules.retry_after_days)
        when = f"the customer usually pays on day {day} of the month" if day else \
            f"no usual payment day in the history: {rules.retry_after_days} days from now"
        reasons = [f"soft decline: {SOFT[f.code or '']}; a retry can succeed", f"retry on {retry_on}: {when}",
                   decline, value]
        if f.has_backup:
            reasons.insert(1, "the account has a backup payment method: the retry uses it")
        return Decision("payment_retry", tuple(reasons), retry_on=retry_on, use_backup=f.has_backup)
    return Decision("dunning_email", (f"unknown decline code {f.code or '?'}: not retried; ask the customer",
                                      decline, value))
