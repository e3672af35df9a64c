"""Bill runs: load one from Zuora (streaming), summarise it (pure), and who gets the summary by DM."""

from bot.billruns.load import find_bill_run, summarize
from bot.billruns.summary import BillRunSummary

__all__ = ["BillRunSummary", "find_bill_run", "summarize"]
