"""Data Query jobs: `POST /query/jobs`, `GET /query/jobs/{id}` (the results file is served by the emulator,
outside authentication, like a pre-signed S3 URL; see `bot.sandbox.dataquery`)."""

from __future__ import annotations

from bot.sandbox import dataquery
from bot.sandbox.errors import SandboxError
from bot.sandbox.routing import Call, Reply, route


@route("POST", "/query/jobs")
def submit_job(call: Call) -> Reply:
    body = call.json()
    sql = body.get("query")
    if not isinstance(sql, str) or not sql.strip() or len(sql) > 1_000_000:
        raise SandboxError(20, "'query' is required (at most 1,000,000 characters)")
    for field, allowed in (("outputFormat", {"JSON", "CSV", "TSV", "DSV"}), ("compression", {"NONE", "GZIP", "ZIP"})):
        if body.get(field) not in allowed:
            raise SandboxError(20, f"'{field}' must be one of {', '.join(sorted(allowed))}")
    if body.get("outputFormat") != "JSON" or body.get("compression") != "NONE":
        raise SandboxError(20, "The sandbox serves outputFormat JSON with compression NONE only")
    if (body.get("output") or {}).get("target") not in ("S3", "s3"):
        raise SandboxError(20, "'output.target' must be S3")
    job = dataquery.submit(call.tenant, sql, base_url=call.base_url)
    return Reply({"data": dataquery.view(job)})


@route("GET", "/query/jobs/{job_id}")
def get_job(call: Call) -> Reply:
    job = dataquery.jobs_of(call.tenant).get(call.args["job_id"])
    if job is None:
        raise SandboxError(40, f"Cannot find a query job with id {call.args['job_id']}.")
    dataquery.poll(job)
    return Reply({"data": dataquery.view(job)})
