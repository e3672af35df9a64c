"""Benchmark several instances: acks, answers and callouts per second for 1 and 3 `serve` processes on PostgreSQL,
and 1 on SQLite, with Zuora at 250 ms per request.

Run: `.venv/bin/python benchmarks/instances.py` (prints a table; traffic only to 127.0.0.1; about 3 minutes).
PostgreSQL: `TEST_DATABASE_URL` (default `postgresql://postgres@127.0.0.1:5432/test`) names a server where the
run makes a database of its own, a fresh schema per row, and drops it at the end.

Each row starts from scratch: the sandbox in its own process (`tests/processes.py`: the demo tenant plus 300
accounts with a declined payment, every request answered 250 ms late), a fake Slack Web API in this process, a
fresh database and N `python -m bot serve` processes, with `ZUORA_MAX_CONCURRENCY=40` split between them (it is
per process; 40 is Zuora's default per-tenant limit). Requests go to the instances in turn.

1. 200 `/billing why is INV-4x higher` from 32 senders at once: acks/s (200 / time to the last ack) and
   answers/s (200 / time until the last answer reached its `response_url`; 3 Zuora reads each).
2. 300 declined-payment callouts from 16 senders: callouts/s (300 / time until the last is done in the
   inbox: Zuora read, dunning rules, proposal recorded) and when the last proposal was on a card or digest row.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.processes import Instance, SandboxProcess, until  # noqa: E402

LATENCY = 0.25
COMMANDS, COMMAND_SENDERS = 200, 32
CALLOUTS, CALLOUT_SENDERS = 300, 16
ZUORA_BUDGET = 40
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _split(total: int, n: int) -> list[int]:
    return [total // n + (1 if k < total % n else 0) for k in range(n)]


def _counter(db: Any) -> Callable[[str], int]:
    """`count(sql)` on the row's database, read from outside the instances."""

    def count(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    return count


def _run(label: str, instances: int, database: str, tmp: Path) -> dict[str, Any]:
    from bot.storage import open_db

    slack = FakeSlack().start()
    zuora = SandboxProcess(declines=CALLOUTS, latency=LATENCY)
    where = {"DATABASE_URL": database} if database.startswith("postgresql://") else {"DATABASE_PATH": database}
    started = time.monotonic()
    db = None
    serves = [Instance(f"{label}-{k}", zuora, slack, tmp, ZUORA_MAX_CONCURRENCY=str(budget), **where)
              for k, budget in enumerate(_split(ZUORA_BUDGET, instances))]
    try:
        for serve in serves:
            serve.wait_up(180)
        up = time.monotonic() - started
        db = open_db(database, migrate=False, pool_size=2)
        count = _counter(db)

        # 1. commands: acks, then answers
        def command(n: int) -> tuple[int, float, str]:
            t = time.perf_counter()
            response = serves[n % instances].command(f"why is INV-{40 + n % 10} higher", hook=f"b{n}",
                                                     channel="C0SUPPORT")
            return response.status_code, time.perf_counter() - t, response.text

        def answered() -> int:
            return len({r.method for r in slack.requests if r.method.startswith("/hooks/b")
                        and "busy" not in json.dumps(r.body)})

        t0 = time.monotonic()
        with ThreadPoolExecutor(COMMAND_SENDERS) as senders:
            acks = list(senders.map(command, range(COMMANDS)))
        acked_in = time.monotonic() - t0
        until(lambda: answered() >= COMMANDS, "every answer", 300, every=0.05)
        answered_in = time.monotonic() - t0
        busy = sum(1 for _, _, text in acks if "busy" in text)

        # 2. callouts: handled, then on cards
        bodies = zuora.bodies

        def callout(n: int) -> int:
            return serves[n % instances].callout(bodies[n], f"bench-{n}").status_code

        t1 = time.monotonic()
        with ThreadPoolExecutor(CALLOUT_SENDERS) as senders:
            statuses = list(senders.map(callout, range(CALLOUTS)))
        until(lambda: count("select count(*) from callouts where status = 'done'") >= CALLOUTS, "300 callouts handled",
              600, every=0.05)
        handled_in = time.monotonic() - t1
        until(lambda: count("select count(*) from proposals where message_ts is null") == 0 and
              count("select count(*) from outbox where status = 'pending' and topic = 'propose'") == 0,
              "every proposal on a card", 600, every=0.1)
        carded_in = time.monotonic() - t1
        return {"setup": label, "instances": instances, "up": up,
                "acks_ok": sum(1 for status, _, _ in acks if status == 200), "busy": busy,
                "ack_p50_ms": sorted(ms for _, ms, _ in acks)[len(acks) // 2] * 1000,
                "ack_p99_ms": sorted(ms for _, ms, _ in acks)[int(0.99 * (len(acks) - 1))] * 1000,
                "acks_per_s": COMMANDS / acked_in, "answers_per_s": COMMANDS / answered_in,
                "callouts_ok": statuses.count(200), "callouts_per_s": CALLOUTS / handled_in,
                "carded_s": carded_in, "proposals": count("select count(*) from proposals")}
    finally:
        if db is not None:
            db.close()
        for serve in serves:
            serve.stop(30)
        zuora.close()
        slack.close()


def main() -> None:
    from tests.databases import PostgresForTests

    server = PostgresForTests(os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    results = []
    try:
        for label, instances, kind in (("PostgreSQL", 1, "pg"), ("PostgreSQL", 3, "pg"), ("SQLite", 1, "sqlite")):
            with tempfile.TemporaryDirectory() as tmp:
                database = server.schema()[1] if kind == "pg" else str(Path(tmp) / "bot.db")
                result = _run(label, instances, database, Path(tmp))
            results.append(result)
            print(f"  {label} x{instances}: done ({result['up']:.1f} s to start)", file=sys.stderr, flush=True)
    finally:
        server.close()
    print(f"Zuora {int(LATENCY * 1000)} ms per request; ZUORA_MAX_CONCURRENCY {ZUORA_BUDGET} split between the "
          f"instances; {COMMANDS} `/billing why` from {COMMAND_SENDERS} senders, then {CALLOUTS} declined-payment "
          f"callouts from {CALLOUT_SENDERS}")
    print(f"| {'database':<10} | instances | acks/s | ack ms p50 / p99 | answers/s | callouts/s | all on cards after |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['setup']:<10} | {r['instances']} | {r['acks_per_s']:.0f} | {r['ack_p50_ms']:.0f} / "
              f"{r['ack_p99_ms']:.0f} | "
              f"{r['answers_per_s']:.1f} | {r['callouts_per_s']:.1f} | {r['carded_s']:.0f} s |")
    for r in results:
        if r["acks_ok"] != COMMANDS or r["busy"] or r["callouts_ok"] != CALLOUTS or r["proposals"] != CALLOUTS:
            print(f"  note {r['setup']} x{r['instances']}: {r['acks_ok']}/{COMMANDS} acks 200, {r['busy']} busy, "
                  f"{r['callouts_ok']}/{CALLOUTS} callouts 200, {r['proposals']} proposals")


if __name__ == "__main__":
    main()
