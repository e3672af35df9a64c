"""Requests to draft a proposal, read into one `propose_*` tool call (pure): credits, write-offs, payment
retries and plans, reminders, collections escalations, and customer notes for an invoice."""

from __future__ import annotations

import re
from typing import Any

from bot.copilot.routing.decision import Route, clarify
from bot.copilot.routing.mentions import ACCOUNT, INVOICE, NEGATION, SUBSCRIPTION, amounts
from bot.copilot.routing.subscriptions import SUBSCRIPTION_EXAMPLES
from bot.money import AmountError, parse_amount

__all__ = ["ACTIONS", "EMAIL_NOTE", "NOTE", "PROPOSAL_EXAMPLES", "note", "propose"]

ACTIONS = re.compile(r"\b(retry|refund|credit(?: memo)?|write[ -]?offs?|writeoff|waive|payment plan|"
                     r"plan(?=\s+(?:for\s+)?(?:inv|#))|"
                     r"instal+ments?|dunning|remind(?:er)?|resend|escalat\w*|collections|cancel|"
                     r"charge (?:them|again))\b", re.IGNORECASE)
_PROPOSALS = (  # (kind, words), the first that matches wins
    ("write_off", re.compile(r"\b(write[ -]?offs?|writeoff|waive)\b", re.I)),
    ("credit_memo", re.compile(r"\bcredit(?: memo)?\b", re.I)),
    ("payment_retry", re.compile(r"\b(retry|charge (?:them|again))\b", re.I)),
    ("payment_plan", re.compile(r"\b(payment plan|plan(?=\s+(?:for\s+)?(?:inv|#))|instal+ments?)\b", re.I)),
    ("dunning_email", re.compile(r"\b(dunning|remind(?:er)?|resend)\b", re.I)),
    ("collections_escalation", re.compile(r"\b(escalat\w*|collections)\b", re.I)),
)
_QUOTED = re.compile(r"[\"“”']([^\"“”']{1,300})[\"“”']")
_BECAUSE = re.compile(r"\b(?:for|because|reason:?|as|due to)\s+(.{2,300})$", re.I)
PROPOSAL_EXAMPLES = (
    'credit INV-42 50 "goodwill"',
    "write off INV-449 as uncollectable",
    "retry INV-448",
    "plan INV-387 3",
    "remind INV-385",
    "escalate A00000007",
    "run schedule IS-00000003 the next item",
    "bill A00000010 on 2026-12-01",
    SUBSCRIPTION_EXAMPLES[0],
    SUBSCRIPTION_EXAMPLES[3],
)
"""The help's proposal examples, with a subscription change and a retention offer (issue 16)."""


def propose(cleaned: str) -> Route:
    """A request to move money, read into one `propose_*` tool call (it only drafts a proposal)."""
    kind = next((k for k, words in _PROPOSALS if any(not NEGATION.search(cleaned[:m.start()])
                                                      for m in words.finditer(cleaned))), None)
    if kind is None:
        return clarify("I can propose credit memos, write-offs, payment retries, payment plans, reminder "
                       "emails, collections escalations, invoice schedule runs (`run schedule IS-00000003 the "
                       "next item`) and ad hoc bill runs (`bill A00000010 now`); anything else is done in Zuora.")
    quoted = _QUOTED.search(cleaned)
    stripped = _QUOTED.sub(" ", cleaned)
    because = _BECAUSE.search(stripped)
    if because and any(p.search(because.group(1)) for p in (INVOICE, ACCOUNT)):
        because = None  # "plan for INV-387 in 4 installments": the invoice, not a reason
    reason = (quoted.group(1) if quoted else because.group(1) if because else "requested in Slack").strip(" .")
    if kind == "collections_escalation":
        number = ACCOUNT.search(cleaned)
        if not number:
            return clarify("Which account should go to collections? Give its number, like A00000007.")
        return Route("tool", "propose_collections_escalation", {"account": number.group(1).upper(), "reason": reason})
    invoice = INVOICE.search(stripped)
    if not invoice:
        return clarify(f"Which invoice? For example: `{_EXAMPLE_OF[kind]}`.")
    args: dict[str, Any] = {"invoice": invoice.group(0).strip(), "reason": reason}
    said = because.string[:because.start()] if because else stripped
    found = amounts(said)
    if kind in ("credit_memo", "payment_retry"):
        problem = _amount_problem(said, found)
        if problem:
            return clarify(f"{problem}. For example: `{_EXAMPLE_OF[kind]}`.")
    if kind == "payment_plan":
        count = re.search(r"(?<![\w.,])(\d+)(?![\w.,]*\d)", INVOICE.sub(" ", stripped))
        if count and len(count.group(1)) > 2:  # read as 3 before: a typo must not become a different plan
            return clarify(f"{count.group(1)[:20]!r} installments is not a plan I can propose: say 2 to 24.")
        args["installments"] = int(count.group(1)) if count else 3
    elif kind == "credit_memo":
        if not found:
            return clarify(f"How much should the credit be? For example: `{_EXAMPLE_OF[kind]}`.")
        args["amount"] = found[0]
    elif kind == "payment_retry" and found:
        args["amount"] = found[0]
    return Route("tool", f"propose_{kind}", args)


