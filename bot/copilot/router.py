"""The deterministic router: free text in, one tool call (or help, or a clarifying question) out (pure).

It finds invoice numbers (`INV00000042`, `INV-42`, `inv42`, `#42`, "invoice 42"), account numbers
(`A00000007`), subscription numbers (`A-S00000002`) and account names ("payments for Acme"), then
picks the intent from keywords. Used whenever no LLM is configured, and as the fallback when the
LLM fails. A follow-up in a conversation ("and the one before?", "what about their payments?")
is read against a `Context`: what the latest answer was about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.analytics.periods import period_phrase
from bot.money import AmountError, parse_amount

__all__ = ["EXAMPLES", "NEGATION", "PROPOSAL_EXAMPLES", "Context", "Route", "account_name", "amounts", "progress",
           "route"]

EXAMPLES = (
    "why is INV-42 higher",
    "show invoice 42",
    "what does A00000007 owe",
    "payments for Globex",
    "who is overdue",
    "subscription A-S00000002",
    "usage A00000002",
    "schedules A00000010",
)
PORTFOLIO_EXAMPLES = (
    "aging",
    "who pays late",
    "failed payments last quarter by country",
    "top 10 customers by revenue last 12 months",
)
_MAX_LEN = 500
_INVOICE = re.compile(r"(?<![\w-])(?:inv(?:oice)?[\s#:_-]*0*(\d{1,12})|#\s?(\d{1,12}))(?![\w-])", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"(?<![\w-])(A-S\d{3,12})(?![\w-])", re.IGNORECASE)
_ACCOUNT = re.compile(r"(?<![\w-])(A\d{3,12}|[0-9a-f]{32})(?![\w-])", re.IGNORECASE)
_EXPLAIN = re.compile(r"\b(why|higher|lower|more|less|increase[ds]?|decrease[ds]?|went (?:up|down)|jump(?:ed)?|"
                      r"spike[ds]?|chang(?:e|ed|es)|differ(?:ence|ent|s)?|explain|breakdown|break down|compare[ds]?|"
                      r"bigger|smaller|expensive|cheaper)\b", re.IGNORECASE)
_LOWER = re.compile(r"\b(lower|less|decrease[ds]?|went down|smaller|cheaper|drop(?:ped)?)\b", re.IGNORECASE)
_HIGHER = re.compile(r"\b(higher|more|increase[ds]?|went up|jump(?:ed)?|spike[ds]?|bigger|expensive)\b",
                     re.IGNORECASE)
_OVERDUE = re.compile(r"\b(overdue|past[ -]due|late|delinquent|unpaid|behind|hasn'?t paid|haven'?t paid|"
                      r"not paid|aging)\b", re.IGNORECASE)
_PAYMENTS = re.compile(r"\b(payments?|paid|pay|declin\w*|fail\w*|bounced?|charges? (?:failed|declined)|"
                       r"transactions?)\b", re.IGNORECASE)
_FAILED = re.compile(r"\b(declin\w*|fail\w*|bounced?|errors?|rejected)\b", re.IGNORECASE)
_USAGE = re.compile(r"\b(usage|used|use|consum\w*|api calls?|metered)\b", re.IGNORECASE)
_ACCOUNT_WORDS = re.compile(r"\b(owes?|owing|balance|account|summary|status|card|payment method|health|"
                            r"customer|snapshot|about|who is)\b", re.IGNORECASE)
_SUBSCRIPTION_WORDS = re.compile(r"\b(subscriptions?|sub|plan|term|renewal|mrr)\b", re.IGNORECASE)
_ACTIONS = re.compile(r"\b(retry|refund|credit(?: memo)?|write[ -]?offs?|writeoff|waive|payment plan|"
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
NEGATION = re.compile(r"\b(?:don'?t|do not|never|not|no|without|instead of|rather than|stop|cancel)\s+"
                      r"(?:\w+\s+){0,2}$", re.IGNORECASE)
"""Words just before an action that take it back ("don't write it off, just remind them")."""
_AMOUNT = re.compile(r"(?<![\w.#-])[$€£]?\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)(?![\w.,-]*\d)"
                     r"(?:\s?(?:usd|eur|gbp|dollars?|euros?))?", re.I)
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
)
_BEFORE = re.compile(r"\b(?:(?:the\s+)?(?:one|invoice|bill)\s+before(?:\s+(?:it|that|this))?|before\s+that|"
                     r"previous(?:\s+(?:one|invoice|bill))?|prior\s+(?:one|invoice|bill)|earlier\s+(?:one|invoice)|"
                     r"last\s+month'?s?)\b", re.IGNORECASE)
_THAN = re.compile(r"\b(than|compared|vs\.?|versus)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"(?:they|them|their|theirs|it|its|this one|that one|him|her|his)", re.IGNORECASE)
_IT = re.compile(r"\b(it|this|that|this one|that one|the invoice|lines?|items?|details?|tax|show)\b", re.IGNORECASE)
_HELP = re.compile(r"^\s*(help|\?+|hi|hello|hey|what can you do\??|usage help|commands)\s*[!.?]*\s*$", re.IGNORECASE)
_NAME_PATTERNS = (
    re.compile(r"\bdoes\s+(?P<name>.+?)\s+(?:owe|have|pay|use)\b", re.IGNORECASE),
    re.compile(r"\b(?:has|did|have)\s+(?P<name>.+?)\s+(?:paid|pay|used|use)\b", re.IGNORECASE),
    re.compile(r"\b(?:for|of|from|by|about|on|customer|account)\s+(?P<name>[^?!.,;:]{2,80})", re.IGNORECASE),
)
_NOT_NAMES = {"me", "us", "you", "it", "this", "that", "them", "this month", "last month", "the month", "today",
              "all", "everyone", "everybody", "the account", "accounts", "customers", "this account",
              "my account", "the customer", "invoices", "payments", "usage", "the last month"}
_NAME_TAIL = re.compile(r"(?:'s)?(?:\s+(?:account|customer|please|pls|now|today|last month|this month|"
                        r"recently|lately|invoices?|payments?|balance|usage))*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    """What the router decided: a tool with arguments, help, or a clarifying question."""

    kind: Literal["tool", "help", "clarify"]
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    expect: Literal["higher", "lower"] | None = None
    """For explanations: the direction the question assumed ("why is X higher")."""


@dataclass(frozen=True)
class Context:
    """What a conversation was last about, for follow-ups (from `Answer.about` plus the tool that answered)."""

    tool: str | None = None
    invoice: str | None = None
    previous_invoice: str | None = None
    account: str | None = None
    subscription: str | None = None

    @classmethod
    def of(cls, tool: str | None, about: Mapping[str, str]) -> Context:
        return cls(tool=tool, invoice=about.get("invoice"), previous_invoice=about.get("previous_invoice"),
                   account=about.get("account"), subscription=about.get("subscription"))


def _clarify(message: str) -> Route:
    return Route("clarify", message=message)


def account_name(text: str) -> str | None:
    """The customer name a question mentions ("payments for Acme", "account summary for Acme" → "Acme"), if any."""
    text = _SUMMARY_OF.sub("for ", text)
    for pattern in _NAME_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        name = _NAME_TAIL.sub("", match.group("name").strip()).strip(" '\"")
        name = re.sub(r"^(?:the|account|customer)\s+", "", name, flags=re.IGNORECASE).strip()
        numbered = any(p.search(name) for p in (_ACCOUNT, _INVOICE, _SUBSCRIPTION))
        referring = _BEFORE.search(name) or _PRONOUN.fullmatch(name)
        if len(name) >= 2 and name.casefold() not in _NOT_NAMES and not _PAYMENTS.fullmatch(name) and not numbered \
                and not referring:
            return name
    return None


def route(text: str, context: Context | None = None) -> Route:
    """Decide what to do with a question, without an LLM; `context` resolves follow-ups."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in (text or "")).split())[:_MAX_LEN]
    decision = _route(cleaned)
    if context is None or decision.kind == "help" or _ACTIONS.search(cleaned):
        return decision
    names_something = any(p.search(cleaned) for p in (_INVOICE, _ACCOUNT, _SUBSCRIPTION))
    if decision.kind == "clarify" or (not names_something and _BEFORE.search(cleaned)):
        return _follow_up(cleaned, context) or decision
    return decision


