"""The portfolio tools (aging, late payers, failed-payment leakage, top customers) and their answer text.

The LLM and the router pick a tool and its parameters (a period phrase, a grouping, a measure, a
count); the queries come from `analytics.load`, the numbers from `analytics.portfolio`. A result
carries its evidence: the period, the "as of" date, every query as sent, the records read, the
full table (for the CSV) and a chart spec (for the PNG). A Zuora error mid-stream fails the whole
tool (the toolbox turns it into an `unavailable` answer): no partial table is ever shown.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.analytics import portfolio as pf
from bot.analytics.export import Report, chart_png, chart_spec, csv_text, table_of
from bot.analytics.load import Loader, loader_for
from bot.analytics.periods import Period, PeriodError, find_period, parse_period
from bot.copilot.lookups import find_account
from bot.copilot.results import Citation, Result
from bot.copilot.tools import ToolContext, ToolError, tool
from bot.money import count, money

__all__ = ["PORTFOLIO_TOOLS", "PortfolioResult", "answer_chart", "answer_csv", "portfolio_lines", "table_facts"]

PORTFOLIO_TOOLS = ("receivables_aging", "late_payers", "failed_payments", "top_customers", "bill_run_trend",
                   "invoice_history")
SHOWN = 10
"""Rows the text (and the Slack table) shows; the CSV has them all."""
_PERIOD_HELP = ("a period such as \"this month\", \"last quarter\", \"last 6 months\", \"last 90 days\", "
                "\"this year\", \"since 2026-01-01\" or \"2026-01-01 to 2026-03-31\"")


class PortfolioResult(Result):
    """A portfolio answer with its evidence."""

    question: str
    as_of: date
    period: str | None = Field(default=None, exclude=True)
    """The period's label ("last quarter"); kept out of the payload so that grounding, which cuts every free-text
    value out of the sources, does not also cut it out of `sentence`."""
    period_start: date | None = None
    period_end: date | None = None
    """Inclusive last day."""
    sentence: str | None = None
    """The period in our words ("last 12 months (2025-11-21 to 2026-11-20)"): numbers in it ground an LLM answer."""
    queries: list[str]
    records_read: int
    pages_read: int
    columns: list[str]
    rows: list[dict[str, Any]]
    """Every row (the CSV); the text shows the first `SHOWN`."""
    totals: dict[str, Decimal]
    """Per currency: the headline total (open balance, leaked amount, value of every account)."""
    summary: dict[str, Any] = {}
    chart: dict[str, Any] | None = None
    cited: list[Citation] = []

    def citations(self) -> list[Citation]:
        return self.cited


class PeriodArgs(BaseModel):
    period: str | None = Field(default=None, max_length=80, description=(
        f"The period as the user said it: {_PERIOD_HELP}. Omit for the default (the last 12 months)."))


class AgingArgs(BaseModel):
    pass


class LatePayersArgs(PeriodArgs):
    limit: int = Field(default=SHOWN, ge=1, le=50, description="How many accounts to show")


class FailedPaymentsArgs(PeriodArgs):
    group_by: Literal["month", "quarter", "country", "state", "code"] = Field(
        default="month", description="Group by month, quarter, bill-to country (\"region\"), bill-to state, or "
                                     "decline code")


class TopCustomersArgs(PeriodArgs):
    measure: Literal["payments", "invoiced"] = Field(
        default="payments", description="payments = money received (\"revenue\"); invoiced = posted invoice amounts")
    limit: int = Field(default=SHOWN, ge=1, le=50, description="How many customers per currency (top N)")


def _period(ctx: ToolContext, text: str | None) -> Period:
    today = ctx.today()
    try:
        if text and find_period(text, today) is None:
            raise ToolError("invalid", f"I can't read the period {text!r}; say {_PERIOD_HELP}.")
        return parse_period(text, today)
    except PeriodError as exc:
        raise ToolError("invalid", f"That period does not work: {exc}.") from None


def _cell(value: Any) -> Any:
    return value if isinstance(value, str | int | Decimal) or value is None else str(value)


def _result(question: str, report: Report, loader: Loader, today: date, period: Period | None,
            totals: dict[str, Decimal], summary: dict[str, Any], accounts: list[pf.AccountInfo]) -> PortfolioResult:
    table = table_of(report)
    cited = []
    for info in accounts:
        if info.account_id and all(c.object_id != info.account_id for c in cited):
            cited.append(Citation(kind="account", label=info.account_number, object_id=info.account_id))
    return PortfolioResult(
        question=question, as_of=today, period=period.label if period else None,
        period_start=period.start if period else None, period_end=period.last_day if period else None,
        sentence=period.describe() if period else f"as of {today}",
        queries=list(loader.trace.queries), records_read=loader.trace.records, pages_read=loader.trace.pages,
        columns=list(table.columns), rows=[{c: _cell(v) for c, v in zip(table.columns, row, strict=True)}
                                           for row in table.rows],
        totals=totals, summary=summary, chart=chart_spec(report), cited=cited[:SHOWN])


@tool(AgingArgs)
def receivables_aging(ctx: ToolContext, args: AgingArgs) -> PortfolioResult:
    """Receivables aging: the open balance of posted invoices by days past due (current, 1-30, 31-60, 61-90,
    90+) per currency, and the accounts with the oldest unpaid money. Answers "aging", "AR aging", "what is
    overdue and for how long"."""
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    accounts = loader.accounts()
    report = pf.aging(loader.open_invoices(), accounts, today)
    totals = {c: sum(b.values(), Decimal(0)) for c, b in report.totals.items()}
    summary = {"buckets": {c: {k: str(v) for k, v in b.items()} for c, b in report.totals.items()},
               "invoices": {c: dict(n) for c, n in report.counts.items()}, "accounts_oldest": len(report.oldest())}
    return _result("aging", report, loader, today, None, totals, summary,
                   [a.account for a in (report.oldest() or report.accounts)])


