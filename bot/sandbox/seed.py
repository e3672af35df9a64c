"""The deterministic demo tenant: a growing SaaS business ("Relay") with 12 months of history.

Nothing depends on the wall clock: every date derives from `today` (default `DEMO_TODAY`) and all
variety comes from `random.Random(seed)`. Twenty founding accounts go live eleven months before
`today`'s month; five new accounts join every month from the third month on, so the latest bill
run bills 70 accounts. Invoices are numbered in bill-run order (month, then account number).

Accounts are made in `customers`; bill runs, invoices and payments in `history`.

The stories (account → what it shows; `stories.STORIES` keeps the numbers tests assert):

- A00000002 Northwind Traders: `INV00000042` (month 3) is higher than `INV00000022` (month 2) for
  four reasons at once: 5 seats added on day 15 of month 2 (a proration line, and 15 seats instead
  of 10), a usage overage (23,500 API calls vs 11,000, 10,000 included at 0.02), the 10 % launch
  discount that ended with month 2, and the tax that follows (Texas, 8.25 %).
  313.92 USD → 868.46 USD: +150.00 seats, +82.26 proration, +250.00 usage, +30.00 discount ended,
  +42.28 tax = +554.54.
- A00000003 Globex Retail: the latest card payment was soft-declined (51, insufficient funds); an
  earlier soft decline was recovered by a retry three days later.
- A00000004 Initech Software: the latest card payment was hard-declined (43, stolen card).
- A00000005 Umbrella Health: the default card expired at the end of month 10; the last two
  payments were declined (54, expired card).
- A00000006 Hooli Media: the default card expires at the end of next month.
- A00000007 Stark Logistics: pays by wire, has paid nothing for four months; two invoices are more
  than 45 days overdue and the balance is large enough for a payment plan.
- A00000010 Wayne Enterprises: a usage spike makes its latest invoice several times the previous.
- A00000011 Helping Hands Foundation: a 100 % non-profit discount, so every invoice is zero.
- A00000012 Vandelay Industries: a service-outage credit memo applied to an invoice.
- A00000066 to A00000070: new accounts whose first invoice (with an onboarding fee) is in the latest
  bill run.

Three stories for rates, added after everything above (their accounts and invoices come last, outside the
bill runs, so nothing above moves); each has two paid invoices dated the first of last and this month:

- A00000071 Taxonomy Books: the same 10 seats, but the tax rate went from 8.25 % to 9.5 %.
- A00000072 Discovery Toys: the same 20 seats, but the discount went from 10 % to 20 %.
- A00000073 Volumetric Labs: 10 seats at 30.00 became 15 seats at 25.00, the volume tier for 11 and
  more seats applied to the whole quantity.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from bot.sandbox.billing import Segment, add_months
from bot.sandbox.customers import create_account
from bot.sandbox.history import bill_month, create_bill_run, settle
from bot.sandbox.profiles import MONTHS, Profile, profiles
from bot.sandbox.state import Tenant
from bot.sandbox.stories import STORIES

__all__ = ["DEMO_TODAY", "build_demo_tenant"]

DEMO_TODAY = date(2026, 11, 20)
D = Decimal


def build_demo_tenant(*, today: date = DEMO_TODAY, seed: int = 7) -> Tenant:
    """Build the demo tenant for `today`; the same arguments always give the same tenant."""
    rng = random.Random(seed)
    tenant = Tenant(today=today, seed=seed)
    first_month = add_months(today.replace(day=1), -(MONTHS - 1))
    accounts = profiles(rng, first_month)
    subs = {p.number: create_account(tenant, p, first_month, rng) for p in accounts}
    for m in range(MONTHS):
        bill_date = add_months(first_month, m)
        run = create_bill_run(tenant, m + 1, bill_date)
        billed = [p for p in accounts if p.start <= m]
        for p in billed:
            bill_month(tenant, p, subs[p.number], bill_date, run)
        run["numberOfInvoices"] = run["numberOfAccounts"] = len(billed)
        for p in billed:
            settle(tenant, p, m, bill_date, rng)
    _rate_stories(tenant, first_month, random.Random(seed + 1))
    from bot.sandbox.schedules import seed_schedules

    seed_schedules(tenant)
    _note_fields(tenant)
    from bot.sandbox.portfolio_stories import add_portfolio_stories

    add_portfolio_stories(tenant)  # added after everything above: no existing record changes

    from bot.sandbox.catalog import add_catalog  # the catalog and order stories (issue 16), after the history

    add_catalog(tenant)
    return tenant


def _note_fields(tenant: Tenant) -> None:
    """Account custom fields the customer notes read (issue 17): a high-touch account and a language by field
    (other accounts get theirs from the bill-to country)."""
    for number, fields in (("A00000010", {"HighTouch__c": True}), ("A00000012", {"Language__c": "it"})):
        account = tenant.find("accounts", number)
        if account is not None:
            account["custom"].update(fields)


def _rate_stories(tenant: Tenant, first_month: date, rng: random.Random) -> None:
    """The tax rate, discount rate and volume tier stories (module docstring), after everything else."""
    from bot.sandbox.payments import record_payment
    from bot.sandbox.profiles import _PLACES

    last, this = add_months(first_month, MONTHS - 2), add_months(first_month, MONTHS - 1)
    texas = _PLACES[2]
    stories = [
        (Profile(number=71, name="Taxonomy Books", start=MONTHS - 2, plan="Growth", seats=[(last, 10)],
                 place=texas, payer="card", usage={}), (D("8.25"), D("9.5"))),
        (Profile(number=72, name="Discovery Toys", start=MONTHS - 2, plan="Growth", seats=[(last, 20)],
                 place=texas, payer="card", usage={}, discount=(D(10), 1)), (D("8.25"), D("8.25"))),
        (Profile(number=73, name="Volumetric Labs", start=MONTHS - 2, plan="Growth", seats=[(last, 10), (this, 15)],
                 place=texas, payer="card", usage={}), (D("8.25"), D("8.25"))),
    ]
    for p, rates in stories:
        sub = create_account(tenant, p, first_month, rng)
        charges = {c.name: c for rp in sub["ratePlans"] for c in rp["charges"]}
        charges["Seats"].segments[0].price = STORIES["volume_tier"]["prices"][0]  # type: ignore[index]
        if p.number == 72:  # 10 % last month, 20 % from this month on
            discount = charges["Launch discount"]
            discount.segments = [Segment(start=last, price=D(10), end=this - timedelta(days=1)),
                                 Segment(start=this, price=D(20))]
            discount.segment_ids.append(tenant.new_id("rpc"))
        if p.number == 73:  # 15 seats reach the 11+ tier: 25.00 each, for all of them
            charges["Seats"].segments[1].price = STORIES["volume_tier"]["prices"][1]  # type: ignore[index]
        account = tenant.find("accounts", f"A{p.number:08d}")
        assert account is not None
        for bill_date, rate in zip((last, this), rates, strict=True):
            account["taxRate"] = rate
            bill_month(tenant, p, sub, bill_date, {"billRunNumber": None, "id": None})
            invoice = tenant.invoices[tenant.invoices_of[account["id"]][-1]]
            invoice.update(source="API", sourceId=None, billRunId=None)  # billed on their own, not in a bill run
            record_payment(tenant, account, [(invoice, invoice["balance"])], invoice["balance"], bill_date,
                           "Electronic", account["defaultPaymentMethodId"])
