"""PII canary: names, emails, phones and addresses planted in every Zuora text field the tools read
(and typed by the user) never reach the model with REDACT_PII on. The model is real litellm calling
the loopback OpenAI-compatible stub, so what is checked is what went over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.copilot import Copilot, LiteLLMModel, Toolbox, ToolContext
from bot.sandbox import ZuoraSandbox
from tests.conftest import make_client
from tests.fakes.openai_stub import OpenAIStub, text, tool_calls
from tests.plant import plant

FIRST = ("Marisol", "Thaddeus", "Ingrid", "Oluwaseun", "Perpetua", "Casimir", "Leocadia", "Barnaby", "Wilhelmina")
LAST = ("Quibbleworth", "Okonkwo", "Vantongeren", "Featherstonehaugh", "Ravensbrook", "Delacroix", "Mbeki",
        "Thistlewood", "Carraway")
COMPANY = ("Zephyrine Freight", "Zephyrine Holdings", "Zephyrine Dynamics", "Zephyrine Outfitters",
           "Zephyrine Botanicals", "Zephyrine Marine", "Zephyrine Looms", "Zephyrine Cartography")


class Canaries:
    """Makes a distinct piece of PII for every planted field and remembers each, by category."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {"name": set(), "email": set(), "phone": set(), "address": set()}

    def person(self, n: int) -> tuple[str, str]:
        return FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]

    def phone(self, n: int) -> str:
        formats = (f"+1-555-{100 + n % 800:03d}-{n % 10000:04d}", f"+44 20 7946 {n % 10000:04d}",
                   f"(512) 555-{n % 10000:04d}")
        return formats[n % 3]

    def __call__(self, field: str, n: int) -> str:
        first, last = self.person(n)
        email = f"{first}.{last}{n}@canary-mail.example".lower()
        phone, street = self.phone(n), f"{n + 1} Larkspur Lane"
        kind = field.split(".")[-1]
        if field == "account.name":
            value = f"{COMPANY[n % len(COMPANY)]} {LAST[n % len(LAST)]}"
            self.seen["name"].add(value)
            return value
        if kind == "firstName":
            self.seen["name"].add(first)
            return first
        if kind == "lastName":
            self.seen["name"].add(last)
            return last
        if kind in ("workEmail", "personalEmail"):
            self.seen["email"].add(email)
            return email
        if kind == "workPhone":
            self.seen["phone"].add(phone)
            return phone
        if kind == "address1":
            self.seen["address"].add(street)
            return street
        if kind in ("address2", "city", "state", "zipCode", "country"):
            return None  # parts of an address, not PII on their own
        self.seen["name"].add(f"{first} {last}")
        self.seen["email"].add(email)
        self.seen["phone"].add(phone)
        self.seen["address"].add(street)
        return f"Seats for {first} {last} ({email}, {phone}, {street})"


TYPED = ("remind INV-385 please, Perpetua Ravensbrook asked for Zephyrine; reach her at "
         "perpetua.r@canary-mail.example, +44 20 7946 0999 or 77 Larkspur Lane")
TYPED_PII = {"name": {"Perpetua Ravensbrook", "Zephyrine"}, "email": {"perpetua.r@canary-mail.example"},
             "phone": {"+44 20 7946 0999"}, "address": {"77 Larkspur Lane"}}
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("get_account_summary", {"account": "A00000007"}), ("list_payments", {"account": "A00000007"}),
    ("list_overdue_invoices", {}), ("get_invoice", {"invoice": "INV-42"}), ("explain_invoice", {"invoice": "INV-42"}),
    ("get_subscription", {"subscription": "A-S00000002"}), ("get_usage", {"account": "A00000002"}),
    ("get_account_summary", {"account": "[NAME_1]"}),  # ambiguous: the candidates list names several accounts
    ("propose_dunning_email", {"invoice": "INV-385", "reason": "[NAME_2] asked"}),
]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub()
    yield server
    server.close()


def _run(stub: OpenAIStub, *, redact: bool) -> tuple[Canaries, str, Any]:
    sandbox = ZuoraSandbox()
    canaries = Canaries()
    assert plant(sandbox.tenant, canaries) > 100
    from tests.conftest import FakeClock

    client = make_client(sandbox, FakeClock())
    model = LiteLLMModel("openai/stub-model", api_base=stub.url, api_key="test")
    copilot = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)), model=model,
                      redact_pii=redact, max_tool_calls=len(SCRIPT))
    stub.queue(*[tool_calls(call) for call in SCRIPT], text("Drafted a reminder for INV00000385, as [NAME_2] asked."))
    answer = copilot.ask(TYPED)
    client.close()
    return canaries, json.dumps(stub.requests), answer


def test_no_planted_or_typed_pii_reaches_the_model(stub: OpenAIStub) -> None:
    canaries, sent, answer = _run(stub, redact=True)
    assert len(stub.requests) == len(SCRIPT) + 1
    tool_results = [m for m in stub.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_results) == len(SCRIPT) and all('"error"' not in m["content"] for m in tool_results[:7])
    assert "candidates" in tool_results[7]["content"]  # the ambiguity list was sent, redacted
    assert stub.requests[0]["messages"][1]["content"] == (
        "remind INV-385 please, [NAME_2] asked for [NAME_1]; reach her at [EMAIL_1], [PHONE_1] or [ADDRESS_1]")
    leaks = {category: sorted(v for v in values | TYPED_PII[category] if v.casefold() in sent.casefold())
             for category, values in canaries.seen.items()}
    assert leaks == {"name": [], "email": [], "phone": [], "address": []}
    assert answer.source == "llm" and answer.intent == "propose_dunning_email", answer.notes
    assert answer.text == "Drafted a reminder for INV00000385, as Perpetua Ravensbrook asked."  # restored


def test_without_redaction_the_same_canaries_do_reach_the_model(stub: OpenAIStub) -> None:
    canaries, sent, _ = _run(stub, redact=False)  # proves the canaries are planted where the tools read
    for category, values in canaries.seen.items():
        assert any(v.casefold() in sent.casefold() for v in values), category