def _follow_up(cleaned: str, context: Context) -> Route | None:
    """A question that names nothing, read against what the conversation was about."""
    invoice_tool = context.tool if context.tool in ("explain_invoice", "get_invoice") else None
    if context.invoice and _BEFORE.search(cleaned) and not _THAN.search(cleaned):
        tool = "explain_invoice" if _EXPLAIN.search(cleaned) else invoice_tool or "get_invoice"
        if context.previous_invoice:
            return Route("tool", tool, {"invoice": context.previous_invoice})
        return Route("tool", tool, {"invoice": context.invoice, "before": True})
    if context.account and (_PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _OVERDUE.search(cleaned)
                            or _ACCOUNT_WORDS.search(cleaned) or re.search(r"\b(they|them|their)\b", cleaned, re.I)):
        decision = _route(f"{cleaned} account {context.account}")
        if decision.kind == "tool":
            return decision
    if context.invoice and (_EXPLAIN.search(cleaned) or _IT.search(cleaned)):
        tool = "explain_invoice" if _EXPLAIN.search(cleaned) else "get_invoice"
        return Route("tool", tool, {"invoice": context.invoice})
    if context.subscription and _SUBSCRIPTION_WORDS.search(cleaned):
        return Route("tool", "get_subscription", {"subscription": context.subscription})
    return None


