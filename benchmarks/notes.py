"""Benchmark customer notes: drafting one note per invoice of the demo tenant's latest bill run, per language.

Run: `.venv/bin/python benchmarks/notes.py` (prints a table; no network). The in-process sandbox
serves Zuora; the table shows invoices, Zuora requests, requests per invoice and wall time for
`plan_notes` (the bill-run path), and the time to compose the main story's note in each language
(templates and Babel only, no I/O).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from decimal import Decimal

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    from bot.copilot.explain import explain
    from bot.copilot.notes import NoteSettings
    from bot.notes import LANGUAGES, Choice, compose
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
    from bot.webhooks.billrun_notes import NotePlan, plan_notes
    from bot.zuora import ZuoraClient

    sandbox = ZuoraSandbox()
    client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         transport=httpx.MockTransport(sandbox.handle))
    run = max(sandbox.tenant.bill_runs.values(), key=lambda r: r["billRunNumber"])["billRunNumber"]
    before = len(sandbox.requests)
    started = time.perf_counter()
    routed, skipped = plan_notes(client, run, NotePlan(notes=NoteSettings(), threshold=Decimal(5000)),
                                 today=date(2026, 11, 20), channel="C0COLLECT")
    seconds = time.perf_counter() - started
    requests = len(sandbox.requests) - before
    n = len(routed) + len(skipped)
    print(f"{'bill run':<12}{'invoices':>9}{'requests':>10}{'req/inv':>9}{'seconds':>9}{'alone':>7}")
    print(f"{run:<12}{n:>9}{requests:>10}{requests / max(n, 1):>9.1f}{seconds:>9.2f}"
          f"{sum(r.alone for r in routed):>7}")

    invoice = client.invoices.find("INV00000042").invoice
    items, previous = client.invoices.items(invoice.invoice_id), client.invoices.previous(invoice)
    explanation = explain(invoice, items, previous, previous.items if previous else ())
    print(f"\n{'language':<10}{'compose ms':>11}{'chars':>7}")
    for language in LANGUAGES:
        started = time.perf_counter()
        for _ in range(200):
            note = compose(explanation, Choice(language, language, "asked"))
        print(f"{language:<10}{(time.perf_counter() - started) / 200 * 1000:>11.2f}{len(note.text):>7}")


if __name__ == "__main__":
    main()
