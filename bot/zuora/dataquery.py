"""Data Query (`client.data_query`): submit a read-only SQL job, poll it with capped backoff, stream its
JSON Lines result (zuora-api-2.md §24.1).

The result file is a pre-signed URL (S3 in Zuora): it is fetched without our bearer token, through
the same HTTP client, transport and concurrency budget. A job that fails, is cancelled, or is not
done by the deadline raises `ZuoraDataQueryError` (a `ZuoraError`); nothing partial is returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from bot.zuora.base import Resource
from bot.zuora.errors import ZuoraError, ZuoraTransportError
from bot.zuora.keys import segment

__all__ = ["DataQuery", "ZuoraDataQueryError"]

_DONE = {"completed", "failed", "cancelled"}


class ZuoraDataQueryError(ZuoraError):
    """A Data Query job failed, was cancelled, timed out, or its result could not be read."""


class DataQuery(Resource):
    """`client.data_query.rows(sql)`."""

    def rows(self, sql: str, *, first_delay: float = 0.5, max_delay: float = 10.0, deadline_s: float = 1800.0
             ) -> Iterator[dict[str, Any]]:
        """Run `sql` as a job and yield its rows (numbers with decimals as `Decimal`)."""
        from bot.zuora.codec import loads

        client = self._client
        job = client.post("/query/jobs", {"query": sql, "outputFormat": "JSON", "compression": "NONE",
                                          "output": {"target": "S3"}})["data"]
        started, delay = client._clock(), first_delay
        while job.get("queryStatus") not in _DONE:
            if client._clock() - started > deadline_s:
                raise ZuoraDataQueryError(f"Data Query job {job.get('id')} did not finish in {deadline_s:.0f} s")
            client._sleep(delay)
            delay = min(max_delay, delay * 2)
            job = client.get(f"/query/jobs/{segment(str(job['id']))}")["data"]
        if job["queryStatus"] != "completed" or not job.get("dataFile"):
            raise ZuoraDataQueryError(f"Data Query job {job.get('id')} {job['queryStatus']}: "
                                      f"{str(job.get('errorMessage') or 'no result')[:300]}")
        try:
            with client.limiter.slot(), client._http.stream("GET", job["dataFile"]) as response:  # no bearer
                if response.status_code != 200:
                    raise ZuoraDataQueryError(f"reading the Data Query result failed (HTTP {response.status_code})")
                for line in response.iter_lines():  # streamed: memory stays flat in the number of rows
                    if line.strip():
                        yield loads(line)
        except httpx.TransportError as exc:
            raise ZuoraTransportError(f"reading the Data Query result failed ({type(exc).__name__})") from None