def amounts(text: str) -> list[str]:
    """The amounts a text mentions ("credit INV-42 $1,250.50" → ["1250.50"]), invoice numbers left out."""
    rest = _INVOICE.sub(" ", _SUBSCRIPTION.sub(" ", _ACCOUNT.sub(" ", text)))
    return [m.group(1).replace(",", "") for m in _AMOUNT.finditer(rest)]


def _propose(cleaned: str) -> Route:
    """A request to move money, read into one `propose_*` tool call (it only drafts a proposal)."""
    kind = next((k for k, words in _PROPOSALS if any(not NEGATION.search(cleaned[:m.start()])
                                                      for m in words.finditer(cleaned))), None)
    if kind is None:
        return _clarify("I can propose credit memos, write-offs, payment retries, payment plans, reminder "
                        "emails, collections escalations, invoice schedule runs (`run schedule IS-00000003 the "
                        "next item`) and ad hoc bill runs (`bill A00000010 now`); anything else is done in Zuora.")
    quoted = _QUOTED.search(cleaned)
    stripped = _QUOTED.sub(" ", cleaned)
    because = _BECAUSE.search(stripped)
    if because and any(p.search(because.group(1)) for p in (_INVOICE, _ACCOUNT)):
        because = None  # "plan for INV-387 in 4 installments": the invoice, not a reason
    reason = (quoted.group(1) if quoted else because.group(1) if because else "requested in Slack").strip(" .")
    if kind == "collections_escalation":
        number = _ACCOUNT.search(cleaned)
        if not number:
            return _clarify("Which account should go to collections? Give its number, like A00000007.")
        return Route("tool", "propose_collections_escalation", {"account": number.group(1).upper(), "reason": reason})
    invoice = _INVOICE.search(stripped)
    if not invoice:
        return _clarify(f"Which invoice? For example: `{_EXAMPLE_OF[kind]}`.")
    args: dict[str, Any] = {"invoice": invoice.group(0).strip(), "reason": reason}
    said = because.string[:because.start()] if because else stripped
    found = amounts(said)
    if kind in ("credit_memo", "payment_retry"):
        problem = _amount_problem(said, found)
        if problem:
            return _clarify(f"{problem}. For example: `{_EXAMPLE_OF[kind]}`.")
    if kind == "payment_plan":
        count = re.search(r"(?<![\w.,])(\d+)(?![\w.,]*\d)", _INVOICE.sub(" ", stripped))
        if count and len(count.group(1)) > 2:  # read as 3 before: a typo must not become a different plan
            return _clarify(f"{count.group(1)[:20]!r} installments is not a plan I can propose: say 2 to 24.")
        args["installments"] = int(count.group(1)) if count else 3
    elif kind == "credit_memo":
        if not found:
            return _clarify(f"How much should the credit be? For example: `{_EXAMPLE_OF[kind]}`.")
        args["amount"] = found[0]
    elif kind == "payment_retry" and found:
        args["amount"] = found[0]
    return Route("tool", f"propose_{kind}", args)


