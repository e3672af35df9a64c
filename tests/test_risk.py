"""Churn-risk score: each signal on and off, the README's weight table matches the code, the tools over the sandbox."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.analytics.risk import (
    HIGH,
    MEDIUM,
    WEIGHTS,
    CardFact,
    ChangeFact,
    OverdueFact,
    PaymentFact,
    RiskInputs,
    score,
)
from bot.copilot import Copilot, Toolbox, ToolContext
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient

TODAY = date(2026, 11, 20)
D = Decimal


def signals(facts: RiskInputs) -> dict[str, int]:
    return {r.signal: r.points for r in score(facts, "A1", "id1").reasons}


def payment(day: date, failed: bool, n: int = 1) -> PaymentFact:
    return PaymentFact(f"P-{n:08d}", f"pay{n}", day, failed)


CASES = [
    ("failed_payment_unrecovered", RiskInputs(TODAY, payments=[payment(date(2026, 11, 1), True)]),
     RiskInputs(TODAY, payments=[payment(date(2026, 7, 1), True)])),  # older than 90 days: off
    ("failed_payment_recovered", RiskInputs(TODAY, payments=[payment(date(2026, 11, 1), True),
                                                             payment(date(2026, 11, 4), False, 2)]),
     RiskInputs(TODAY, payments=[payment(date(2026, 11, 4), False, 2)])),
    ("card_expired", RiskInputs(TODAY, card=CardFact("Visa ending 0077", "pm1", 10, 2026)),
     RiskInputs(TODAY, card=CardFact("Visa ending 0077", "pm1", 1, 2027))),
    ("card_expiring", RiskInputs(TODAY, card=CardFact("Visa ending 0077", "pm1", 12, 2026)),
     RiskInputs(TODAY, card=CardFact("Visa ending 0077", "pm1", 1, 2027))),
    ("downgrade_or_removal", RiskInputs(TODAY, changes=[ChangeFact(date(2026, 9, 5), "Seats 15 → 10", "A-S1", "s1")]),
     RiskInputs(TODAY, changes=[ChangeFact(date(2026, 4, 5), "Seats 15 → 10", "A-S1", "s1")])),  # > 6 months ago
    ("usage_falling", RiskInputs(TODAY, usage={"2026-07": D(400), "2026-08": D(300), "2026-09": D(200),
                                               "2026-10": D(100)}),
     RiskInputs(TODAY, usage={"2026-07": D(400), "2026-08": D(300), "2026-09": D(350), "2026-10": D(100)})),
    ("overdue_over_60", RiskInputs(TODAY, overdue=[OverdueFact("INV1", "i1", date(2026, 9, 1))]),
     RiskInputs(TODAY, overdue=[OverdueFact("INV1", "i1", date(2026, 11, 25))])),  # not yet due: off
    ("overdue_31_60", RiskInputs(TODAY, overdue=[OverdueFact("INV1", "i1", date(2026, 10, 10))]),
     RiskInputs(TODAY)),
    ("overdue_1_30", RiskInputs(TODAY, overdue=[OverdueFact("INV1", "i1", date(2026, 11, 1))]),
     RiskInputs(TODAY)),
]


@pytest.mark.parametrize(("signal", "on", "off"), CASES, ids=[c[0] for c in CASES])
def test_each_signal_on_and_off(signal: str, on: RiskInputs, off: RiskInputs) -> None:
    assert signals(on) == {signal: WEIGHTS[signal]}
    assert signal not in signals(off)


def test_every_weight_is_tested() -> None:
    assert {c[0] for c in CASES} == set(WEIGHTS)


def test_sum_cap_levels_and_at_most_two_changes() -> None:
    changes = [ChangeFact(date(2026, m, 5), f"Seats {m}", "A-S1", "s1") for m in (7, 8, 9, 10)]
    facts = RiskInputs(TODAY, payments=[payment(date(2026, 11, 1), True)], changes=changes,
                       card=CardFact("Visa", "pm1", 1, 2026), overdue=[OverdueFact("INV1", "i1", date(2026, 8, 1))],
                       usage={"2026-07": D(4), "2026-08": D(3), "2026-09": D(2), "2026-10": D(1)})
    risk = score(facts)
    assert [r.signal for r in risk.reasons].count("downgrade_or_removal") == 2
    assert risk.score == 100 and risk.level == "high"
    assert score(RiskInputs(TODAY)).level == "low" and score(RiskInputs(TODAY)).reasons == []
    medium = RiskInputs(TODAY, payments=[payment(date(2026, 11, 1), True)])
    assert MEDIUM <= score(medium).score < HIGH and score(medium).level == "medium"


def test_the_readme_table_matches_the_code() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("<!-- risk-weights -->")[1].split("<!-- /risk-weights -->")[0]
    rows = dict(re.findall(r"^\|\s*`(\w+)`\s*\|\s*(\d+)\s*\|", section, re.MULTILINE))
    assert {k: int(v) for k, v in rows.items()} == WEIGHTS
    assert f"from {HIGH}" in section and f"from {MEDIUM}" in section


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


def test_risk_of_an_account_with_cited_reasons(copilot: Copilot) -> None:
    answer = copilot.ask("risk A00000005")
    assert answer.intent == "churn_risk"
    assert "churn risk: *60* of 100 (high)" in answer.text
    assert "expired 09/2026" in answer.text and "no payment succeeded after it" in answer.text
    assert answer.follow_ups[0] == "offer A-S00000005 10% for 3 months"  # a retention offer, one click away
    kinds = {c.kind for c in answer.citations}
    assert {"account", "payment", "payment_method", "invoice"} <= kinds
    quiet = copilot.ask("risk A00000010")
    assert "*0* of 100 (low)" in quiet.text and "no signal" in quiet.text


def _active(sandbox: ZuoraSandbox) -> int:
    """Active accounts in the demo tenant (other stories add accounts; each is scored)."""
    return sum(a["status"] == "Active" for a in sandbox.tenant.accounts.values())


def test_at_risk_lists_the_highest_scores_first(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    answer = copilot.ask("who is at risk")
    assert answer.intent == "accounts_at_risk"
    rows = answer.facts["rows"]
    assert rows[0]["account"]["account_number"] == "A00000005"
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert answer.facts["scored"] == _active(sandbox) >= 70 and answer.facts["unread"] == 0


def test_account_answers_carry_the_risk_and_survive_when_it_cannot_be_read(copilot: Copilot,
                                                                           sandbox: ZuoraSandbox) -> None:
    answer = copilot.ask("what does A00000005 owe")
    assert "Churn risk: 60 of 100 (high): payment P-" in answer.text and "risk A00000005" in answer.follow_ups
    sandbox.inject("/v1/usage/accounts/*", statuses=[404] * 5)
    answer = copilot.ask("what does A00000005 owe")
    assert answer.intent == "get_account_summary" and "Churn risk" not in answer.text


def test_at_risk_survives_an_account_that_cannot_be_read(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    sandbox.inject("/v1/accounts/A00000005/summary", statuses=[404] * 3)
    answer = copilot.ask("at risk")
    assert answer.facts["unread"] == 1 and answer.facts["scored"] == _active(sandbox) - 1
    assert "1 could not be read" in answer.text
    assert all(r["account"]["account_number"] != "A00000005" for r in answer.facts["rows"])
