"""Pure pieces of the subscription kinds: the next bill date, finding a plan by name, the recommendation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.actions.kinds import ProposalError
from bot.actions.kinds.subscription_plans import find_plan, next_bill_date
from bot.actions.kinds.subscription_preview import Option, recommend
from bot.zuora.orders import CatalogPlan


@pytest.mark.parametrize(("today", "bcd", "expected"), [
    (date(2026, 11, 20), 1, date(2026, 12, 1)), (date(2026, 12, 20), 1, date(2027, 1, 1)),
    (date(2026, 11, 10), 15, date(2026, 11, 15)), (date(2026, 1, 31), 31, date(2026, 2, 28)),
    (date(2026, 11, 1), 1, date(2026, 12, 1)), (date(2026, 11, 20), None, date(2026, 12, 1)),
])
def test_next_bill_date(today: date, bcd: int | None, expected: date) -> None:
    assert next_bill_date(today, bcd) == expected


def plan(name: str, state: str = "Active") -> CatalogPlan:
    return CatalogPlan.model_validate({"id": name.lower().replace(" ", "-"), "name": name, "state": state})


PLANS = [plan("Business"), plan("Business EU"), plan("Growth"), plan("Legacy Gold", "Expired")]


def test_find_plan_exact_any_case_then_the_one_containing_it() -> None:
    assert find_plan(PLANS, "business").name == "Business"
    assert find_plan(PLANS, "grow").name == "Growth"
    with pytest.raises(ProposalError, match="matches several plans: Business, Business EU"):
        find_plan(PLANS, "busi")
    with pytest.raises(ProposalError, match="no plan called “Legacy Gold”"):
        find_plan(PLANS, "Legacy Gold")  # not an active plan


def option(label: str, day: date, due: str, mrr: str) -> Option:
    return Option(label=label, effective=day, due_now=Decimal(due), due_lines=[], next_date=date(2026, 12, 1),
                  next_invoice=Decimal("100"), mrr_delta=Decimal(mrr))


def test_recommendation_today_for_an_upgrade_next_period_for_a_downgrade() -> None:
    today, later = date(2026, 11, 20), date(2026, 12, 1)
    label, why = recommend([option("today", today, "59.54", "150"), option("next period", later, "0", "150")], "USD")
    assert label == "today" and "59.54 USD is billed now" in why
    label, why = recommend([option("today", today, "-82.50", "-225"), option("next period", later, "0", "-225")],
                           "USD")
    assert label == "next period" and "no proration credit (today would credit 82.50 USD" in why


def test_the_card_says_so_when_zuora_prorates_differently() -> None:
    from bot.actions.kinds.subscription_preview import explainer_note

    same = option("today", date(2026, 11, 20), "59.54", "150")
    assert explainer_note(same, Decimal("55.00"), Decimal("55.00"), "USD") == []
    [note] = explainer_note(same, Decimal("50.00"), Decimal("55.00"), "USD")
    assert "Zuora prorates 50.00 USD before tax where actual days would give 55.00 USD" in note