_ODD_AMOUNT = re.compile(r"(?i)(?<![\w.])[$€£]?\s?(?:[+-]?(?:s?nan|inf(?:inity)?)|\d[\d.,]*e[+-]?\d+|"
                         r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?)(?![\w.])")


def _amount_problem(said: str, found: list[str]) -> str | None:
    """Why the amount in a request to move money cannot be used (NaN, 1e6, 1 000 000, too many digits), if so."""
    rest = _INVOICE.sub(" ", _SUBSCRIPTION.sub(" ", _ACCOUNT.sub(" ", said)))
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


def progress(decision: Route) -> str:
    """What the bot is doing for `decision`, as a short status line ("Looking up INV-42…")."""
    if decision.kind != "tool":
        return "Thinking…"
    args = decision.args
    invoice = str(args.get("invoice") or "")
    if invoice and not re.match(r"(?i)inv|#", invoice):
        invoice = f"invoice {invoice}"
    if args.get("before"):
        invoice = f"the invoice before {invoice}"
    account = args.get("account")
    if (decision.tool or "").startswith("propose_"):
        return f"Drafting a proposal for {invoice or account or args.get('subscription')}…"
    phrases = {"explain_invoice": f"Comparing {invoice} with the invoice before it…",
               "get_invoice": f"Looking up {invoice}…",
               "get_account_summary": f"Looking up account {account}…",
               "list_payments": f"Looking up the payments of {account}…",
               "list_overdue_invoices": f"Looking up overdue invoices{f' of {account}' if account else ''}…",
               "get_subscription": f"Looking up subscription {args.get('subscription')}…",
               "get_usage": f"Looking up the usage of {account}…",
               "receivables_aging": "Reading every open invoice for the aging…",
               "late_payers": "Reading invoices and payments to find late payers…",
               "failed_payments": "Reading failed payments and their recoveries…",
               "top_customers": "Ranking customers…",
               "bill_run_trend": "Adding up the latest bill runs…",
               "invoice_history": f"Reading the invoice history of {account}…"}
    return phrases.get(decision.tool or "", "Looking it up in Zuora…")


_NOTE = re.compile(r"\b(?:draft|write|prepare|make)\s+(?:an?\s+|the\s+)?(?:customer\s+|invoice\s+)?"
                   r"(?:note|summary)\b|\b(?:customer|invoice)\s+(?:note|summary)\b", re.IGNORECASE)
_IN_LANGUAGE = re.compile(r"\b(?:in|auf|en)\s+([^\W\d_]{2,20}(?:[-_][A-Za-z]{2})?)\s*[.!?]?\s*$", re.IGNORECASE)


_EMAIL_NOTE = re.compile(r"\b(?:e-?mail|send)\s+(?:an?\s+|the\s+)?(?:customer\s+|invoice\s+)?(?:note|summary)\b",
                         re.IGNORECASE)


def _note(cleaned: str) -> Route:
    """`draft note INV-42`, `… in German`: a customer note for an invoice (only drafts a proposal)."""
    invoice = _INVOICE.search(cleaned)
    if not invoice:
        return _clarify("Which invoice should the note be for? For example: `draft note INV-42 in German`.")
    args: dict[str, Any] = {"invoice": invoice.group(0).strip()}
    language = _IN_LANGUAGE.search(cleaned[invoice.end():])
    if language:
        args["language"] = language.group(1)
    return Route("tool", "propose_note_email" if _EMAIL_NOTE.search(cleaned) else "propose_invoice_note", args)


_SCHEDULES_READ = re.compile(r"^(?:show\s+|list\s+)?(?:the\s+)?(?:invoice\s+)?schedules?\s+(?:of\s+|for\s+)?"
                             r"(A\d{3,12}|A-S\d{3,12}|O-\d{3,12})\b", re.IGNORECASE)
_RUN_SCHEDULE = re.compile(r"\b(?:run|execute|bill)\s+(?:the\s+)?(?:invoice\s+)?schedule\s+(IS-\d{3,12})\b(.*)$",
                           re.IGNORECASE)
