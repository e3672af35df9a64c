"""Invoice notes for customers: read the invoice, explain it, write the note in the customer's language, propose it.

`draft_note()` reads the invoice, its items, the previous invoice and the account from Zuora, runs
the explainer, picks the language (`bot.notes.resolve`, or the one a person asked for) and writes
the deterministic note (`bot.notes.compose`); with a model, `rephrase()` may replace the wording,
but only when the grounding check holds in the target language: every number, date and invoice id
of the deterministic note is still there and nothing is added. The result is an `InvoiceNote`
proposal; nothing is written to Zuora before an approval. The `propose_invoice_note` tool wraps it.

    ProposalError (bot.actions.kinds)   no such invoice, a cancelled one, a note too long for the field
    UnknownLanguage (bot.notes)          a language the templates do not cover
    bot.zuora.errors.ZuoraError         Zuora could not be read (the caller says so)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from bot.actions.kinds import DraftContext, InvoiceNote, NoteEmail, ProposalError, invoice_snapshot
from bot.actions.kinds.invoice_note import note_target
from bot.copilot.explain import explain
from bot.copilot.guard import numbers, ungrounded
from bot.copilot.llm import ChatModel, LLMError, Message
from bot.copilot.redact import Redactor
from bot.copilot.results import ProposalResult
from bot.copilot.tools import InvoiceKey, ToolContext, ToolError, tool
from bot.notes import Choice, Note, NoteError, UnknownLanguage, compose, language_named, locale_for, resolve
from bot.notes.compose import short_form
from bot.notes.templates import TEMPLATES
from bot.zuora import Account, Invoice

__all__ = ["NoteSettings", "draft_note", "draft_note_email", "draft_note_for", "propose_invoice_note",
           "propose_note_email", "rephrase", "rephrase_problems"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoteSettings:
    """The settings a note draft reads (from `Settings`), and the model that may rephrase (None: templates only)."""

    language_field: str = "Language__c"
    default_language: str = "en"
    note_field: str = "AI_Summary__c"
    model: ChatModel | None = None
    workflow_id: str | None = None
    """`ZUORA_NOTE_WORKFLOW_ID`: the workflow that emails a note (None: notes are not emailed)."""

    @classmethod
    def of(cls, settings: Any, model: ChatModel | None = None) -> NoteSettings:
        """From `bot.config.Settings`."""
        return cls(language_field=settings.customer_language_field,
                   default_language=settings.default_customer_language, note_field=settings.invoice_note_field,
                   model=model, workflow_id=settings.zuora_note_workflow_id)


def draft_note(ctx: DraftContext, typed: str, *, language: str | None = None,
               settings: NoteSettings = NoteSettings(), reason: str = "customer note",
               model: ChatModel | None = None, autopilot: bool = False) -> InvoiceNote:
    """An `InvoiceNote` proposal for the invoice `typed`, in `language` (a name or code) or the customer's."""
    invoice, account = note_target(ctx, typed)
    return draft_note_for(ctx, invoice, account, language=language, settings=settings, reason=reason, model=model,
                          autopilot=autopilot)


def draft_note_for(ctx: DraftContext, invoice: Invoice, account: Account, *, language: str | None = None,
                   settings: NoteSettings = NoteSettings(), reason: str = "customer note",
                   model: ChatModel | None = None, autopilot: bool = False) -> InvoiceNote:
    """`draft_note` for an invoice and account already read (a bill run reads them once)."""
    client = ctx.client
    items, previous = client.concurrently(lambda: client.invoices.items(invoice.invoice_id),
                                          lambda: client.invoices.previous(invoice))
    explanation = explain(invoice, items, previous, previous.items if previous else ())
    country = account.bill_to.country if account.bill_to else None
    if language:
        code = language_named(language)
        choice = Choice(code, locale_for(code, country), "asked")
    else:
        choice = resolve(account.custom_fields, country, field=settings.language_field,
                         default=settings.default_language)
    try:
        note = compose(explanation, choice)
    except NoteError as exc:
        raise ProposalError(str(exc)) from None
    model = model or settings.model
    if model is not None:
        note = rephrase(model, note)
    amount = max(invoice.amount, Decimal(0))
    evidence = [f"Language: {choice.language} ({choice.source})", *choice.skipped]
    return InvoiceNote(account_id=account.account_id, account_number=account.account_number,
                       account_name=account.name, currency=invoice.currency, amount=amount, limit=amount,
                       reason=reason, evidence=evidence, invoice_id=invoice.invoice_id,
                       invoice_number=invoice.invoice_number, snapshot=invoice_snapshot(invoice),
                       language=note.language, note=note.text, english=note.english, short=note.short,
                       field=settings.note_field, invoice_status=invoice.status, autopilot=autopilot)


_PROMPT = ("Rewrite this invoice note for the customer in the same language ({language}), friendlier and "
           "clearer. Keep every amount, date and invoice number exactly as written. Add no facts, numbers, "
           "offers or promises. Reply with the note only.")