_ODD_AMOUNT = re.compile(r"(?i)(?<![\w.])[$€£]?\s?(?:[+-]?(?:s?nan|inf(?:inity)?)|\d[\d.,]*e[+-]?\d+|"
                         r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?)(?![\w.])")


def _amount_problem(said: str, found: list[str]) -> str | None:
    """Why the amount in a request to move money cannot be used (NaN, 1e6, 1 000 000, too many digits), if so."""
    rest = INVOICE.sub(" ", SUBSCRIPTION.sub(" ", ACCOUNT.sub(" ", said)))
    odd = _ODD_AMOUNT.search(rest)
    if odd and " " in odd.group(0).strip().lstrip("$€£").strip():
        return f"{odd.group(0).strip()!r} is ambiguous: write the amount without spaces, like 1,000,000"
    try:
        if odd:
            parse_amount(odd.group(0))
        for amount in found[:1]:
            parse_amount(amount)
    except AmountError as exc:
        return str(exc)
    return None


_EXAMPLE_OF = {"credit_memo": PROPOSAL_EXAMPLES[0], "write_off": PROPOSAL_EXAMPLES[1],
               "payment_retry": PROPOSAL_EXAMPLES[2], "payment_plan": PROPOSAL_EXAMPLES[3],
               "dunning_email": PROPOSAL_EXAMPLES[4], "collections_escalation": PROPOSAL_EXAMPLES[5]}


NOTE = re.compile(r"\b(?:draft|write|prepare|make)\s+(?:an?\s+|the\s+)?(?:customer\s+|invoice\s+)?"
                  r"(?:note|summary)\b|\b(?:customer|invoice)\s+(?:note|summary)\b", re.IGNORECASE)
_IN_LANGUAGE = re.compile(r"\b(?:in|auf|en)\s+([^\W\d_]{2,20}(?:[-_][A-Za-z]{2})?)\s*[.!?]?\s*$", re.IGNORECASE)
EMAIL_NOTE = re.compile(r"\b(?:e-?mail|send)\s+(?:an?\s+|the\s+)?(?:customer\s+|invoice\s+)?(?:note|summary)\b",
                        re.IGNORECASE)


def note(cleaned: str) -> Route:
    """`draft note INV-42`, `… in German`: a customer note for an invoice (only drafts a proposal)."""
    invoice = INVOICE.search(cleaned)
    if not invoice:
        return clarify("Which invoice should the note be for? For example: `draft note INV-42 in German`.")
    args: dict[str, Any] = {"invoice": invoice.group(0).strip()}
    language = _IN_LANGUAGE.search(cleaned[invoice.end():])
    if language:
        args["language"] = language.group(1)
    return Route("tool", "propose_note_email" if EMAIL_NOTE.search(cleaned) else "propose_invoice_note", args)