_BILL_NOW = re.compile(r"\bbill\s+(A\d{3,12})\b(.*)$", re.IGNORECASE)
_NO_POST = re.compile(r"\b(?:don'?t|do not|without|no)\s+post(?:ing)?\b|\b(?:leave|keep)\s+(?:it\s+|them\s+)?"
                      r"(?:as\s+)?(?:a\s+)?drafts?\b|\bdrafts? only\b", re.IGNORECASE)
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def _schedule_route(cleaned: str) -> Route | None:
    """Invoice schedules and ad hoc bill runs: `schedules A00000010`, `run schedule IS-00000003 item 2` (or
    "the next item", "all pending items up to today"), `bill A00000010 now [on 2026-12-01]`."""
    read = _SCHEDULES_READ.search(cleaned)
    if read:
        return Route("tool", "list_invoice_schedules", {"key": read.group(1).upper()})
    run = _RUN_SCHEDULE.search(cleaned)
    if run and not NEGATION.search(cleaned[:run.start()]):
        rest, args = run.group(2), {"schedule": run.group(1).upper(), "post_invoice": not _NO_POST.search(cleaned)}
        item = re.search(r"\bitem\s*#?\s*(\d{1,3})\b", rest, re.IGNORECASE)
        if item:
            return Route("tool", "propose_invoice_schedule_run", {**args, "which": "item", "item": int(item.group(1))})
        if re.search(r"\b(all|every|due|overdue|up to today|pending items)\b", rest, re.IGNORECASE):
            return Route("tool", "propose_invoice_schedule_run", {**args, "which": "due"})
        if re.search(r"\bnext\b", rest, re.IGNORECASE):
            return Route("tool", "propose_invoice_schedule_run", {**args, "which": "next"})
        return _clarify(f"Which item of {run.group(1).upper()}? Say `item 2`, `the next item` or `all pending items "
                        f"up to today`.")
    bill = _BILL_NOW.search(cleaned)
    if bill and not NEGATION.search(cleaned[:bill.start()]):
        when = _DATE.search(bill.group(2))
        args = {"account": bill.group(1).upper(), "post_invoice": not _NO_POST.search(cleaned)}
        return Route("tool", "propose_bill_run", {**args, "target_date": when.group(1)} if when else args)
    return None


def _other_invoice(cleaned: str, first: re.Match[str]) -> str | None:
    """A second invoice the question names (a different number from the first), as typed."""
    number = first.group(1) or first.group(2)
    for match in _INVOICE.finditer(cleaned, first.end()):
        if int(match.group(1) or match.group(2)) != int(number):
            return match.group(0).strip()
    return None


_SUMMARY_OF = re.compile(r"\b(?:account\s+)?(?:summary|snapshot|overview|status|details|info(?:rmation)?|balance)"
                         r"\s+(?:for|of|on|about)\s+", re.IGNORECASE)


def _route(cleaned: str) -> Route:
    if not cleaned or _HELP.match(cleaned):
        return Route("help")
    if _NOTE.search(cleaned) or _EMAIL_NOTE.search(cleaned):
        return _note(cleaned)
    scheduled = _schedule_route(cleaned)
    if scheduled is not None:
        return scheduled
    change = subscription_route(cleaned)
    if change is not None:
        return change
    if _ACTIONS.search(cleaned):
        return _propose(cleaned)
    portfolio = _portfolio(cleaned)
    if portfolio is not None:
        return portfolio
    invoice = _INVOICE.search(cleaned)
    if invoice:
        typed = invoice.group(0).strip()
        if _EXPLAIN.search(cleaned) or _THAN.search(cleaned):
            expect = "lower" if _LOWER.search(cleaned) else "higher" if _HIGHER.search(cleaned) else None
            args: dict[str, Any] = {"invoice": typed}
            other = _other_invoice(cleaned, invoice)
            if other:  # "compare INV-42 and INV-1", "why is INV-42 higher than INV-1": the one asked for
                args["compare_to"] = other
            if other or _EXPLAIN.search(cleaned):
                return Route("tool", "explain_invoice", args, expect=expect)
        return Route("tool", "get_invoice", {"invoice": typed})
    subscription = _SUBSCRIPTION.search(cleaned)
    if subscription:
        return Route("tool", "get_subscription", {"subscription": subscription.group(1).upper()})
    number = _ACCOUNT.search(cleaned)
    account = number.group(1).upper() if number and len(number.group(1)) != 32 else number.group(1) if number \
        else None
    if account is None and (_PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _OVERDUE.search(cleaned)
                            or _ACCOUNT_WORDS.search(cleaned)):
        account = account_name(cleaned)
    if _OVERDUE.search(cleaned):
        return Route("tool", "list_overdue_invoices", {"account": account} if account else {})
    if account and _PAYMENTS.search(cleaned):
        return Route("tool", "list_payments", {"account": account, "failed_only": bool(_FAILED.search(cleaned))})
    if account and _USAGE.search(cleaned):
        return Route("tool", "get_usage", {"account": account})
    if account and (number or _ACCOUNT_WORDS.search(cleaned)):
        return Route("tool", "get_account_summary", {"account": account})
    if _PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _ACCOUNT_WORDS.search(cleaned):
        return _clarify("Which account? Give its number (like A00000007) or the start of the customer's name.")
    if _SUBSCRIPTION_WORDS.search(cleaned):
        return _clarify("Which subscription? Give its number, like A-S00000002.")
    if re.fullmatch(r"\d{1,12}", cleaned):
        return Route("tool", "get_invoice", {"invoice": cleaned})
    if _EXPLAIN.search(cleaned) and re.search(r"\binvoice\b", cleaned, re.IGNORECASE):
        return _clarify("Which invoice? Give its number, like INV-42 or INV00000042.")
    return _clarify("I didn't understand that.")


