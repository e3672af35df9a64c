"""The deterministic router: free text in, one tool call (or help, or a clarifying question) out (pure).

It finds invoice numbers (`INV00000042`, `INV-42`, `inv42`, `#42`, "invoice 42"), account numbers
(`A00000007`), subscription numbers (`A-S00000002`) and account names ("payments for Acme"), then
picks the intent from keywords. Used whenever no LLM is configured, and as the fallback when the
LLM fails. A follow-up in a conversation ("and the one before?", "what about their payments?")
is read against a `Context`: what the latest answer was about. Proposals, schedules, subscription
changes and portfolio questions are read by their own modules in `bot.copilot.routing`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.copilot.routing.decision import Context, Route, clarify
from bot.copilot.routing.mentions import ACCOUNT, BEFORE, INVOICE, PAYMENTS, SUBSCRIPTION, account_name
from bot.copilot.routing.portfolio import portfolio_route
from bot.copilot.routing.proposals import ACTIONS, EMAIL_NOTE, NOTE, note, propose
from bot.copilot.routing.schedules import schedule_route
from bot.copilot.routing.subscriptions import subscription_route

__all__ = ["EXAMPLES", "Context", "Route", "progress", "route"]

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
_MAX_LEN = 500
_EXPLAIN = re.compile(r"\b(why|higher|lower|more|less|increase[ds]?|decrease[ds]?|went (?:up|down)|jump(?:ed)?|"
                      r"spike[ds]?|chang(?:e|ed|es)|differ(?:ence|ent|s)?|explain|breakdown|break down|compare[ds]?|"
                      r"bigger|smaller|expensive|cheaper)\b", re.IGNORECASE)
_LOWER = re.compile(r"\b(lower|less|decrease[ds]?|went down|smaller|cheaper|drop(?:ped)?)\b", re.IGNORECASE)
_HIGHER = re.compile(r"\b(higher|more|increase[ds]?|went up|jump(?:ed)?|spike[ds]?|bigger|expensive)\b",
                     re.IGNORECASE)
_OVERDUE = re.compile(r"\b(overdue|past[ -]due|late|delinquent|unpaid|behind|hasn'?t paid|haven'?t paid|"
                      r"not paid|aging)\b", re.IGNORECASE)
_FAILED = re.compile(r"\b(declin\w*|fail\w*|bounced?|errors?|rejected)\b", re.IGNORECASE)
_USAGE = re.compile(r"\b(usage|used|use|consum\w*|api calls?|metered)\b", re.IGNORECASE)
_ACCOUNT_WORDS = re.compile(r"\b(owes?|owing|balance|account|summary|status|card|payment method|health|"
                            r"customer|snapshot|about|who is)\b", re.IGNORECASE)
_SUBSCRIPTION_WORDS = re.compile(r"\b(subscriptions?|sub|plan|term|renewal|mrr)\b", re.IGNORECASE)
_THAN = re.compile(r"\b(than|compared|vs\.?|versus)\b", re.IGNORECASE)
_IT = re.compile(r"\b(it|this|that|this one|that one|the invoice|lines?|items?|details?|tax|show)\b", re.IGNORECASE)
_HELP = re.compile(r"^\s*(help|\?+|hi|hello|hey|what can you do\??|usage help|commands)\s*[!.?]*\s*$", re.IGNORECASE)


def route(text: str, context: Context | None = None) -> Route:
    """Decide what to do with a question, without an LLM; `context` resolves follow-ups."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in (text or "")).split())[:_MAX_LEN]
    decision = _route(cleaned)
    if context is None or decision.kind == "help" or ACTIONS.search(cleaned):
        return decision
    names_something = any(p.search(cleaned) for p in (INVOICE, ACCOUNT, SUBSCRIPTION))
    if decision.kind == "clarify" or (not names_something and BEFORE.search(cleaned)):
        return _follow_up(cleaned, context) or decision
    return decision


def _follow_up(cleaned: str, context: Context) -> Route | None:
    """A question that names nothing, read against what the conversation was about."""
    invoice_tool = context.tool if context.tool in ("explain_invoice", "get_invoice") else None
    if context.invoice and BEFORE.search(cleaned) and not _THAN.search(cleaned):
        tool = "explain_invoice" if _EXPLAIN.search(cleaned) else invoice_tool or "get_invoice"
        if context.previous_invoice:
            return Route("tool", tool, {"invoice": context.previous_invoice})
        return Route("tool", tool, {"invoice": context.invoice, "before": True})
    if context.account and (PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _OVERDUE.search(cleaned)
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


def _other_invoice(cleaned: str, first: re.Match[str]) -> str | None:
    """A second invoice the question names (a different number from the first), as typed."""
    number = first.group(1) or first.group(2)
    for match in INVOICE.finditer(cleaned, first.end()):
        if int(match.group(1) or match.group(2)) != int(number):
            return match.group(0).strip()
    return None


def _route(cleaned: str) -> Route:
    if not cleaned or _HELP.match(cleaned):
        return Route("help")
    if NOTE.search(cleaned) or EMAIL_NOTE.search(cleaned):
        return note(cleaned)
    scheduled = schedule_route(cleaned)
    if scheduled is not None:
        return scheduled
    change = subscription_route(cleaned)
    if change is not None:
        return change
    if ACTIONS.search(cleaned):
        return propose(cleaned)
    portfolio = portfolio_route(cleaned)
    if portfolio is not None:
        return portfolio
    invoice = INVOICE.search(cleaned)
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
    subscription = SUBSCRIPTION.search(cleaned)
    if subscription:
        return Route("tool", "get_subscription", {"subscription": subscription.group(1).upper()})
    number = ACCOUNT.search(cleaned)
    account = number.group(1).upper() if number and len(number.group(1)) != 32 else number.group(1) if number \
        else None
    if account is None and (PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _OVERDUE.search(cleaned)
                            or _ACCOUNT_WORDS.search(cleaned)):
        account = account_name(cleaned)
    if _OVERDUE.search(cleaned):
        return Route("tool", "list_overdue_invoices", {"account": account} if account else {})
    if account and PAYMENTS.search(cleaned):
        return Route("tool", "list_payments", {"account": account, "failed_only": bool(_FAILED.search(cleaned))})
    if account and _USAGE.search(cleaned):
        return Route("tool", "get_usage", {"account": account})
    if account and (number or _ACCOUNT_WORDS.search(cleaned)):
        return Route("tool", "get_account_summary", {"account": account})
    if PAYMENTS.search(cleaned) or _USAGE.search(cleaned) or _ACCOUNT_WORDS.search(cleaned):
        return clarify("Which account? Give its number (like A00000007) or the start of the customer's name.")
    if _SUBSCRIPTION_WORDS.search(cleaned):
        return clarify("Which subscription? Give its number, like A-S00000002.")
    if re.fullmatch(r"\d{1,12}", cleaned):
        return Route("tool", "get_invoice", {"invoice": cleaned})
    if _EXPLAIN.search(cleaned) and re.search(r"\binvoice\b", cleaned, re.IGNORECASE):
        return clarify("Which invoice? Give its number, like INV-42 or INV00000042.")
    return clarify("I didn't understand that.")
