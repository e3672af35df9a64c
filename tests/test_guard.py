"""PII redaction and numeric grounding, directly."""

from __future__ import annotations

from decimal import Decimal

from bot.copilot.guard import Redactor, numbers, ungrounded


def test_payload_fields_and_shapes_are_redacted_and_restored() -> None:
    r = Redactor()
    payload = {"account": {"account_id": "4da57f3c916a96cd2b637a2cf4cc0a8a", "account_number": "A00000002",
                           "name": "Northwind Traders"},
               "bill_to": {"name": "Ana Ito", "email": "ana@northwind.example", "phone": "+1-555-123-4567",
                           "address": "1 Main St, Austin, Texas"},
               "lines": [{"charge_name": "Seats", "name": "Seats"}],
               "note": "customer wrote from ana.ito@gmail.com, call (512) 555-0199, card 4111 1111 1111 1111",
               "amount": "868.46", "due_date": "2026-03-03"}
    out = r.payload(payload)
    flat = str(out)
    for secret in ("Northwind", "Ana Ito", "ana@northwind", "555-123-4567", "Main St", "ana.ito@gmail.com",
                   "555-0199", "4111 1111 1111 1111"):
        assert secret not in flat, secret
    assert out["account"]["name"] == "[NAME_1]" and out["bill_to"]["name"] == "[NAME_2]"
    assert out["account"]["account_id"] == "4da57f3c916a96cd2b637a2cf4cc0a8a"
    assert out["lines"][0]["name"] == "Seats" and out["amount"] == "868.46" and out["due_date"] == "2026-03-03"
    assert "card ending 1111" in out["note"]
    assert r.restore("Hi [NAME_2] of [NAME_1], we wrote to [EMAIL_1]; [NAME_9] stays") == \
        "Hi Ana Ito of Northwind Traders, we wrote to ana@northwind.example; [NAME_9] stays"
    assert r.restore({"account": "[NAME_1]"}) == {"account": "Northwind Traders"}


def test_known_values_are_redacted_in_free_text_too() -> None:
    r = Redactor()
    r.payload({"name": "Stark Logistics"})
    assert r.text("what does stark logistics owe?") == "what does [NAME_1] owe?"


def test_numbers_ignore_identifiers_dates_and_list_markers() -> None:
    text = "1. INV00000042 (A-S00000002) on 2026-02-01 is *554.54 USD* higher: 5 drivers, 8.25% tax, $1,234.50"
    assert numbers(text) == {Decimal("554.54"), Decimal(5), Decimal("8.25"), Decimal("1234.5")}


def test_ungrounded_lists_only_invented_numbers() -> None:
    sources = ['{"difference": "554.54", "drivers": [{"amount": "250.00"}], "invoice_date": "2026-02-01"}']
    assert ungrounded("It rose by 554.54 USD, mostly usage (+250.00), on February 1, 2026.", sources) == []
    assert ungrounded("It rose by 554.54 USD, i.e. 177% more, plus a 19.99 fee.", sources) == \
        [Decimal("19.99"), Decimal(177)]