def rephrase_problems(candidate: str, note: Note) -> list[str]:
    """Why a rephrased note cannot replace the deterministic one (empty when it may)."""
    problems = [f"adds {x}" for x in ungrounded(candidate, [note.text])]
    missing = numbers(note.text) - numbers(candidate)
    problems += [f"drops {format(v, 'f')}" for v in sorted(missing)]
    if note.invoice_number.casefold() not in candidate.casefold():
        problems.append(f"drops {note.invoice_number}")
    if len(candidate) > len(note.text) * 2 + 200:
        problems.append("too long")
    known = {m.group(0).casefold() for m in _CONTACT.finditer(note.text)}
    problems += [f"adds {m.group(0)[:60]}" for m in _CONTACT.finditer(candidate) if m.group(0).casefold() not in known]
    return problems


_CONTACT = re.compile(r"(?i)\b(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[\w-]+\.(?:com|net|org|io|co|"
                      r"biz|info|xyz|ru|cn)\b|\bIBAN\b|\bSWIFT\b|\bBIC\b")
"""Links, email addresses, domains and bank words: a rephrase must not add a place to pay or write to."""


def rephrase(model: ChatModel, note: Note, *, timeout: float = 20.0, redact: bool = True) -> Note:
    """The note reworded by the model when the grounding check holds; the deterministic note otherwise.
    With `redact`, PII in the note (an email or phone in a charge name) reaches the model as placeholders."""
    redactor = Redactor() if redact else None
    sent = redactor.text(note.text) if redactor else note.text
    messages = [Message("system", _PROMPT.format(language=note.language)), Message("user", sent)]
    try:
        text = (model.complete(messages, [], timeout=timeout).text or "").strip()
    except LLMError as exc:
        log.info("note rephrase failed (%s); keeping the template", exc.error_class)
        return note
    if redactor:
        text = str(redactor.restore(text))
    problems = rephrase_problems(text, note) if text else ["empty"]
    if problems:
        log.info("note rephrase for %s rejected: %s", note.invoice_number, "; ".join(problems[:5]))
        return note
    return Note(invoice_number=note.invoice_number, language=note.language, locale=note.locale, text=text,
                english=note.english, short=short_form(text))


class NoteArgs(BaseModel):
    invoice: InvoiceKey = Field(description="Invoice number as typed")
    language: str | None = Field(default=None, max_length=40,
                                 description="Language the requester asked for (e.g. German); omit for the customer's")


@tool(NoteArgs)
def propose_invoice_note(ctx: ToolContext, args: NoteArgs) -> ProposalResult:
    """Draft a customer-facing note for an invoice (what it covers and what changed), in the customer's language
    or the one asked for. Only drafts a proposal: an approver must approve before it is written to Zuora."""
    try:
        proposal = draft_note(DraftContext(ctx.client, ctx.today()), args.invoice, language=args.language,
                              settings=ctx.notes or NoteSettings(), reason="customer note requested in Slack")
    except (ProposalError, UnknownLanguage) as exc:
        raise ToolError("invalid", str(exc)) from None
    return ProposalResult(kind=proposal.kind, sentence=proposal.sentence(), proposal=proposal.model_dump(mode="json"))


def draft_note_email(ctx: DraftContext, typed: str, *, language: str | None = None,
                     settings: NoteSettings = NoteSettings(), reason: str = "customer note by email") -> NoteEmail:
    """A `NoteEmail` proposal: the same note, sent through `ZUORA_NOTE_WORKFLOW_ID` once approved (posted only)."""
    if not settings.workflow_id:
        raise ProposalError("Emailing notes needs a Zuora workflow: set ZUORA_NOTE_WORKFLOW_ID (see README, "
                            "\"Customer notes\").")
    note = draft_note(ctx, typed, language=language, settings=settings, reason=reason)
    if note.invoice_status != "Posted":
        raise ProposalError(f"{note.invoice_number} is a draft; only a posted invoice's note is emailed.")
    subject = TEMPLATES[note.language]["subject"].format(number=note.invoice_number)
    return NoteEmail(**note.model_dump(include={"account_id", "account_number", "account_name", "currency", "amount",
                                                "limit", "reason", "evidence", "invoice_id", "invoice_number",
                                                "snapshot", "language", "note", "english"}),
                     subject=subject, workflow_id=settings.workflow_id)


@tool(NoteArgs)
def propose_note_email(ctx: ToolContext, args: NoteArgs) -> ProposalResult:
    """Draft an email of the customer note for a posted invoice, sent through the configured Zuora workflow. Only
    drafts a proposal: an approver must approve before anything is sent."""
    try:
        proposal = draft_note_email(DraftContext(ctx.client, ctx.today()), args.invoice, language=args.language,
                                    settings=ctx.notes or NoteSettings(), reason="note email requested in Slack")
    except (ProposalError, UnknownLanguage) as exc:
        raise ToolError("invalid", str(exc)) from None
    return ProposalResult(kind=proposal.kind, sentence=proposal.sentence(), proposal=proposal.model_dump(mode="json"))
