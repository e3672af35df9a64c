"""Portfolio aggregations (pure, no I/O): records in, tables out. Money is `Decimal` with its currency;
dates are `date`s; every function takes the tenant's `today` rather than reading a clock.

Each function consumes an iterable once (records may stream from Zuora page by page) and keeps only
per-group accumulators, except where a group needs its members (late payers keep one entry per
late invoice of the period, leakage keeps the failed payments of the period until recovery is known).

Definitions (what the answers say):
- **aging**: open balance of posted invoices by days past due on `today`: current (not yet due),
  1-30, 31-60, 61-90, 90+; per currency; plus the accounts with money in the two oldest buckets.
- **late payers**: invoices *due* in the period; an invoice is late when it was paid in full after its
  due date (days late = last payment date - due date) or is still open after it (today - due date).
  Accounts ranked by average days late, then worst.
- **leakage**: failed (`Error`) payments dated in the period that no later processed payment of the
  same account and currency recovered (each processed payment dated on or after a failure recovers
  at most one failure, oldest first, when it is at least as large), grouped by month, quarter,
  bill-to country or state, or decline code.
- **bill-run trend**: per bill run (newest N completed), the count and sum of its posted invoices
  per currency, oldest run first.
- **invoice history**: one account's posted invoices in the period, with how late each was paid.
- **top customers**: per account, the sum of processed payments (`payments`) or of posted invoice
  amounts (`invoiced`) dated in the period; ranked within each currency (amounts in different
  currencies are never compared), the currency with the largest total first.
"""

from bot.analytics.portfolio.aging import AGING_BUCKETS, AgingAccount, AgingReport, aging, bucket_of
from bot.analytics.portfolio.late_payers import LatePayer, LatePayersReport, late_payers
from bot.analytics.portfolio.leakage import GROUPINGS, LeakageGroup, LeakageReport, group_key, leakage
from bot.analytics.portfolio.records import AccountInfo, InvoiceRecord, PaymentRecord
from bot.analytics.portfolio.top_customers import MEASURES, TopCustomer, TopCustomersReport, top_customers
from bot.analytics.portfolio.trends import (
    BillRunInfo,
    HistoryReport,
    TrendReport,
    TrendRow,
    bill_run_trend,
    invoice_history,
)

__all__ = ["AGING_BUCKETS", "GROUPINGS", "MEASURES", "AccountInfo", "AgingAccount", "AgingReport", "BillRunInfo",
           "HistoryReport", "InvoiceRecord", "LatePayer", "LatePayersReport", "LeakageGroup", "LeakageReport",
           "PaymentRecord", "TopCustomer", "TopCustomersReport", "TrendReport", "TrendRow", "aging", "bill_run_trend",
           "bucket_of", "group_key", "invoice_history", "late_payers", "leakage", "top_customers"]
