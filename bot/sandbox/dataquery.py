"""Data Query in the sandbox: the tenant loaded into an in-memory SQLite database with Zuora's table and
column names (lower-case), the job's SQL run there, the result kept as JSON Lines behind a
"pre-signed" URL that needs no bearer token (like S3) but does need its signature.

Tables and columns (the subset our templates use, named as in Zuora's Data Query):
`account(id, accountnumber, name, currency, status, billtoid)`, `contact(id, country, state, city)`,
`invoice(id, invoicenumber, accountid, currency, invoicedate, duedate, amount, balance, status, sourceid)`,
`billingrun(id, billingrunnumber, status, targetdate)`,
`payment(id, paymentnumber, accountid, currency, effectivedate, amount, status, type,
gatewayresponsecode, gatewayresponse)`, `paymentapplication(id, paymentid, invoiceid, applyamount,
effectivedate)`. Dates are ISO text; amounts are NUMERIC. Trino's typed date literal `DATE 'yyyy-mm-dd'`
is rewritten to a plain string (SQLite has none); anything else SQLite does not understand fails the
job with its error message, as a Trino syntax error would. Only `SELECT`/`WITH` statements run.

Job lifecycle: `accepted` on submit (the SQL runs then, on a snapshot), `in_progress` on the first
poll, `completed` (or `failed`) on the next, so clients must really poll.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.sandbox.state import Tenant

__all__ = ["JOBS_KEY", "jobs_of", "result_of", "run_sql", "submit"]

JOBS_KEY = "dataquery:jobs"
_DATE_LITERAL = re.compile(r"\bDATE\s+'(\d{4}-\d{2}-\d{2})'", re.IGNORECASE)
_READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_TABLES = {
    "account": ("id", "accountnumber", "name", "currency", "status", "billtoid"),
    "contact": ("id", "country", "state", "city"),
    "invoice": ("id", "invoicenumber", "accountid", "currency", "invoicedate", "duedate", "amount", "balance",
                "status", "sourceid"),
    "billingrun": ("id", "billingrunnumber", "status", "targetdate"),
    "payment": ("id", "paymentnumber", "accountid", "currency", "effectivedate", "amount", "status", "type",
                "gatewayresponsecode", "gatewayresponse"),
    "paymentapplication": ("id", "paymentid", "invoiceid", "applyamount", "effectivedate"),
}
_NUMERIC = {"amount", "balance", "applyamount"}


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # NUMERIC affinity stores it as a number
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
    contacts = {}
    accounts = []
    for a in tenant.accounts.values():
        contact = a.get("billToContact") or {}
        if contact.get("id"):
            contacts[contact["id"]] = (contact["id"], contact.get("country"), contact.get("state"), contact.get("city"))
        accounts.append((a["id"], a["accountNumber"], a["name"], a["currency"], a["status"], contact.get("id")))
    invoices = [(i["id"], i["invoiceNumber"], i["accountId"], i["currency"], i["invoiceDate"], i.get("dueDate"),
                 i["amount"], i["balance"], i["status"], i.get("sourceId")) for i in tenant.invoices.values()]
    runs = [(r["id"], r["billRunNumber"], r["status"], r.get("targetDate")) for r in tenant.bill_runs.values()]
    payments, applications = [], []
    for p in tenant.payments.values():
        payments.append((p["id"], p["number"], p["accountId"], p["currency"], p["effectiveDate"], p["amount"],
                         p["status"], p["type"], p.get("gatewayResponseCode"), p.get("gatewayResponse")))
        applications += [(a["id"], p["id"], a["invoiceId"], a["amount"], p["effectiveDate"])
                         for a in p.get("applications") or []]
    return {"account": accounts, "contact": list(contacts.values()), "invoice": invoices, "billingrun": runs,
            "payment": payments,
            "paymentapplication": applications}


def _amount(name: str, value: Any) -> Any:
    """Money columns keep their two decimals (`1800.00`, as Zuora stores them), written as decimal strings."""
    if name in _NUMERIC and isinstance(value, int | float):
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    return value


def run_sql(tenant: Tenant, sql: str) -> list[dict[str, Any]]:
    """Run a read-only query over a snapshot of `tenant`; raises `ValueError` with the engine's message."""
    if not _READ_ONLY.match(sql):
        raise ValueError("Only SELECT queries are allowed")
    db = sqlite3.connect(":memory:")
    try:
        for table, columns in _TABLES.items():
            decl = ", ".join(f"{c} {'NUMERIC' if c in _NUMERIC else 'TEXT'}" for c in columns)
            db.execute(f"CREATE TABLE {table} ({decl})")
        for table, rows in _rows(tenant).items():
            marks = ", ".join("?" * len(_TABLES[table]))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", [tuple(_value(v) for v in r) for r in rows])
        try:
            cursor = db.execute(_DATE_LITERAL.sub(r"'\1'", sql))
        except sqlite3.Error as exc:
            raise ValueError(f"Query failed: {exc}") from None
        names = [d[0] for d in cursor.description or ()]
        return [{k: _amount(k, v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    finally:
        db.close()


def jobs_of(tenant: Tenant) -> dict[str, dict[str, Any]]:
    """The tenant's Data Query jobs (kept beside its Object Query caches)."""
    return tenant.query_caches.setdefault(JOBS_KEY, {})


def _signature(job_id: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{job_id}".encode()).hexdigest()[:32]


def submit(tenant: Tenant, sql: str, *, base_url: str, user: str = "2c92c0f8" + "0" * 56) -> dict[str, Any]:
    """Create a job, run its SQL on a snapshot now, and return the job record."""
    # zuora-sdk's DataQueryJob wants `id` and `createdBy` of exactly 64 characters (the docs say "UUID")
    job_id = hashlib.sha256(f"{tenant.seed}:job:{len(jobs_of(tenant)) + 1}".encode()).hexdigest()
    now = tenant.now().isoformat()
    job: dict[str, Any] = {"id": job_id, "query": sql, "queryStatus": "accepted", "sourceData": "LIVE",
                           "remainingRetries": 3, "updatedOn": now, "createdBy": user, "polls": 0}
    try:
        rows = run_sql(tenant, sql)
        job["result"] = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()
        job["outputRows"] = len(rows)
    except ValueError as exc:
        job["error"] = str(exc)
    salt = hashlib.sha256(f"{tenant.seed}:{job_id}:{len(jobs_of(tenant))}".encode()).hexdigest()
    job["signature"] = _signature(job_id, salt)
    job["dataFile"] = f"{base_url}/query/results/{job_id}.jsonl?X-Amz-Signature={job['signature']}"
    jobs_of(tenant)[job_id] = job
    return job


def view(job: dict[str, Any]) -> dict[str, Any]:
    """The job as `DataQueryJob` (advancing its status one step per poll)."""
    out = {k: job[k] for k in ("id", "query", "queryStatus", "sourceData", "remainingRetries", "updatedOn",
                               "createdBy")}
    if job["queryStatus"] == "completed":
        out.update(dataFile=job["dataFile"], outputRows=job["outputRows"], processingTime=12)
    if job["queryStatus"] == "failed":
        out["errorMessage"] = job["error"]
    return out


def poll(job: dict[str, Any]) -> None:
    if job["queryStatus"] == "accepted":
        job["queryStatus"] = "in_progress"
    elif job["queryStatus"] == "in_progress":
        job["queryStatus"] = "failed" if "error" in job else "completed"


def result_of(tenant: Tenant, job_id: str, signature: str) -> bytes | None:
    """A completed job's JSON Lines, when the URL's signature is the one handed out."""
    job = jobs_of(tenant).get(job_id)
    if job is None or job["queryStatus"] != "completed" or signature != job["signature"]:
        return None
    return job["result"]