@tool(LatePayersArgs)
def late_payers(ctx: ToolContext, args: LatePayersArgs) -> PortfolioResult:
    """Late payers: accounts whose invoices due in the period were paid after the due date or are still
    unpaid past it, ranked by average days late, with the worst case and the count of late invoices."""
    period = _period(ctx, args.period)
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    accounts = loader.accounts()
    report = pf.late_payers(loader.invoices_due(period), accounts, period, today)
    report = pf.LatePayersReport(report.period, report.as_of, report.payers[:args.limit], report.invoices_due,
                                 report.late_invoices, report.invoices_read)
    summary = {"invoices_due": report.invoices_due, "late_invoices": report.late_invoices,
               "late_accounts": len(report.payers)}
    return _result("late_payers", report, loader, today, period, {}, summary, [p.account for p in report.payers])


@tool(FailedPaymentsArgs)
def failed_payments(ctx: ToolContext, args: FailedPaymentsArgs) -> PortfolioResult:
    """Failed-payment leakage: failed (declined) payments in the period that no later payment of the same
    account recovered, grouped by month, quarter, bill-to country or state, or decline code, per currency."""
    period = _period(ctx, args.period)
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    accounts = loader.accounts()
    report = pf.leakage(loader.payments_for_leakage(period), accounts, period, args.group_by)
    summary = {"group_by": args.group_by, "failed": {c: str(v) for c, v in report.failed_totals.items()},
               "failed_payments": sum(g.failed_count for g in report.groups),
               "unrecovered_payments": len(report.unrecovered)}
    cited = [accounts[p.account_id] for p in report.unrecovered if p.account_id in accounts]
    return _result("failed_payments", report, loader, today, period, report.totals, summary, cited)


@tool(TopCustomersArgs)
def top_customers(ctx: ToolContext, args: TopCustomersArgs) -> PortfolioResult:
    """Top customers by value in the period: payments received ("revenue") or invoiced amounts, top N per
    currency, with each one's share of the currency's total."""
    period = _period(ctx, args.period)
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    accounts = loader.accounts()
    report = pf.top_customers(loader.values(period, args.measure), accounts, period, args.measure, args.limit)
    summary = {"measure": args.measure, "accounts_with_value": report.accounts}
    return _result("top_customers", report, loader, today, period, report.totals, summary,
                   [c.account for c in report.top])


class TrendArgs(BaseModel):
    runs: int = Field(default=6, ge=1, le=24, description="How many of the latest completed bill runs")


class HistoryArgs(PeriodArgs):
    account: str = Field(min_length=1, max_length=128,
                         description="Account number (A00000007), account id, or the start of the account name")


