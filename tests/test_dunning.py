"""Dunning rules (pure): the next step for a declined payment, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.actions.dunning import DunningRules, Facts, decide, usual_day

TODAY = date(2026, 11, 20)
SOFT = Facts(today=TODAY, code="51", message="Insufficient funds", currency="USD", invoice_number="INV00000448",
             balance=Decimal("3678.81"), days_overdue=0, failed_attempts=1, consecutive_failures=1,
             card_expired=False, has_backup=False, paid_last_12_months=Decimal("40000"), payment_days=(1, 1, 4))


def test_a_soft_decline_is_retried_on_the_customers_usual_day() -> None:
    d = decide(SOFT)
    assert d.kind == "payment_retry" and d.retry_on == date(2026, 12, 1) and not d.use_backup
    assert d.reasons[1] == "retry on 2026-12-01: the customer usually pays on day 1 of the month"
    assert "paid 40,000.00 USD in the last 12 months" in d.reasons
    no_history = decide(replace(SOFT, payment_days=(3, 9)))
    assert no_history.retry_on == date(2026, 11, 23)
    backup = decide(replace(SOFT, has_backup=True))
    assert backup.use_backup and "backup payment method" in backup.reasons[1]


@pytest.mark.parametrize(("change", "kind", "says"), [
    ({"code": "43", "message": "Stolen card"}, "dunning_email", "hard decline: stolen card"),
    ({"code": "54", "card_expired": True}, "dunning_email", "the card has expired"),
    ({"code": "05", "card_expired": True}, "dunning_email", "the card has expired"),
    ({"code": "ZZ"}, "dunning_email", "unknown decline code ZZ: not retried"),
    ({"days_overdue": 81}, "collections_escalation", "81 days overdue (escalation after 60)"),
    ({"failed_attempts": 4}, "collections_escalation", "4 failed attempts (at most 4)"),
    ({"consecutive_failures": 2, "balance": Decimal("6000")}, "payment_plan", "2 failures in a row"),
    ({"waiting": ("payment_retry",)}, None, "already waiting"),
])
def test_the_rules_in_order(change: dict[str, object], kind: str | None, says: str) -> None:
    d = decide(replace(SOFT, **change))  # type: ignore[arg-type]
    assert d.kind == kind and says in d.reasons[0]
    assert d.retry_on is None


def test_hard_declines_are_never_retried_whatever_else_holds() -> None:
    for code in ("04", "07", "14", "15", "41", "43", "54", "57", "62"):
        for failures in (0, 1, 5):
            d = decide(replace(SOFT, code=code, consecutive_failures=failures, balance=Decimal(10)))
            assert d.kind != "payment_retry"


def test_rules_are_configurable_and_usual_day_needs_two_payments() -> None:
    strict = DunningRules(max_attempts=1)
    assert decide(SOFT, strict).kind == "collections_escalation"
    assert usual_day(()) is None and usual_day((5,)) is None and usual_day((5, 5, 9)) == 5
