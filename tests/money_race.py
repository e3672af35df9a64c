"""One side of the approve/edit race across processes: `python -m tests.money_race approve|edit DB URL ID GO`.

It opens the shared database and the sandbox over HTTP, prints `ready`, waits for the file `GO` to
appear, then approves (and runs) or edits version 1 of proposal `ID`, and prints the result kind.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

from bot.actions import Approvals, Policy
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TODAY
from bot.storage import open_db
from bot.zuora import ZuoraClient

APPROVER, REP, TEAM = "U0APPROVER", "U0REP", "T0ACME"


def main(role: str, db: str, url: str, proposal_id: str, go: str) -> str:
    with ZuoraClient(url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        approvals = Approvals(open_db(db), client, Policy.parse([APPROVER], "", None), today=lambda: DEMO_TODAY)
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not Path(go).exists():
            if time.monotonic() > deadline:
                return "no-go"
            time.sleep(0.001)
        if role == "approve":
            result = approvals.approve(proposal_id, clicker=APPROVER, team=TEAM, groups=frozenset(), version=1)
            if result.kind == "claimed" and result.record:
                result = approvals.run(result.record)
        else:
            result = approvals.edit(proposal_id, clicker=REP, team=TEAM, groups=frozenset(), amount=Decimal("20"),
                                    version=1)
        return result.kind


if __name__ == "__main__":
    print(main(*sys.argv[1:6]), flush=True)
