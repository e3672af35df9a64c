"""The `Answer` model and the templates that write one from a tool result (pure, Slack mrkdwn).

An answer carries the text, the structured facts behind it (drivers, totals, …), the Zuora objects
it cites and follow-up questions the router understands.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from bot.copilot.portfolio import PortfolioResult, portfolio_lines
from bot.copilot.results import (
    AccountResult,
    Citation,
    ExplainResult,
    InvoiceResult,
    OverdueResult,
    PaymentInfo,
    PaymentsResult,
    ProposalResult,
    Result,
    RiskListResult,
    RiskResult,
    SubscriptionResult,
    UsageResult,
)
from bot.copilot.router import EXAMPLES
from bot.money import count, money, period, price, qty, units

__all__ = ["Answer", "Exchange", "clarify", "failure", "help_answer", "render"]


class Answer(BaseModel):
    """What the copilot says: text for Slack plus the data behind it."""

    text: str
    """Slack mrkdwn."""
    intent: str
    """The tool that answered, or `help`, `clarify`, `error`."""
    source: Literal["deterministic", "llm"] = "deterministic"
    facts: dict[str, Any] = {}
    citations: list[Citation] = []
    follow_ups: list[str] = []
    notes: list[str] = []
    """Things the reader should know about how the answer was made (a short form matched, a fallback)."""
    about: dict[str, str] = {}
    """What follow-ups may refer back to (`invoice`, `previous_invoice`, `account`, `subscription`)."""


class Exchange(BaseModel):
    """One question and its answer in a conversation (a Slack thread)."""

    question: str
    answer: Answer


def _examples() -> str:
    return "\n".join(f"• `{e}`" for e in EXAMPLES)


def help_answer() -> Answer:
    """What the copilot can do, with examples."""
    return Answer(intent="help", follow_ups=list(EXAMPLES[:3]), text=(
        "I answer billing questions from Zuora. Try:\n" + _examples()))


def clarify(message: str) -> Answer:
    """A short clarifying reply with examples."""
    return Answer(intent="clarify", follow_ups=list(EXAMPLES[:3]), text=f"{message} For example:\n{_examples()}")


def failure(message: str, kind: str, *, tried: str | None = None, tool: str | None = None) -> Answer:
    """A tool error, said plainly (not-found and ambiguous errors come with examples); `tried` says what was done."""
    text = f":warning: {message}"
    if kind in ("not_found", "invalid"):
        text += "\nFor example:\n" + _examples()
    facts = {"error": message, "error_kind": kind}
    if tried:
        facts["tried"] = tried
    if tool:
        facts["tool"] = tool
    return Answer(intent="error", text=text, facts=facts)


def render(result: Result, *, expect: Literal["higher", "lower"] | None = None) -> Answer:
    """The templated answer for a tool result."""
    from bot.copilot.schedules import SchedulesResult, render_schedules

    if isinstance(result, SchedulesResult):
        return render_schedules(result)
    if isinstance(result, ExplainResult):
        return _explain(result, expect)
    if isinstance(result, InvoiceResult):
        return _invoice(result)
    if isinstance(result, AccountResult):
        return _account(result)
    if isinstance(result, PaymentsResult):
        return _payments(result)
    if isinstance(result, OverdueResult):
        return _overdue(result)
    if isinstance(result, SubscriptionResult):
        return _subscription(result)
    if isinstance(result, UsageResult):
        return _usage(result)
    if isinstance(result, ProposalResult):
        return _proposal(result)
    if isinstance(result, RiskResult | RiskListResult):
        return _risk(result)
    if isinstance(result, PortfolioResult):
        lines, follow = portfolio_lines(result)
        return _answer(result.question, result, lines, follow)
    raise TypeError(f"no template for {type(result).__name__}")


def _answer(intent: str, result: Result, lines: list[str], follow_ups: list[str], notes: list[str] | None = None,
            facts: dict[str, Any] | None = None) -> Answer:
    return Answer(intent=intent, text="\n".join(lines), citations=result.citations(), follow_ups=follow_ups,
                  notes=notes or [], facts=facts if facts is not None else result.model_dump(mode="json"))


def _matched_note(typed: str, matched: str) -> list[str]:
    return [f"{typed.strip()} was read as {matched}."] if typed.strip() != matched else []


def _explain(result: ExplainResult, expect: Literal["higher", "lower"] | None) -> Answer:
    e = result.explanation
    inv, c = e.invoice, e.currency
    notes = _matched_note(result.typed, result.matched)
    number = e.invoice.invoice_number
    facts = e.model_dump(mode="json")
    facts["compared_with"] = "the invoice asked for" if result.compared_with else "the previous invoice"
    if result.compared_with:
        notes.append(f"Compared with {result.compared_with}, as asked (not with the invoice before {number}).")
    follow = [f"show {number}", f"draft note {number}"]
    if e.mode == "mixed_currency" or e.difference is None or e.previous is None:
        lines = [e.summary]
        if e.mode == "first_invoice":
            lines = [f"*{number}* ({money(inv.amount, c)}, {inv.invoice_date}) is the account's first invoice, so "
                     f"there is nothing to compare it with. It is made of:"]
            lines += [f"• {d.sentence}" for d in e.drivers]
        return _answer("explain_invoice", result, lines, follow, notes, facts)
    prev = e.previous
    diff = e.difference
    head = f"*{number}* ({money(inv.amount, c)}, {inv.invoice_date}) "
    if diff == 0:
        head += f"is the same amount as *{prev.invoice_number}* ({prev.invoice_date})."
    else:
        word = "higher" if diff > 0 else "lower"
        if expect and expect != word:
            head = f"{number} is not {expect}: " + head[0].lower() + head[1:]
        head += f"is *{money(abs(diff), c)} {word}* than *{prev.invoice_number}* ({money(prev.amount, c)}, " \
                f"{prev.invoice_date})."
    lines = [head]
    for d in e.drivers:
        lines.append(f"• *{money(d.amount, c, signed=True)}* {d.sentence}")
    if len(e.drivers) == 1:
        lines.append(f"That one driver is the whole difference, {money(diff, c, signed=True)}.")
    elif e.drivers:
        lines.append(f"The {len(e.drivers)} drivers add up to {money(diff, c, signed=True)}.")
    elif diff == 0:
        lines.append("No line changed.")
    if e.unexplained:
        lines.append(f":warning: {money(e.unexplained, c, signed=True)} is not explained by the invoice lines.")
    follow = [f"show {number}", f"show {prev.invoice_number}", f"draft note {number}"]
    return _answer("explain_invoice", result, lines, follow, notes, facts)


def _invoice(r: InvoiceResult) -> Answer:
    c = r.currency
    state = f"open balance {money(r.balance, c)}" if r.balance else "paid in full"
    if r.days_overdue:
        state += f", *{r.days_overdue} days overdue*"
    lines = [f"*{r.invoice_number}* for {r.account.name} ({r.account.account_number}): {money(r.amount, c)} "
             f"incl. {money(r.tax, c)} tax, dated {r.invoice_date}, due {r.due_date or 'n/a'}, {r.status}, {state}."]
    for line in r.lines:
        what = f"{qty(line.quantity)} × {price(line.unit_price)}" if line.quantity is not None and not line.discount \
            else "discount" if line.discount else ""
        lines.append(f"• {line.charge_name} ({period(line.period_start, line.period_end)}) {what}: "
                     f"{money(line.amount, c)} + tax {money(line.tax, c)}")
    follow = [f"why is {r.invoice_number} higher", f"account {r.account.account_number}"]
    return _answer("get_invoice", r, lines, follow, _matched_note(r.typed, r.invoice_number))


def _payment_line(p: PaymentInfo) -> str:
    line = f"• {p.payment_number} {p.effective_date} {money(p.amount, p.currency)} {p.status}"
    if p.status == "Error":
        line += f": declined ({p.gateway_code or '?'}) {p.gateway_message or ''}".rstrip()
    return line


def _account(r: AccountResult) -> Answer:
    c = r.currency
    lines = [f"*{r.account.name}* ({r.account.account_number}, {r.status}): balance *{money(r.balance, c)}*."]
    if r.overdue_invoices:
        lines.append(f"Overdue: {count(len(r.overdue_invoices), 'invoice')}, {money(r.overdue_total, c)}:")
        lines += [f"• {i.invoice_number} due {i.due_date}, {i.days_overdue} days late, {money(i.balance, c)}"
                  for i in r.overdue_invoices]
    else:
        lines.append("Nothing overdue.")
    if r.last_payments:
        lines.append("Last payments:")
        lines += [_payment_line(p) for p in r.last_payments]
    pm = r.payment_method
    if pm:
        card = " ".join(x for x in (pm.brand, f"ending {pm.last4}" if pm.last4 else None) if x) or pm.method_type
        health = "expired" if pm.expired else "expires soon" if pm.expires_within_60_days else "ok"
        expiry = f", expires {pm.expires}" if pm.expires else ""
        lines.append(f"Payment method: {card}{expiry} ({health}); auto-pay {'on' if r.auto_pay else 'off'}"
                     + (f"; {pm.consecutive_failures} consecutive failures" if pm.consecutive_failures else "") + ".")
    else:
        lines.append(f"No default payment method; auto-pay {'on' if r.auto_pay else 'off'}.")
    if r.bill_to and (r.bill_to.name or r.bill_to.email):
        lines.append(f"Bill-to: {', '.join(x for x in (r.bill_to.name, r.bill_to.email) if x)}.")
    if r.risk_score is not None:
        why = "; ".join(r.risk_reasons[:3]) or "no signal"
        lines.append(f"Churn risk: {r.risk_score} of 100 ({r.risk_level}): {why}.")
    n = r.account.account_number
    return _answer("get_account_summary", r, lines, [f"payments {n}", f"overdue invoices for {n}", f"usage {n}"]
                   + ([f"risk {n}"] if r.risk_score else []))


def _payments(r: PaymentsResult) -> Answer:
    lines = [f"*{r.account.name}* ({r.account.account_number}): last {count(len(r.payments), 'payment')}, "
             f"{r.failed} failed."]
    lines += [_payment_line(p) for p in r.payments] or ["No payments."]
    return _answer("list_payments", r, lines, [f"account {r.account.account_number}"])


def _overdue(r: OverdueResult) -> Answer:
    if not r.invoice_count:
        return _answer("list_overdue_invoices", r, [f"Nothing is overdue as of {r.as_of}."], ["who is overdue"])
    totals = ", ".join(money(v, k) for k, v in sorted(r.totals.items()))
    more = " (first 500 only)" if r.truncated else ""
    lines = [f"{count(r.invoice_count, 'overdue invoice')} from {count(len(r.accounts), 'account')} as of "
             f"{r.as_of}{more}: "
             f"{totals}."]
    lines += [f"• *{a.account_name}* ({a.account_number}): {count(a.invoices, 'invoice')}, "
              f"{money(a.balance, a.currency)}, "
              f"oldest due {a.oldest_due_date} ({a.days_overdue} days)" for a in r.accounts[:15]]
    follow = [f"account {a.account_number}" for a in r.accounts[:3]]
    return _answer("list_overdue_invoices", r, lines, follow)


def _subscription(r: SubscriptionResult) -> Answer:
    term = period(r.term_start_date, r.term_end_date)
    lines = [f"*{r.subscription_number}* ({r.account_number or 'unknown account'}): {r.status}, term {term}."]
    for ch in r.charges:
        if ch.discount_percentage is not None:
            what = f"{qty(ch.discount_percentage)}% discount"
        elif ch.quantity is not None:
            what = f"{qty(ch.quantity)} × {price(ch.price)} {r.currency or ''}".rstrip()
        else:
            what = f"{price(ch.price)} {r.currency or ''} per {ch.unit_of_measure or 'unit'}".rstrip()
        lines.append(f"• {ch.name} ({ch.charge_type}, {ch.charge_number}): {what}, from "
                     f"{ch.effective_start_date or '?'}" + (f" to {ch.effective_end_date}" if ch.effective_end_date
                                                              else ""))
    follow = [f"account {r.account_number}"] if r.account_number else []
    return _answer("get_subscription", r, lines, follow)


def _usage(r: UsageResult) -> Answer:
    lines = [f"*{r.account.name}* ({r.account.account_number}) usage:"]
    lines += [f"• {m.month}: {units(m.quantity, m.unit_of_measure)}" for m in r.months] or ["No usage recorded."]
    return _answer("get_usage", r, lines, [f"account {r.account.account_number}"])


def _proposal(r: ProposalResult) -> Answer:
    lines = [f":memo: *Proposed for approval:* {r.sentence}", f"Reason: {r.proposal['reason']}",
             "Nothing changes in Zuora until an authorized approver clicks Approve on the card."]
    return _answer(f"propose_{r.kind}", r, lines, [], facts={"proposal": r.proposal, "kind": r.kind})


# -- churn risk (issue 16) ----------------------------------------------------------------------------


def _risk(r: RiskResult | RiskListResult) -> Answer:
    if isinstance(r, RiskListResult):
        lines = [f"*Accounts at risk* (churn-risk score from billing data; {r.scored} active accounts scored"
                 f"{', more not scored' if r.capped else ''}"
                 f"{f', {r.unread} could not be read' if r.unread else ''}):"]
        lines += [f"• *{row.account.name}* ({row.account.account_number}): {row.score} ({row.level}), {row.top}"
                  for row in r.rows] or ["No account shows a churn-risk signal."]
        return _answer("accounts_at_risk", r, lines, [f"risk {row.account.account_number}" for row in r.rows[:3]])
    lines = [f"*{r.account.name}* ({r.account.account_number}) churn risk: *{r.score}* of 100 ({r.level}), "
             f"from billing data only:"]
    lines += [f"• +{reason.points} {reason.text} [{reason.cite.label}]" for reason in r.reasons] or \
        ["• no signal: no failed payments in 90 days, card valid, no downgrades, usage not falling, nothing overdue"]
    offer = [f"offer {r.subscriptions[0]} 10% for 3 months"] if r.subscriptions and r.level != "low" else []
    return _answer("churn_risk", r, lines, [*offer, f"account {r.account.account_number}",
                                            f"payments for {r.account.account_number}"])
