"""Invoice schedules and ad hoc bill runs, read from free text into one tool call (pure)."""

from __future__ import annotations

import re

from bot.copilot.routing.decision import Route, clarify
from bot.copilot.routing.mentions import NEGATION

__all__ = ["schedule_route"]

_SCHEDULES_READ = re.compile(r"^(?:show\s+|list\s+)?(?:the\s+)?(?:invoice\s+)?schedules?\s+(?:of\s+|for\s+)?"
                             r"(A\d{3,12}|A-S\d{3,12}|O-\d{3,12})\b", re.IGNORECASE)
_RUN_SCHEDULE = re.compile(r"\b(?:run|execute|bill)\s+(?:the\s+)?(?:invoice\s+)?schedule\s+(IS-\d{3,12})\b(.*)$",
                           re.IGNORECASE)
_BILL_NOW = re.compile(r"\bbill\s+(A\d{3,12})\b(.*)$", re.IGNORECASE)
_NO_POST = re.compile(r"\b(?:don'?t|do not|without|no)\s+post(?:ing)?\b|\b(?:leave|keep)\s+(?:it\s+|them\s+)?"
                      r"(?:as\s+)?(?:a\s+)?drafts?\b|\bdrafts? only\b", re.IGNORECASE)
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def schedule_route(cleaned: str) -> Route | None:
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
        return clarify(f"Which item of {run.group(1).upper()}? Say `item 2`, `the next item` or `all pending items "
                       f"up to today`.")
    bill = _BILL_NOW.search(cleaned)
    if bill and not NEGATION.search(cleaned[:bill.start()]):
        when = _DATE.search(bill.group(2))
        args = {"account": bill.group(1).upper(), "post_invoice": not _NO_POST.search(cleaned)}
        return Route("tool", "propose_bill_run", {**args, "target_date": when.group(1)} if when else args)
    return None
