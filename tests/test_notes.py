"""Customer notes (issue 17): languages, templates per driver kind, locale formats, grounding, the kind, the sandbox."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.actions.executor import execute, find
from bot.actions.kinds import DraftContext, ProposalError, parse_proposal
from bot.copilot.explanation import Driver, Explanation, InvoiceRef
from bot.copilot.llm import Completion
from bot.copilot.notes import NoteSettings, draft_note, rephrase, rephrase_problems
from bot.copilot.router import route
from bot.notes import LANGUAGES, Choice, UnknownLanguage, compose, language_named, resolve, short_form
from bot.notes.templates import TEMPLATES
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.conftest import Databases

GOLDEN = Path(__file__).parent / "golden" / "notes"
KINDS = ("new_charge", "removed_charge", "quantity_change", "price_change", "proration", "usage_change",
         "discount_started", "discount_ended", "discount_changed", "one_time_charge", "tax_change", "credit",
         "unexplained")


def _ref(number: str, day: date, amount: str) -> InvoiceRef:
    return InvoiceRef(invoice_id=number.lower(), invoice_number=number, invoice_date=day, amount=Decimal(amount),
                      tax_amount=Decimal(0), currency="EUR", account_id="acc")


def _every_kind() -> Explanation:
    drivers = tuple(Driver(kind=k, amount=Decimal("1234.56") if i % 2 == 0 else Decimal("-78.90"), currency="EUR",
                           sentence="", charge_name=f"Charge {i}", period_start=date(2026, 3, 1),
                           period_end=date(2026, 3, 31), quantity_before=Decimal(20000),
                           quantity_after=Decimal(23500), unit_of_measure="API Calls")
                    for i, k in enumerate(KINDS))
    total = sum((d.amount for d in drivers), Decimal(0))
    return Explanation(mode="comparison", invoice=_ref("INV00000042", date(2026, 4, 1), str(1000 + total)),
                       previous=_ref("INV00000022", date(2026, 3, 1), "1000"), currency="EUR", difference=total,
                       direction="higher", drivers=drivers, summary="")


def test_every_language_has_a_line_for_every_driver_kind() -> None:
    assert set(LANGUAGES) == set(TEMPLATES)
    for language, table in TEMPLATES.items():
        assert set(KINDS) <= set(table), language
        assert set(table) == set(TEMPLATES["en"]), language


@pytest.mark.parametrize(("language", "amount", "day"), [
    ("en", "€1,234.56", "March 1, 2026"), ("de", "1.234,56\xa0€", "1. März 2026"),
    ("fr", "1\u202f234,56\xa0€", "1 mars 2026"), ("es", "1.234,56\xa0€", "1 de marzo de 2026"),
    ("it", "1.234,56\xa0€", "1 marzo 2026"), ("ja", "€1,234.56", "2026年3月1日")])
def test_every_kind_renders_with_the_locales_numbers_and_dates(language: str, amount: str, day: str) -> None:
    note = compose(_every_kind(), Choice(language, language, "asked"))
    lines = [line for line in note.lines if line.startswith("- ")]
    assert len(lines) == len(KINDS)
    assert all("{" not in line for line in lines)
    assert amount in note.text and day in note.text
    assert "INV00000042" in note.text and "INV00000022" in note.text
    assert note.english.startswith("Invoice INV00000042 of April 1, 2026")
    assert rephrase_problems(note.text, note) == []  # the deterministic note is grounded in itself


def test_sub_unit_amounts_are_never_rounded_away() -> None:
    from bot.notes import format_amount

    assert format_amount(Decimal("1234.5"), "JPY", "ja") == "￥1,234.50"
    assert format_amount(Decimal("1234"), "JPY", "ja") == "￥1,234"


def test_grounding_holds_in_the_target_language() -> None:
    note = compose(_every_kind(), Choice("de", "de", "asked"))
    good = note.text.replace("Bei Fragen", "Wenn Sie Fragen haben,")
    assert rephrase_problems(good, note) == []
    assert rephrase_problems(note.text.replace("1.234,56", "1.243,56"), note)  # a changed amount
    assert rephrase_problems(note.text + "\nSie erhalten 15 % Rabatt.", note)  # an added number
    assert rephrase_problems(note.text.replace("INV00000042", "INV00000043"), note)  # another invoice id
    assert rephrase_problems(note.text.replace("1. März 2026", "2. März 2026"), note)  # a changed date


class _Model:
    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages: list, tools: list, *, timeout: float) -> Completion:
        return Completion(text=self.text)


def test_rephrase_keeps_the_template_when_the_model_invents() -> None:
    note = compose(_every_kind(), Choice("fr", "fr", "asked"))
    assert rephrase(_Model(note.text + " Remise de 37 % offerte."), note) == note
    better = note.text.replace("n'hésitez pas à nous contacter", "contactez-nous")
    assert rephrase(_Model(better), note).text == better


def test_language_order_field_then_country_then_default() -> None:
    assert resolve({"Language__c": "Deutsch"}, "Japan", field="Language__c", default="en").language == "de"
    assert resolve({"Language__c": "ja-JP"}, None, field="Language__c", default="en").language == "ja"
    by_country = resolve({}, "France", field="Language__c", default="en")
    assert (by_country.language, by_country.source) == ("fr", "country France")
    assert resolve({}, "CH", field="Language__c", default="en").locale == "de_CH"
    odd = resolve({"Language__c": "Klingon"}, "Narnia", field="Language__c", default="it")
    assert odd.language == "it" and odd.source == "default" and len(odd.skipped) == 2
    with pytest.raises(UnknownLanguage, match="Klingon"):
        language_named("Klingon")
    assert language_named("German") == "de" and language_named("français") == "fr"


def test_short_form_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "word " * 100
    short = short_form(text)
    assert len(short) <= 255 and short.endswith("word…")
    assert short_form("short note") == "short note"
    japanese = short_form("請求書" * 200)
    assert len(japanese) == 255 and japanese.endswith("…")


def _golden(sandbox: ZuoraSandbox, client: ZuoraClient, language: str) -> str:
    proposal = draft_note(DraftContext(client, date(2026, 6, 1)), "INV00000042", language=language)
    return f"{proposal.note}\n---\n{proposal.english}\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_golden_note_for_the_demo_story(sandbox: ZuoraSandbox, client: ZuoraClient, language: str) -> None:
    got = _golden(sandbox, client, language)
    path = GOLDEN / f"{language}.txt"
    if os.environ.get("UPDATE_GOLDEN"):  # UPDATE_GOLDEN=1 rewrites the files; review the diff before committing
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


def test_note_is_reviewed_then_written_to_a_posted_invoice(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    ctx = DraftContext(client, date(2026, 6, 1))
    proposal = draft_note(ctx, "INV-42", language="Japanese", settings=NoteSettings(note_field="AI_Summary__c"))
    assert proposal.invoice_status == "Posted" and proposal.language == "ja"
    titles = [t for t, _ in proposal.card_sections()]
    assert titles == ["Note for the customer (ja)", "The same in English"]
    request = proposal.request(date(2026, 6, 1), "p1")
    assert request.method == "PUT" and set(request.body) == {"AI_Summary__c"}  # no comments on a posted invoice
    again = parse_proposal(proposal.model_dump(mode="json"))
    assert find(client, "p1", again) is None
    outcome = execute(client, "p1", again, request)
    assert outcome.status == "succeeded", outcome.message
    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None and stored["AI_Summary__c"] == proposal.note and "comments" not in stored
    assert find(client, "p1", again) is not None


def test_draft_invoice_gets_the_short_form_in_comments(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None
    stored["status"] = "Draft"
    proposal = draft_note(DraftContext(client, date(2026, 6, 1)), "INV00000042")
    outcome = execute(client, "p2", proposal, proposal.request(date(2026, 6, 1), "p2"))
    assert outcome.status == "succeeded", outcome.message
    assert stored["comments"] == proposal.short and len(proposal.short) <= 255
    assert stored["AI_Summary__c"] == proposal.note


def test_bad_input_gets_a_clear_reply(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    ctx = DraftContext(client, date(2026, 6, 1))
    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None
    with pytest.raises(UnknownLanguage, match="can write them in English"):
        draft_note(ctx, "INV00000042", language="Klingon")
    with pytest.raises(ProposalError, match="couldn't find"):
        draft_note(ctx, "INV-99999999")
    stored["status"] = "Cancelled"
    with pytest.raises(ProposalError, match="Cancelled; a note goes only"):
        draft_note(ctx, "INV00000042")


def test_sandbox_refuses_what_zuora_refuses(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    from bot.zuora.errors import ZuoraAPIError

    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None
    for body in ({"invoiceDate": "2026-05-01"}, {"comments": "x" * 256}, {"AI_Summary__c": "x" * 8193},
                 {"Body": "no"}):
        with pytest.raises(ZuoraAPIError):
            client.put("/v1/invoices/INV00000042", body)
    assert "AI_Summary__c" not in stored and stored.get("comments") is None


def test_router_reads_draft_note_requests() -> None:
    assert route("draft note INV-42").args == {"invoice": "INV-42"}
    assert route("draft note INV-42 in German").args == {"invoice": "INV-42", "language": "German"}
    assert route("draft note INV-42 in German").tool == "propose_invoice_note"
    assert route("draft note").kind == "clarify"


def test_note_email_goes_through_the_workflow_only_after_approval(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    from bot.copilot.notes import draft_note_email

    ctx = DraftContext(client, date(2026, 6, 1))
    with pytest.raises(ProposalError, match="ZUORA_NOTE_WORKFLOW_ID"):
        draft_note_email(ctx, "INV-42")
    settings = NoteSettings(workflow_id="1001")
    email = draft_note_email(ctx, "INV-42", language="de", settings=settings)
    assert email.subject == "Ihre Rechnung INV00000042" and email.note.startswith("Rechnung INV00000042")
    assert sandbox.tenant.emails == []  # drafting sends nothing
    request = email.request(date(2026, 6, 1), "p9")
    assert request.method == "POST" and request.path == "/workflows/1001/run"
    outcome = execute(client, "p9", email, request)
    assert outcome.status == "succeeded" and "workflow 1001" in outcome.message
    [sent] = sandbox.tenant.emails
    assert sent["subject"] == "Ihre Rechnung INV00000042" and "Rechnung INV00000042" in sent["bodyHtml"]
    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None
    stored["status"] = "Draft"
    with pytest.raises(ProposalError, match="only a posted invoice"):
        draft_note_email(ctx, "INV-42", settings=settings)


def test_router_reads_email_note_requests() -> None:
    assert route("email note INV-42 in French").tool == "propose_note_email"
    assert route("email note INV-42 in French").args == {"invoice": "INV-42", "language": "French"}


@pytest.mark.parametrize(("setting", "value"), [("default_customer_language", "Klingon"),
                                                ("invoice_note_field", "AI Summary"),
                                                ("zuora_note_workflow_id", "abc"),
                                                ("note_review_threshold", "-1")])
def test_bad_note_settings_fail_with_one_line_naming_the_variable(setting: str, value: str) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=f"invalid setting {setting.upper()}:"):
        load_settings(**{setting: value})


class _Echo:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def complete(self, messages: list, tools: list, *, timeout: float) -> Completion:
        self.seen.append(messages[-1].content)
        return Completion(text=messages[-1].content.replace("please contact us", "just reply to this email"))


def test_rephrase_sends_no_pii_and_restores_it() -> None:
    e = _every_kind()
    drivers = (e.drivers[0].model_copy(update={"charge_name": "Support for ops@acme.example"}), *e.drivers[1:])
    note = compose(e.model_copy(update={"drivers": drivers}), Choice("en", "en", "asked"))
    model = _Echo()
    out = rephrase(model, note)
    assert "ops@acme.example" not in model.seen[0]
    assert "ops@acme.example" in out.text and "just reply to this email" in out.text


def test_demo_tenant_languages_come_from_the_field_then_the_country(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    ctx = DraftContext(client, date(2026, 11, 20))
    tenant = sandbox.tenant
    by_field = tenant.find("accounts", "A00000012")
    assert by_field is not None
    latest = tenant.invoices[tenant.invoices_of[by_field["id"]][-1]]
    note = draft_note(ctx, latest["invoiceNumber"])
    assert note.language == "it" and note.note.startswith("Fattura ") and "Language: it (field Language__c)" in \
        note.evidence
    german = next(a for a in tenant.accounts.values() if a["billToContact"]["country"] == "Germany"
                  and not a["custom"] and tenant.invoices_of.get(a["id"]))
    note = draft_note(ctx, tenant.invoices[tenant.invoices_of[german["id"]][-1]]["invoiceNumber"])
    assert note.language == "de" and note.note.startswith("Rechnung ") and "€" in note.note


@pytest.mark.both_databases
def test_autopilot_runs_once_only_for_autopilot_drafts_and_never_in_read_only(
        database: str, databases: Databases, sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    from tests.test_approvals import Clock, approvals_for

    approvals = approvals_for(database, client, sandbox, Clock())
    ctx = DraftContext(client, sandbox.tenant.today)
    manual = approvals.open(draft_note(ctx, "INV00000042"), requester="zuora", team="T1", channel="C1")
    assert approvals.autopilot(manual.id).kind == "denied"  # drafted for a person: never without a click
    auto = draft_note(ctx, "INV00000042", autopilot=True)
    record = approvals.open(auto, requester="zuora", team="T1", channel="C1", proposal_id="note-1")
    assert approvals.open(auto, requester="zuora", team="T1", channel="C1", proposal_id="note-1").id == record.id
    first = approvals.autopilot("note-1")
    assert first.record is not None and first.record.status == "succeeded", first.message
    assert approvals.autopilot("note-1").kind == "already"  # a redelivered outbox row: nothing runs twice
    assert len(sandbox.requests_to("/v1/invoices/*", "PUT")) == 1
    rows = [(r.actor, r.action) for r in approvals.audit.rows(proposal_id="note-1")]
    assert rows == [("zuora", "proposed"), ("autopilot", "approved"), ("autopilot", "executing"),
                    ("autopilot", "succeeded")]
    frozen = approvals_for(databases.new("ro.db"), client, sandbox, Clock(), read_only=True)
    held = frozen.open(auto, requester="zuora", team="T1", channel="C1", proposal_id="note-2")
    assert frozen.autopilot(held.id).kind == "read_only" and len(sandbox.requests_to("/v1/invoices/*", "PUT")) == 1


@pytest.mark.parametrize("planted", ["Please pay via https://pay.evil.example now.",
                                     "Questions? Write to billing@evil.example.",
                                     "Our bank details changed: see our IBAN on the portal.",
                                     "Visit secure-billing.com to update your card."])
def test_a_rephrase_that_adds_a_place_to_pay_or_write_to_is_refused(planted: str) -> None:
    note = compose(_every_kind(), Choice("en", "en", "asked"))
    assert rephrase_problems(f"{note.text}\n{planted}", note)
    assert rephrase(_Model(f"{note.text}\n{planted}"), note) == note


def test_a_model_may_propose_a_note_only_when_the_requester_asked_for_one() -> None:
    from bot.copilot.ask import Ask, kinds_named

    assert Ask.read("draft note INV-42 in German").refusal("propose_invoice_note", {"invoice": "INV-42"}) is None
    assert Ask.read("why is INV-42 higher").refusal("propose_invoice_note", {"invoice": "INV-42"}) is not None
    assert Ask.read("draft note INV-42").refusal("propose_invoice_note", {"invoice": "INV-43"}) is not None
    assert Ask.read("email the note for INV-42").refusal("propose_note_email", {"invoice": "INV-42"}) is None
    assert "invoice_note" not in kinds_named("credit note INV-42 50 goodwill")
    assert "invoice_note" not in kinds_named("don't draft a note for INV-42, just remind them")
