"""Reporting periods people type ("last quarter", "last 6 months", "2026-01-01 to 2026-03-31"), read
against the tenant's today (pure).

A `Period` is a half-open date range `[start, end)`; `label` is what answers print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Period", "PeriodError", "add_months", "find_period", "parse_period", "period_phrase"]

_MAX_DAYS = 3660


class PeriodError(ValueError):
    """A period that cannot be used (end before start, far too long, a date that does not exist)."""


@dataclass(frozen=True)
class Period:
    """`[start, end)` with a human label."""

    start: date
    end: date
    label: str

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def describe(self) -> str:
        """`last quarter (2026-07-01 to 2026-09-30)`."""
        return f"{self.label} ({self.start} to {self.last_day})"


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month (`day` itself is reduced to its month)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


_DATE = r"(\d{4}-\d{2}-\d{2})"
_RANGE = re.compile(rf"\b(?:from|between)?\s*{_DATE}\s*(?:to|until|and|-|–|through)\s*{_DATE}\b", re.I)
_SINCE = re.compile(rf"\bsince\s+{_DATE}\b", re.I)
_LAST_N = re.compile(r"\b(?:last|past|previous)\s+(\d{1,4})\s+(days?|weeks?|months?|years?)\b", re.I)
_NAMED = re.compile(r"\b(this|last|previous|current|past)\s+(month|quarter|year)\b", re.I)
_YTD = re.compile(r"\b(ytd|year to date)\b", re.I)
_MONTH_WORDS = {"last 12 months": 12}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{text!r} is not a date (write yyyy-mm-dd)") from None


def find_period(text: str, today: date) -> Period | None:
    """The period `text` names, or None when it names none; raises `PeriodError` for a bad one."""
    if match := _RANGE.search(text):
        start, last = _day(match.group(1)), _day(match.group(2))
        if last < start:
            raise PeriodError(f"the period ends ({last}) before it starts ({start})")
        period = Period(start, last + timedelta(days=1), f"{start} to {last}")
    elif match := _SINCE.search(text):
        start = _day(match.group(1))
        if start > today:
            raise PeriodError(f"{start} is after today ({today})")
        period = Period(start, today + timedelta(days=1), f"since {start}")
    elif match := _LAST_N.search(text):
        n, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
        if n < 1:
            raise PeriodError("the period must be at least 1 " + unit)
        end = today + timedelta(days=1)
        if unit == "day":
            start = end - timedelta(days=n)
        elif unit == "week":
            start = end - timedelta(days=7 * n)
        elif unit == "month":
            start = _months_back(today, n)
        else:
            start = _months_back(today, 12 * n)
        period = Period(start, end, f"last {n} {unit}{'s' if n != 1 else ''}")
    elif match := _NAMED.search(text):
        which, unit = match.group(1).lower(), match.group(2).lower()
        back = 1 if which in ("last", "previous", "past") else 0
        if unit == "month":
            start = add_months(today, -back)
            period = Period(start, add_months(start, 1), f"{'last' if back else 'this'} month")
        elif unit == "quarter":
            start = add_months(_quarter_start(today), -3 * back)
            period = Period(start, add_months(start, 3), f"{'last' if back else 'this'} quarter")
        else:
            start = date(today.year - back, 1, 1)
            period = Period(start, date(start.year + 1, 1, 1), f"{'last' if back else 'this'} year")
    elif _YTD.search(text):
        period = Period(date(today.year, 1, 1), today + timedelta(days=1), "year to date")
    else:
        return None
    if (period.end - period.start).days > _MAX_DAYS:
        raise PeriodError("periods are limited to 10 years")
    return period


def _months_back(today: date, n: int) -> date:
    """The day `n` months before tomorrow (clamped to the month's length): "last 6 months" ends today."""
    tomorrow = today + timedelta(days=1)
    first = add_months(tomorrow, -n)
    next_first = add_months(first, 1)
    return min(first.replace(day=tomorrow.day) if tomorrow.day <= (next_first - first).days else
               next_first - timedelta(days=1), today)


def parse_period(text: str | None, today: date, *, default_months: int = 12) -> Period:
    """The period `text` names, or the last `default_months` months when it names none."""
    found = find_period(text or "", today)
    if found is not None:
        return found
    return Period(_months_back(today, default_months), today + timedelta(days=1), f"last {default_months} months")


def period_phrase(text: str) -> str | None:
    """The words of `text` that name a period ("last quarter"), without reading them against a date."""
    for pattern in (_RANGE, _SINCE, _LAST_N, _NAMED, _YTD):
        if match := pattern.search(text):
            return match.group(0).strip()
    return None