# -- subscription changes, retention offers, churn risk (issue 16) ------------------------------------

_CHANGE_PLAN = re.compile(r"\b(upgrade|downgrade|switch|move|change|migrate)\b", re.I)
_ADD = re.compile(r"\b(add)\b", re.I)
_REMOVE = re.compile(r"\b(remove|drop|take off|cut)\b", re.I)
_SET = re.compile(r"\b(set)\b", re.I)
_UNITS = re.compile(r"(?<![\w.,-])(-?\d{1,6}(?:\.\d+)?)\s+(seats?|users?|licen[cs]es?|units?)\b", re.I)
_WHEN = ((re.compile(r"\b(?:at|on|by)\s+(?:the\s+)?renewal\b", re.I), "renewal"),
         (re.compile(r"\b(?:next|following)\s+(?:billing\s+)?(?:period|month|cycle)\b|\bend of (?:the )?(?:billing )?"
                     r"(?:period|month|cycle)\b", re.I), "next_period"),
         (re.compile(r"\b(?:today|now|immediately|right away)\b", re.I), "today"))
_OFFER = re.compile(r"^\s*(?:propose\s+)?(?:a\s+)?(?:retention\s+)?(?:offer|discount)\b", re.I)
_PERCENT = re.compile(r"(?<![\w.])(-?\d{1,3}(?:\.\d{1,2})?)\s*(?:%|percent\b)", re.I)
_PERIODS = re.compile(r"\bfor\s+(\d{1,3})\s+(?:billing\s+)?(?:months?|periods?|invoices?)\b", re.I)
_QUESTION = re.compile(r"^\s*(?:why|what|when|how|who|which|did|does|do|is|was|has|have|can|could|should)\b", re.I)
_RISK = re.compile(r"^\s*(?:churn\s+)?risk\b|\bat[ -]risk\b|\bchurn\b", re.I)
SUBSCRIPTION_EXAMPLES = ("upgrade A-S00000002 to Business", "add 5 seats to A-S00000002",
                         "remove the SMS add-on from A-S00000017 at renewal", "offer A-S00000010 20% for 3 months",
                         "risk A00000010", "at risk")