@tool(TrendArgs)
def bill_run_trend(ctx: ToolContext, args: TrendArgs) -> PortfolioResult:
    """Bill-run trend: invoice count and total per currency of each of the latest N completed bill runs."""
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    runs = loader.bill_runs(args.runs)
    report = pf.bill_run_trend(runs, loader.run_invoices(runs))
    totals: dict[str, Decimal] = {}
    for row in report.rows:
        totals[row.currency] = totals.get(row.currency, Decimal("0.00")) + row.total
    summary = {"runs": len(runs)}
    return _result("bill_run_trend", report, loader, today, None, totals, summary, [])


@tool(HistoryArgs)
def invoice_history(ctx: ToolContext, args: HistoryArgs) -> PortfolioResult:
    """One account's invoice history in the period: each posted invoice with amount, balance, due date, when it
    was paid and how many days late."""
    period = _period(ctx, args.period)
    account = find_account(ctx, args.account)
    info = pf.AccountInfo(account.account_id, account.account_number, account.name, account.currency)
    loader = loader_for(ctx.client, data_query=ctx.data_query)
    today = ctx.today()
    report = pf.invoice_history(info, loader.account_invoices(account.account_id, period), period, today)
    summary = {"account_number": info.account_number, "account_name": info.name, "invoices": len(report.invoices),
               "open": {c: str(v) for c, v in report.open_totals.items()}}
    return _result("invoice_history", report, loader, today, period, report.totals, summary, [info])


# -- answer text (mrkdwn from our templates; Zuora text is escaped by the Slack block builder) -------

