"""Portfolio questions: periods, the pure aggregations, and every answer recomputed from the sandbox's
own records to the cent (aging, late payers, failed-payment leakage, top customers), plus phrasing,
empty results, unsupported groupings, Zuora failing mid-stream, CSV and chart output."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.analytics import portfolio as pf
from bot.analytics.export import chart_png, chart_spec, csv_text, table_of, to_csv
from bot.analytics.periods import Period, PeriodError, find_period, parse_period
from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.portfolio import answer_chart, answer_csv
from bot.copilot.router import route
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.conftest import FakeClock, make_client

TODAY = date(2026, 11, 20)
D = Decimal


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


@pytest.fixture
def toolbox(client: ZuoraClient, sandbox: ZuoraSandbox) -> Toolbox:
    return Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))


# -- periods ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "last", "label"), [
    ("this month", date(2026, 11, 1), date(2026, 11, 30), "this month"),
    ("last month", date(2026, 10, 1), date(2026, 10, 31), "last month"),
    ("failed payments last quarter by country", date(2026, 7, 1), date(2026, 9, 30), "last quarter"),
    ("this quarter", date(2026, 10, 1), date(2026, 12, 31), "this quarter"),
    ("last year", date(2025, 1, 1), date(2025, 12, 31), "last year"),
    ("this year", date(2026, 1, 1), date(2026, 12, 31), "this year"),
    ("last 90 days", date(2026, 8, 23), TODAY, "last 90 days"),
    ("late payers last 6 months", date(2026, 5, 21), TODAY, "last 6 months"),
    ("past 2 weeks", date(2026, 11, 7), TODAY, "last 2 weeks"),
    ("since 2026-01-15", date(2026, 1, 15), TODAY, "since 2026-01-15"),
    ("from 2026-01-01 to 2026-03-31", date(2026, 1, 1), date(2026, 3, 31), "2026-01-01 to 2026-03-31"),
    ("ytd", date(2026, 1, 1), TODAY, "year to date"),
])
def test_periods_read_against_the_tenants_today(text: str, start: date, last: date, label: str) -> None:
    period = find_period(text, TODAY)
    assert period is not None
    assert (period.start, period.last_day, period.label) == (start, last, label)


def test_month_arithmetic_clamps_and_default_is_twelve_months() -> None:
    assert find_period("last 1 month", date(2026, 3, 30)) == Period(date(2026, 2, 28), date(2026, 3, 31),
                                                                     "last 1 month")
    default = parse_period(None, TODAY)
    assert (default.start, default.last_day, default.label) == (date(2025, 11, 21), TODAY, "last 12 months")
    assert find_period("who pays late", TODAY) is None


@pytest.mark.parametrize("text", ["2026-03-31 to 2026-01-01", "since 2027-01-01", "2026-02-30 to 2026-03-01",
                                  "last 0 days", "last 40 years"])
def test_bad_periods_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PeriodError):
        find_period(text, TODAY)


# -- pure aggregations -----------------------------------------------------------------------------

ACME = pf.AccountInfo("a1", "A1", "Acme", "USD", "United States", "Texas")
BETA = pf.AccountInfo("b1", "B1", "=Beta", "EUR", "Germany", None)
ACCOUNTS = {"a1": ACME, "b1": BETA}


def _inv(number: str, account: str, due: date, amount: str, balance: str, paid_on: date | None = None,
         currency: str = "USD", status: str = "Posted") -> pf.InvoiceRecord:
    return pf.InvoiceRecord(number, number, account, currency, due - timedelta(days=30), due, D(amount), D(balance),
                            status, paid_on)


def _pay(number: str, account: str, day: date, amount: str, status: str, code: str | None = None,
         currency: str = "USD") -> pf.PaymentRecord:
    return pf.PaymentRecord(number, number, account, currency, day, D(amount), status, code,
                            "Insufficient funds" if code else None)


def test_aging_buckets_at_their_boundaries() -> None:
    invoices = [_inv("I0", "a1", TODAY, "10", "10"), _inv("I1", "a1", TODAY - timedelta(days=1), "11", "11"),
                _inv("I30", "a1", TODAY - timedelta(days=30), "30", "30"),
                _inv("I31", "a1", TODAY - timedelta(days=31), "31", "31"),
                _inv("I60", "a1", TODAY - timedelta(days=60), "60", "60"),
                _inv("I61", "a1", TODAY - timedelta(days=61), "61", "61"),
                _inv("I91", "b1", TODAY - timedelta(days=91), "91", "91", currency="EUR"),
                _inv("paid", "a1", TODAY - timedelta(days=200), "99", "0"),
                _inv("draft", "a1", TODAY - timedelta(days=200), "99", "99", status="Draft")]
    report = pf.aging(iter(invoices), ACCOUNTS, TODAY)
    assert report.totals["USD"] == {"current": D(10), "1-30": D(41), "31-60": D(91), "61-90": D(61), "90+": D(0)}
    assert report.totals["EUR"]["90+"] == D(91)
    assert [a.account.account_number for a in report.oldest()] == ["B1", "A1"]
    assert report.accounts[1].total == D(203) and report.accounts[1].oldest_invoice == "I61"
    assert report.invoices_read == 9


def test_late_payers_count_paid_late_and_still_open_not_credits_or_early_payments() -> None:
    period = Period(date(2026, 9, 1), date(2026, 11, 1), "Sep-Oct")
    invoices = [_inv("L1", "a1", date(2026, 9, 10), "100", "0", paid_on=date(2026, 9, 25)),  # 15 days late
                _inv("L2", "a1", date(2026, 10, 10), "100", "40"),  # open: 41 days late on TODAY
                _inv("OK", "b1", date(2026, 10, 1), "50", "0", paid_on=date(2026, 9, 30), currency="EUR"),
                _inv("CM", "b1", date(2026, 10, 1), "50", "0", currency="EUR"),  # settled by a credit memo
                _inv("OUT", "a1", date(2026, 8, 1), "100", "100")]  # due before the period
    report = pf.late_payers(invoices, ACCOUNTS, period, TODAY)
    assert [(p.account.account_number, p.late_invoices, p.invoices_due, p.average_days_late, p.worst_days_late,
             p.worst_invoice, p.open_late) for p in report.payers] == [("A1", 2, 2, D("28.0"), 41, "L2", 1)]
    assert (report.invoices_due, report.late_invoices) == (4, 2)


def test_leakage_counts_only_unrecovered_failures() -> None:
    period = Period(date(2026, 7, 1), date(2026, 10, 1), "Q3")
    payments = [_pay("F1", "a1", date(2026, 7, 5), "100", "Error", "51"),
                _pay("R1", "a1", date(2026, 7, 8), "100", "Processed"),  # recovers F1
                _pay("F2", "a1", date(2026, 8, 5), "200", "Error", "51"),
                _pay("R2", "a1", date(2026, 8, 9), "50", "Processed"),  # too small to recover F2
                _pay("F3", "b1", date(2026, 9, 1), "70", "Error", "05", currency="EUR"),
                _pay("R0", "b1", date(2026, 8, 1), "70", "Processed", currency="EUR"),  # before: no recovery
                _pay("F4", "a1", date(2026, 10, 2), "999", "Error", "51")]  # after the period
    report = pf.leakage(payments, ACCOUNTS, period, "country")
    assert [(g.key, g.currency, g.failed, g.recovered, g.leaked, g.leaked_count) for g in report.groups] == [
        ("United States", "USD", D(300), D(100), D(200), 1), ("Germany", "EUR", D(70), D(0), D(70), 1)]
    assert report.totals == {"USD": D(200), "EUR": D(70)}
    by_month = pf.leakage(payments, ACCOUNTS, period, "month")
    assert [(g.key, g.leaked) for g in by_month.groups] == [("2026-07", D(0)), ("2026-08", D(200)),
                                                             ("2026-09", D(70))]
    assert [g.key for g in pf.leakage(payments, ACCOUNTS, period, "code").groups] == ["51 Insufficient funds",
                                                                                        "05 Insufficient funds"]
    with pytest.raises(ValueError, match="supported: month, quarter, country, state, code"):
        pf.leakage(payments, ACCOUNTS, period, "product")


def test_top_customers_rank_within_each_currency() -> None:
    period = Period(date(2026, 1, 1), date(2027, 1, 1), "2026")
    payments = [_pay("P1", "a1", date(2026, 2, 1), "10", "Processed"),
                _pay("P2", "a1", date(2026, 3, 1), "15", "Processed"),
                _pay("P3", "b1", date(2026, 3, 1), "1000", "Processed", currency="EUR"),
                _pay("P4", "a1", date(2026, 3, 1), "500", "Error")]
    report = pf.top_customers(payments, ACCOUNTS, period, "payments", 5)
    assert [(c.account.account_number, c.currency, c.value, c.documents, c.share) for c in report.top] == [
        ("B1", "EUR", D(1000), 1, D("100.0")), ("A1", "USD", D(25), 2, D("100.0"))]


def test_csv_neutralises_formulas_and_keeps_decimals_exact() -> None:
    text = csv_text(["name", "amount"], [["=HYPERLINK(\"x\")", D("0.10")], ["Plain, Inc.", D("-3")]])
    assert text.splitlines() == ["name,amount", "'=HYPERLINK(\"\"x\"\")\",0.10".replace("'=", "\"'=", 1),
                                 "\"Plain, Inc.\",-3"]


def test_chart_is_a_png_and_the_spec_never_mixes_currencies() -> None:
    period = Period(date(2026, 1, 1), date(2027, 1, 1), "2026")
    report = pf.top_customers([_pay("P3", "b1", date(2026, 3, 1), "1000", "Processed", currency="EUR"),
                               _pay("P1", "a1", date(2026, 2, 1), "10", "Processed")], ACCOUNTS, period,
                              "payments", 5)
    spec = chart_spec(report)
    assert spec is not None and spec["unit"] == "EUR" and spec["labels"] == ["=Beta"]
    assert chart_png(spec)[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart_spec(pf.top_customers([], ACCOUNTS, period, "payments", 5)) is None
    assert to_csv(table_of(report)).splitlines()[1:] == ["1,B1,'=Beta,EUR,1000.00,1,100.0",
                                                         "1,A1,Acme,USD,10.00,1,100.0"]


# -- the answers against the sandbox, recomputed from its records ------------------------------------

def _info(sandbox: ZuoraSandbox) -> dict[str, dict]:
    return sandbox.tenant.accounts


def test_aging_matches_the_tenants_records_to_the_cent(toolbox: Toolbox, sandbox: ZuoraSandbox) -> None:
    outcome = toolbox.run("receivables_aging", {})
    assert outcome.result is not None, outcome.error
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for inv in sandbox.tenant.invoices.values():
        if inv["status"] == "Posted" and inv["balance"] > 0:
            expected[inv["currency"]][pf.bucket_of(inv["dueDate"], TODAY)] += inv["balance"]
    result = outcome.result
    assert {c: {k: D(v) for k, v in b.items() if D(v)} for c, b in result.summary["buckets"].items()} == \
        {c: dict(b) for c, b in expected.items()}
    assert result.totals == {c: sum(b.values()) for c, b in expected.items()}
    assert sum(D(str(r["total"])) for r in result.rows) == sum(result.totals.values())
    assert any("/object-query/invoices?filter[]=status.EQ:Posted&filter[]=balance.GT:0" in q for q in result.queries)


def test_top_customers_match_the_tenants_records(toolbox: Toolbox, sandbox: ZuoraSandbox) -> None:
    result = toolbox.run("top_customers", {"period": "last 12 months", "measure": "payments", "limit": 3}).result
    assert result is not None
    start = date(2025, 11, 21)
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for p in sandbox.tenant.payments.values():
        if p["status"] == "Processed" and start <= p["effectiveDate"] <= TODAY:
            sums[(p["accountNumber"], p["currency"])] += p["amount"]
    for currency in {c for _, c in sums}:
        best = sorted(((v, n) for (n, c), v in sums.items() if c == currency), reverse=True)[:3]
        shown = [(r["payments"], r["account_number"]) for r in result.rows if r["currency"] == currency]
        assert shown == best
        assert result.totals[currency] == sum(v for (_, c), v in sums.items() if c == currency)
    invoiced = toolbox.run("top_customers", {"period": "this year", "measure": "invoiced", "limit": 50}).result
    assert invoiced is not None
    billed = defaultdict(Decimal)
    for inv in sandbox.tenant.invoices.values():
        if inv["status"] == "Posted" and inv["invoiceDate"] >= date(2026, 1, 1):
            billed[inv["currency"]] += inv["amount"]
    assert invoiced.totals == dict(billed)


def test_failed_payment_leakage_matches_the_tenants_records(toolbox: Toolbox, sandbox: ZuoraSandbox) -> None:
    result = toolbox.run("failed_payments", {"period": "last 12 months", "group_by": "country"}).result
    assert result is not None
    start = date(2025, 11, 21)
    payments = sorted(sandbox.tenant.payments.values(), key=lambda p: (p["effectiveDate"], p["number"]))
    leaked: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    used: set[str] = set()
    for f in payments:
        if f["status"] != "Error" or not start <= f["effectiveDate"] <= TODAY:
            continue
        match = next((p for p in payments if p["status"] == "Processed" and p["id"] not in used
                      and p["accountId"] == f["accountId"] and p["effectiveDate"] >= f["effectiveDate"]
                      and p["amount"] >= f["amount"]), None)
        if match:
            used.add(match["id"])
        else:
            country = sandbox.tenant.accounts[f["accountId"]]["billToContact"]["country"]
            leaked[(country, f["currency"])] += f["amount"]
    assert {(r["country"], r["currency"]): r["leaked"] for r in result.rows if r["leaked"]} == dict(leaked)
    assert leaked, "the demo tenant has unrecovered declines"
    globex = next(r for r in result.rows if r["currency"] == "EUR")
    assert globex["recovered"] > 0  # Globex's earlier soft decline was recovered by a retry


def test_late_payers_match_the_tenants_records(toolbox: Toolbox, sandbox: ZuoraSandbox) -> None:
    result = toolbox.run("late_payers", {"period": "last 6 months", "limit": 50}).result
    assert result is not None
    start = date(2026, 5, 21)
    paid: dict[str, date] = {}
    for p in sandbox.tenant.payments.values():
        for a in p["applications"]:
            paid[a["invoiceId"]] = max(paid.get(a["invoiceId"], date.min), p["effectiveDate"])
    late: dict[str, list[int]] = defaultdict(list)
    for inv in sandbox.tenant.invoices.values():
        due = inv["dueDate"]
        if inv["status"] != "Posted" or not start <= due <= TODAY or inv["amount"] <= 0:
            continue
        days = (TODAY - due).days if inv["balance"] > 0 else (paid[inv["id"]] - due).days if inv["id"] in paid else 0
        if days > 0:
            late[sandbox.tenant.accounts[inv["accountId"]]["accountNumber"]].append(days)
    assert {r["account_number"]: (r["late_invoices"], r["worst_days_late"]) for r in result.rows} == \
        {n: (len(d), max(d)) for n, d in late.items()}
    assert result.rows[0]["account_number"] == "A00000075"  # Kestrel: open invoices in every bucket
    assert {"A00000007", "A00000074"} <= {r["account_number"] for r in result.rows}  # Stark; Brightline pays late


# -- phrasing, empty results, unsupported groupings, failures ------------------------------------------

@pytest.mark.parametrize(("text", "tool", "args"), [
    ("aging", "receivables_aging", {}),
    ("AR aging please", "receivables_aging", {}),
    ("what is overdue and for how long", "receivables_aging", {}),
    ("who pays late", "late_payers", {}),
    ("late payers last 6 months", "late_payers", {"period": "last 6 months"}),
    ("failed payments last quarter by country", "failed_payments", {"period": "last quarter", "group_by": "country"}),
    ("MRR leakage from failed payments last quarter by region", "failed_payments",
     {"period": "last quarter", "group_by": "country"}),
    ("declines by code this month", "failed_payments", {"period": "this month", "group_by": "code"}),
    ("failed payments by state", "failed_payments", {"group_by": "state"}),
    ("quarterly failed payments this year", "failed_payments", {"period": "this year", "group_by": "quarter"}),
    ("top 10 customers by revenue last 12 months", "top_customers",
     {"period": "last 12 months", "measure": "payments", "limit": 10}),
    ("top 5 customers by invoiced amount this year", "top_customers",
     {"period": "this year", "measure": "invoiced", "limit": 5}),
    ("who are our biggest customers", "top_customers", {"measure": "payments", "limit": 10}),
    ("bill run trend", "bill_run_trend", {}),
    ("totals of the last 3 bill runs", "bill_run_trend", {"runs": 3}),
    ("invoice history A00000074", "invoice_history", {"account": "A00000074"}),
    ("invoice history for Globex last 6 months", "invoice_history", {"period": "last 6 months", "account": "Globex"}),
])
def test_portfolio_phrasings(text: str, tool: str, args: dict) -> None:
    decision = route(text)
    assert (decision.kind, decision.tool, decision.args) == ("tool", tool, args)


@pytest.mark.parametrize(("text", "still"), [("who is overdue", "list_overdue_invoices"),
                                             ("failed payments for Globex", "list_payments"),
                                             ("declines for A00000003", "list_payments"),
                                             ("overdue invoices for A00000007", "list_overdue_invoices")])
def test_one_account_questions_keep_their_tools(text: str, still: str) -> None:
    assert route(text).tool == still


@pytest.mark.parametrize(("text", "says"), [("failed payments by product", "month, quarter, country (region), state"),
                                            ("top customers by MRR", "payments received"),
                                            ("top 500 customers", "up to 50")])
def test_unsupported_questions_say_what_is_supported(text: str, says: str) -> None:
    decision = route(text)
    assert decision.kind == "clarify" and says in decision.message


def test_empty_period_says_so(copilot: Copilot) -> None:
    answer = copilot.ask("late payers from 2030-01-01 to 2030-01-31")
    assert answer.intent == "late_payers"
    assert answer.text.startswith("No late payers in 2030-01-01 to 2030-01-31")
    assert copilot.ask("failed payments from 2019-01-01 to 2019-03-31").text.startswith("No failed payments in")


def test_bad_period_and_bad_grouping_from_a_model_are_refused(toolbox: Toolbox) -> None:
    assert toolbox.run("failed_payments", {"group_by": "product"}).error.kind == "invalid"  # type: ignore[union-attr]
    error = toolbox.run("late_payers", {"period": "whenever"}).error
    assert error is not None and error.kind == "invalid" and "last quarter" in error.message
    assert toolbox.run("top_customers", {"period": "2026-05-01 to 2026-01-01"}).error.kind == "invalid"  # type: ignore[union-attr]


def test_zuora_failing_mid_stream_shows_no_partial_table(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    pages = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/object-query/invoices":
            pages.append(request.url.params.get("cursor"))
            if len(pages) > 1:
                return httpx.Response(503, json={"message": "busy"})
        return sandbox.handle(request)

    with make_client(sandbox, clock, transport=httpx.MockTransport(handler)) as client:
        answer = Copilot(Toolbox(ToolContext(client, today=lambda: TODAY))).ask(
            "top 10 customers by invoiced amount last 12 months")
    assert pages[0] is None and len(pages) > 1  # the first page was read, a later one failed
    assert answer.intent == "error" and "nothing was changed" in answer.text
    assert "Top customers" not in answer.text and "columns" not in answer.facts


def test_answer_shows_its_evidence_and_files(copilot: Copilot) -> None:
    answer = copilot.ask("failed payments last 12 months by country")
    assert answer.intent == "failed_payments"
    assert "last 12 months (2025-11-21 to 2026-11-20)" in answer.text
    assert "`GET /object-query/payments?filter[]=status.EQ:Error&filter[]=effectivedate.GE:2025-11-21" in answer.text
    assert "as of 2026-11-20" in answer.text
    name, text = answer_csv(answer.facts)  # type: ignore[misc]
    assert name == "failed_payments-2026-11-20.csv"
    assert text.splitlines()[0] == "country,currency,failed,failed_count,recovered,leaked,leaked_count,accounts"
    chart = answer_chart(answer.facts)
    assert chart is not None and chart[1][:4] == b"\x89PNG"
    assert {c.kind for c in answer.citations} == {"account"}
    assert answer_csv(copilot.ask("why is INV-42 higher").facts) is None


def test_cli_writes_csv_and_chart_and_imports_matplotlib_only_for_them(tmp_path: Path) -> None:
    csv_file, png = tmp_path / "top.csv", tmp_path / "top.png"
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "top 3 customers by revenue last 12 months",
                           "--csv", str(csv_file), "--chart", str(png)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Top customers by payments received, last 12 months")  # --format text: plain
    rows = csv_file.read_text().splitlines()
    assert rows[0] == "rank,account_number,account_name,currency,payments,documents,share_percent" and len(rows) == 10
    assert png.read_bytes()[:4] == b"\x89PNG"
    lazy = subprocess.run([sys.executable, "-c", "import sys\nfrom bot.app import build\nfrom bot.config import "
                           "load_settings\ns = build(load_settings(), database=False)\ns.copilot.ask('aging')\n"
                           "print('matplotlib' in sys.modules)"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert lazy.stdout.strip() == "False", lazy.stderr
    bad = subprocess.run([sys.executable, "-m", "bot", "ask", "aging", "--csv", str(tmp_path / "no" / "x.csv")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "cannot write --csv" in bad.stderr


# -- the LLM path: it picks the tool and its parameters; its numbers must come from the result ---------

def test_a_model_answer_with_the_results_numbers_is_grounded(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    from tests.fakes.llm import ScriptedModel, call, say

    text = ("Last 12 months (2025-11-21 to 2026-11-20): 4,584.07 USD not recovered in the United States "
            "(3 payments, 2 accounts) and 3,678.81 EUR in Germany, of 7,323.16 EUR failed.")
    model = ScriptedModel(call("failed_payments", '{"period": "last 12 months", "group_by": "country"}'), say(text))
    copilot = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)), model=model)
    answer = copilot.ask("how much did failed payments cost us this year by region?")
    assert answer.source == "llm" and answer.text == text and answer.intent == "failed_payments"
    assert answer_csv(answer.facts) is not None  # the files come with an LLM answer too
    tool_message = model.calls[1][0][-1]
    assert "object-query/payments" in (tool_message.content or "") and "SELECT" not in (tool_message.content or "")
    invented = ScriptedModel(call("failed_payments", '{"group_by": "country"}'),
                             say("Failed payments leaked 9,999.99 USD, mostly in the United States."))
    fallback = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)), model=invented).ask(
        "failed payments by country")
    assert fallback.source == "deterministic" and "4,584.07 USD" in fallback.text


# -- Data Query: the same answers from SQL jobs --------------------------------------------------------

QUESTIONS = [("receivables_aging", {}), ("late_payers", {"period": "last 6 months", "limit": 50}),
             ("failed_payments", {"period": "last 12 months", "group_by": "country"}),
             ("failed_payments", {"period": "this year", "group_by": "code"}),
             ("top_customers", {"period": "last 12 months", "measure": "payments", "limit": 50}),
             ("top_customers", {"period": "last quarter", "measure": "invoiced", "limit": 5}),
             ("bill_run_trend", {"runs": 4}), ("invoice_history", {"account": "A00000074"}),
             ("invoice_history", {"account": "Globex", "period": "last 6 months"})]


@pytest.mark.parametrize(("tool", "args"), QUESTIONS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(QUESTIONS)])
def test_data_query_and_object_query_give_the_same_numbers(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                           tool: str, args: dict) -> None:
    today = sandbox.tenant.today
    oq = Toolbox(ToolContext(client, today=lambda: today)).run(tool, args).result
    dq = Toolbox(ToolContext(client, today=lambda: today, data_query=True)).run(tool, args).result
    assert oq is not None and dq is not None
    assert dq.rows == oq.rows and dq.totals == oq.totals and dq.summary == oq.summary
    assert all(q.startswith("SELECT ") for q in dq.queries) and dq.records_read == oq.records_read
    assert any(r.path == "/query/jobs" for r in sandbox.requests)
    result_reads = [r for r in sandbox.requests if r.path.startswith("/query/results/")]
    assert result_reads and all("authorization" not in r.headers for r in result_reads)  # pre-signed: no bearer


def test_data_query_jobs_are_polled_and_failures_are_errors(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                            clock: FakeClock) -> None:
    rows = list(client.data_query.rows("SELECT accountnumber FROM account WHERE accountnumber = 'A00000007'"))
    assert rows == [{"accountnumber": "A00000007"}]
    polls = [r for r in sandbox.requests if r.path.startswith("/query/jobs/")]
    assert len(polls) == 2  # in_progress, then completed
    from bot.zuora.dataquery import ZuoraDataQueryError
    with pytest.raises(ZuoraDataQueryError, match="failed: Query failed"):
        list(client.data_query.rows("SELECT nope FROM nowhere"))
    with pytest.raises(Exception, match="Only SELECT"):
        list(client.data_query.rows("DELETE FROM invoice"))
    job = next(iter(sandbox.tenant.query_caches["dataquery:jobs"].values()))
    forged = httpx.Client(transport=httpx.MockTransport(sandbox.handle)).get(
        job["dataFile"].replace(job["signature"], "0" * 32))
    assert forged.status_code == 403


def test_data_query_failing_mid_answer_is_a_clear_error(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    sandbox.inject("/query/results/*", statuses=[500, 500, 500, 500, 500, 500])
    with make_client(sandbox, clock) as client:
        copilot = Copilot(Toolbox(ToolContext(client, today=lambda: TODAY, data_query=True)))
        answer = copilot.ask("aging")
    assert answer.intent == "error" and "Receivables aging" not in answer.text


def test_a_misspelt_data_query_setting_fails_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "aging"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**__import__("os").environ, "ZUORA_DATA_QUERY": "maybe"})
    assert done.returncode != 0 and "ZUORA_DATA_QUERY" in done.stderr and len(done.stderr.strip().splitlines()) == 1



def test_bill_run_trend_matches_the_tenants_records(toolbox: Toolbox, sandbox: ZuoraSandbox) -> None:
    result = toolbox.run("bill_run_trend", {"runs": 3}).result
    assert result is not None
    runs = sorted(sandbox.tenant.bill_runs.values(), key=lambda r: r["targetDate"])[-3:]
    expected = defaultdict(Decimal)
    for inv in sandbox.tenant.invoices.values():
        if inv["status"] == "Posted" and inv.get("sourceId") in {r["billRunNumber"] for r in runs}:
            expected[(inv["sourceId"], inv["currency"])] += inv["amount"]
    assert {(r["bill_run"], r["currency"]): r["total"] for r in result.rows} == dict(expected)
    assert [r["bill_run"] for r in result.rows][0] == runs[0]["billRunNumber"]  # oldest first


def test_invoice_history_shows_how_late_each_invoice_was_paid(copilot: Copilot) -> None:
    answer = copilot.ask("invoice history A00000074")
    assert answer.intent == "invoice_history"
    assert [r["days_late"] for r in answer.facts["rows"]] == [60, 53, 46, 39, 32, 25]  # Brightline, newest first
    assert "*Brightline Freight* (A00000074): 6 invoices" in answer.text
    assert route("invoice history").kind == "clarify"
    assert copilot.ask("invoice history for A00000099").intent == "error"


def test_nothing_typed_reaches_the_sql(client: ZuoraClient, sandbox: ZuoraSandbox, toolbox: Toolbox) -> None:
    from bot.analytics.load import SqlLoader

    before = len(sandbox.requests)
    with pytest.raises(ValueError, match="not a Zuora id"):
        next(iter(SqlLoader(client).account_invoices("x' OR 1=1 --", parse_period(None, TODAY))))
    assert len(sandbox.requests) == before
    dq = Toolbox(ToolContext(client, today=lambda: TODAY, data_query=True))
    planted = dq.run("late_payers", {"period": "2026-01-01'; DELETE FROM invoice; --"})
    assert planted.error is not None and planted.error.kind == "invalid"
    assert all("DELETE" not in r.body.decode(errors="replace") for r in sandbox.requests)
    assert dq.run("invoice_history", {"account": "A00000074' OR '1'='1"}).error is not None