def subscription_route(cleaned: str) -> Route | None:
    """A subscription change, retention offer or churn-risk question, or None when it is none of those."""
    if _RISK.search(cleaned) and not _SUBSCRIPTION.search(cleaned):
        number = _ACCOUNT.search(cleaned)
        if number:
            return Route("tool", "churn_risk", {"account": number.group(1).upper()})
        if re.search(r"\bat[ -]risk\b|\bchurn\b|^\s*risk\s*$", cleaned, re.I):
            return Route("tool", "accounts_at_risk", {})
        return None
    sub = _SUBSCRIPTION.search(cleaned)
    if not sub or _INVOICE.search(cleaned) or _QUESTION.match(cleaned):
        return None  # an invoice action that mentions a subscription, or a question about one
    number = sub.group(1).upper()
    if _OFFER.search(cleaned):
        percent = _PERCENT.search(cleaned)
        periods = _PERIODS.search(cleaned)
        if not percent:
            return _clarify(f"How much of a discount? For example: `{SUBSCRIPTION_EXAMPLES[3]}`.")
        return Route("tool", "propose_retention_offer", {
            "subscription": number, "percent": percent.group(1), "periods": int(periods.group(1)) if periods else 3,
            "reason": "retention offer requested in Slack"})
    rest = _SUBSCRIPTION.sub(" ", cleaned)
    when = next((value for pattern, value in _WHEN if pattern.search(rest)), "auto")
    for pattern, _ in _WHEN:
        rest = pattern.sub(" ", rest)
    verbs = [(m.start(), m.group(1).lower()) for p in (_CHANGE_PLAN, _ADD, _REMOVE, _SET) for m in [p.search(rest)]
             if m and not NEGATION.search(rest[:m.start()])]
    if not verbs:
        return None
    _, verb = min(verbs)
    args: dict[str, Any] = {"subscription": number, "when": when, "reason": "requested in Slack"}
    units = _UNITS.search(rest)
    if units and verb in ("add", "remove", "drop", "take off", "cut", "set", "change"):
        count = units.group(1)
        sign = "-" if verb in ("remove", "drop", "take off", "cut") else ""
        return Route("tool", "propose_subscription_change", {
            **args, "change": "update_quantity", "plan": units.group(2), "quantity": f"{sign}{count}",
            "delta": verb != "set" and verb != "change"})
    target = re.search(r"\b(?:to|onto|into)\s+(?:the\s+)?(.+?)\s*(?:plan)?\s*[.!?]*$", rest, re.I)
    if verb in ("upgrade", "downgrade", "switch", "move", "change", "migrate"):
        if (not target or not target.group(1).strip()) and verb not in ("upgrade", "downgrade"):
            return None  # "why did A-S00000002 change?": a question, not a change
        if not target or not target.group(1).strip():
            return _clarify(f"To which plan? For example: `{SUBSCRIPTION_EXAMPLES[0]}`.")
        return Route("tool", "propose_subscription_change", {**args, "change": "change_plan",
                                                             "plan": target.group(1).strip(" '\"")})
    product = re.sub(r"^\s*(?:add|remove|drop|take off|cut|set)\s+(?:the\s+|an?\s+)?", "", rest, flags=re.I)
    product = re.split(r"\s+(?:to|from|on|off)\b", product, maxsplit=1, flags=re.I)[0].strip(" .!?'\"")
    if not product:
        return _clarify("Which product? For example: `remove the SMS add-on from A-S00000017 at renewal`.")
    return Route("tool", "propose_subscription_change", {
        **args, "change": "add_product" if verb == "add" else "remove_product", "plan": product})


PROPOSAL_EXAMPLES = (*PROPOSAL_EXAMPLES, SUBSCRIPTION_EXAMPLES[0], SUBSCRIPTION_EXAMPLES[3])
"""The help's proposal examples, with a subscription change and a retention offer (issue 16)."""


# -- portfolio questions (the whole book, not one account) ---------------------------------------------------

_AGING = re.compile(r"\b(?:a/?r\s+aging|ag(?:e)?ing|aged\s+(?:receivables|debts?|balances?)|receivables|"
                    r"(?:overdue|owed|outstanding|unpaid)\s+(?:and\s+)?(?:for\s+)?how\s+long|how\s+long\s+"
                    r"(?:overdue|outstanding|unpaid))\b", re.IGNORECASE)
_LATE = re.compile(r"\b(?:pays?\s+late|paid\s+late|paying\s+late|late\s+payers?|late[- ]paying|slow\s+payers?|"
                   r"pays?\s+slow(?:ly)?|chronically\s+late)\b", re.IGNORECASE)
_LEAK = re.compile(r"\b(?:leakage|leak(?:ed|ing)?|failed\s+payments?|declines|declined\s+payments?|"
                   r"failed\s+charges?|payment\s+failures?)\b", re.IGNORECASE)
_TOP = re.compile(r"\b(?:top\s*(\d{1,6})?\s*(?:customers?|accounts?|clients?|payers?)|(?:biggest|largest|best|"
                  r"most\s+valuable)\s+(?:customers?|accounts?|clients?)|rank(?:ing)?\s+(?:of\s+)?"
                  r"(?:customers?|accounts?))\b", re.IGNORECASE)