def _totals(totals: dict[str, Decimal]) -> str:
    return ", ".join(money(v, c) for c, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def _shown(r: PortfolioResult) -> int:
    """Rows the text shows: the top N of every currency for a ranking (at most 30), else `SHOWN`."""
    return min(len(r.rows), 30) if r.question == "top_customers" else SHOWN


def _evidence(r: PortfolioResult) -> list[str]:
    lines = [f"_Read {count(r.records_read, 'record')} in {count(r.pages_read, 'page')}, as of {r.as_of}. Queries:_"]
    lines += [f"`{q}`" for q in r.queries]
    if len(r.rows) > _shown(r):
        lines.append(f"_Showing {_shown(r)} of {len(r.rows)} rows; the CSV has them all._")
    return lines


def portfolio_lines(r: PortfolioResult) -> tuple[list[str], list[str]]:
    """The answer's lines and follow-up questions."""
    when = f"{r.period} ({r.period_start} to {r.period_end})" if r.period else f"as of {r.as_of}"
    rows = r.rows[:_shown(r)]
    if r.question == "aging":
        if not r.rows:
            return [f"Nothing is open: no posted invoice has a balance as of {r.as_of}."] + _evidence(r), []
        lines = [f"*Receivables aging* as of {r.as_of}: {_totals(r.totals)} open."]
        for currency, buckets in sorted(r.summary["buckets"].items()):
            counts = r.summary["invoices"][currency]
            lines.append(f"• {currency}: " + ", ".join(f"{k} {money(Decimal(v), currency)} ({counts[k]})"
                                                      for k, v in buckets.items()))
        lines.append("Oldest first:")
        lines += [f"• *{row['account_name']}* ({row['account_number']}): {money(row['total'], row['currency'])} open, "
                  + (f"oldest {row['oldest_invoice']} {count(row['oldest_days_past_due'], 'day')} past due"
                     if row["oldest_days_past_due"] else "nothing past due yet") for row in rows]
        follow = [f"account {row['account_number']}" for row in rows[:3]]
    elif r.question == "late_payers":
        if not r.rows:
            due = r.summary["invoices_due"]
            return [f"No late payers in {when}: {count(due, 'invoice')} {'was' if due == 1 else 'were'} due, "
                    "none paid late."
                    ] + _evidence(r), ["top 10 customers by revenue last 12 months"]
        lines = [f"*Late payers*, invoices due {when}: {r.summary['late_invoices']} of {r.summary['invoices_due']} "
                 f"{'invoice' if r.summary['invoices_due'] == 1 else 'invoices'} paid late or still unpaid, "
                 f"{count(r.summary['late_accounts'], 'account')}."]
        lines += [f"• *{row['account_name']}* ({row['account_number']}): {row['late_invoices']} of "
                  f"{row['invoices_due']} late, {row['average_days_late']} days on average, worst "
                  f"{row['worst_days_late']} ({row['worst_invoice']})"
                  + (f", {row['still_open']} still unpaid" if row["still_open"] else "") for row in rows]
        follow = [f"account {row['account_number']}" for row in rows[:3]]
    elif r.question == "failed_payments":
        group = r.summary["group_by"]
        if not r.rows:
            return [f"No failed payments in {when}."] + _evidence(r), ["aging"]
        leaked = _totals(r.totals) if any(r.totals.values()) else "nothing"
        lines = [f"*Failed payments* {when} by {group}: {r.summary['failed_payments']} failed "
                 f"({_totals({c: Decimal(v) for c, v in r.summary['failed'].items()})}); not recovered: {leaked}."]
        lines += [f"• {row[group]}: {money(row['leaked'], row['currency'])} not recovered "
                  f"({count(row['leaked_count'], 'payment')}, {count(row['accounts'], 'account')}) of "
                  f"{money(row['failed'], row['currency'])} failed" for row in rows]
        follow = [f"failed payments {r.period} by {g}" for g in ("country", "code") if g != group]
    elif r.question == "bill_run_trend":
        if not r.rows:
            return [f"No completed bill runs as of {r.as_of}."] + _evidence(r), []
        lines = [f"*Bill-run trend*, the last {r.summary['runs']} completed runs:"]
        lines += [f"• {row['bill_run']} ({row['target_date']}): {count(row['invoices'], 'invoice')}, "
                  f"{money(row['total'], row['currency'])}" for row in r.rows[:30]]
        follow = ["aging", "top 10 customers by invoiced amount last 12 months"]
    elif r.question == "invoice_history":
        who = f"*{r.summary['account_name']}* ({r.summary['account_number']})"
        if not r.rows:
            return [f"{who} has no posted invoices in {when}."] + _evidence(r), []
        lines = [f"{who}: {count(r.summary['invoices'], 'invoice')} in {when}, {_totals(r.totals)} invoiced."]
        lines += [f"• {row['invoice_number']} {row['invoice_date']}: {money(row['amount'], row['currency'])}, "
                  + (f"open {money(row['balance'], row['currency'])}" if Decimal(str(row['balance'])) else
                     f"paid {row['paid_on'] or ''}".rstrip())
                  + (f", {count(row['days_late'], 'day')} late" if row["days_late"] else "") for row in rows]
        follow = [f"account {r.summary['account_number']}"]
    else:
        measure = "payments received" if r.summary["measure"] == "payments" else "invoiced amount"
        if not r.rows:
            return [f"No {measure} in {when}."] + _evidence(r), []
        lines = [f"*Top customers by {measure}*, {when}. Totals: {_totals(r.totals)}."]
        lines += [f"{row['rank']}. *{row['account_name']}* ({row['account_number']}): "
                  f"{money(row[r.summary['measure']], row['currency'])}, {row['share_percent']}% of "
                  f"{row['currency']}" for row in rows]
        follow = [f"account {row['account_number']}" for row in rows[:3]]
    return lines + _evidence(r), follow


def table_facts(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The portfolio result inside an answer's facts (templated: the facts themselves; LLM: under the
    tool's name), or None when the answer has no table."""
    if isinstance(facts.get("columns"), list) and isinstance(facts.get("rows"), list):
        return facts
    for name in PORTFOLIO_TOOLS:
        found = facts.get(name)
        if isinstance(found, dict) and isinstance(found.get("columns"), list) and isinstance(found.get("rows"), list):
            return found
    return None


def answer_csv(facts: dict[str, Any]) -> tuple[str, str] | None:
    """(file name, CSV text) of an answer with a table, else None."""
    found = table_facts(facts)
    if found is None:
        return None
    columns = [str(c) for c in found["columns"]]
    rows = [[row.get(c) for c in columns] for row in found["rows"] if isinstance(row, dict)]
    stamp = found.get("as_of") or ""
    return f"{found.get('question', 'answer')}-{stamp}.csv", csv_text(columns, rows)


def answer_chart(facts: dict[str, Any]) -> tuple[str, bytes] | None:
    """(file name, PNG bytes) of an answer with a chart, else None (matplotlib is loaded only here)."""
    found = table_facts(facts)
    if found is None or not isinstance(found.get("chart"), dict):
        return None
    return f"{found.get('question', 'answer')}-{found.get('as_of') or ''}.png", chart_png(found["chart"])