_GROUP = re.compile(r"\b(?:by|per)\s+([a-z]+(?:\s+[a-z]+)?)", re.IGNORECASE)
_GROUPS = (("code", r"(?:decline\s+)?codes?|reasons?|declines?"), ("country", r"countr(?:y|ies)|regions?"),
           ("state", r"states?|provinces?"), ("quarter", r"quarters?|quarterly"), ("month", r"months?|monthly"))
_MONTHLY = re.compile(r"\b(monthly|quarterly)\b", re.IGNORECASE)
_INVOICED = re.compile(r"\b(?:invoiced|billed|billings?|invoice\s+amounts?)\b", re.IGNORECASE)
_MRR = re.compile(r"\b(?:mrr|arr|recurring\s+revenue)\b", re.IGNORECASE)
GROUPINGS_HELP = "month, quarter, country (region), state or decline code"


_TREND = re.compile(r"\bbill[- ]?runs?\s+(?:trend|history|totals?|over\s+time)\b|\btrend\b.*\bbill[- ]?runs?\b|"
                    r"\blast\s+(\d{1,3})\s+bill[- ]?runs?\b", re.IGNORECASE)
_HISTORY = re.compile(r"\binvoice\s+history\b|\bhistory\s+of\s+(?:the\s+)?invoices\b|\ball\s+invoices\s+(?:of|for)\b",
                      re.IGNORECASE)


def _portfolio(cleaned: str) -> Route | None:
    """A question about the whole book (aging, late payers, failed payments, top customers, bill-run trend) or
    one account's invoice history, or None."""
    phrase = period_phrase(cleaned)
    args: dict[str, Any] = {"period": phrase} if phrase else {}
    if _HISTORY.search(cleaned) and not _INVOICE.search(cleaned):
        number = _ACCOUNT.search(cleaned)
        rest = _HISTORY.sub(" ", cleaned.replace(phrase, " ") if phrase else cleaned)
        account = number.group(1).upper() if number and len(number.group(1)) != 32 else number.group(1) if number \
            else account_name(rest)
        if not account:
            return _clarify("Whose invoice history? Give the account number (like A00000007) or the customer's name.")
        return Route("tool", "invoice_history", {**args, "account": account})
    if any(p.search(cleaned) for p in (_INVOICE, _ACCOUNT, _SUBSCRIPTION)):
        return None
    if trend := _TREND.search(cleaned):
        count = next((g for g in trend.groups() if g), None)
        if count and not 1 <= int(count) <= 24:
            return _clarify("I can show the trend of 1 to 24 bill runs.")
        return Route("tool", "bill_run_trend", {"runs": int(count)} if count else {})
    rest = _GROUP.sub(" ", cleaned.replace(phrase, " ") if phrase else cleaned)
    if _TOP.search(cleaned):
        count = _TOP.search(cleaned).group(1)  # type: ignore[union-attr]
        if count and not 1 <= int(count) <= 50:
            return _clarify(f"I can rank up to 50 customers; {count} is too many.")
        if _MRR.search(cleaned):
            return _clarify("I rank customers by payments received (revenue) or by invoiced amount, not by MRR "
                            "yet. For example: `top 10 customers by revenue last 12 months`.")
        args.update(measure="invoiced" if _INVOICED.search(cleaned) else "payments", limit=int(count or 10))
        return Route("tool", "top_customers", args)
    if _LATE.search(cleaned) and account_name(rest) is None:
        return Route("tool", "late_payers", args)
    if _LEAK.search(cleaned) and account_name(rest) is None:
        group = _GROUP.search(cleaned)
        if group:
            words = group.group(1)
            found = next((name for name, pattern in _GROUPS if re.match(rf"(?:{pattern})\b", words, re.I)), None)
            if found is None:
                return _clarify(f"I can group failed payments by {GROUPINGS_HELP}, not by {words!r}.")
            args["group_by"] = found
        elif monthly := _MONTHLY.search(cleaned):
            args["group_by"] = "month" if monthly.group(1).lower() == "monthly" else "quarter"
        return Route("tool", "failed_payments", args)
    if _AGING.search(cleaned):
        return Route("tool", "receivables_aging", {})
    return None
