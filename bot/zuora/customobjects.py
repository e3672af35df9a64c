"""Custom objects: define an object (for the audit mirror) and create or list its records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.zuora.base import Resource
from bot.zuora.keys import segment

__all__ = ["CustomObjects"]


class CustomObjects(Resource):
    """`client.custom_objects` (namespace `default`)."""

    def define(self, definitions: dict[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Create object definitions (`{"AI_Audit_Log": {"object": …, "properties": {…}}}`)."""
        body: dict[str, Any] = self._client.post("/objects/definitions/default", {"definitions": definitions},
                                                 idempotency_key=idempotency_key)
        return body

    def definition(self, object_name: str) -> dict[str, Any]:
        """One object definition (raises `ZuoraNotFound` when the object is not defined)."""
        body: dict[str, Any] = self._client.get(f"/objects/definitions/default/{segment(object_name)}")
        return body

    def create_records(self, object_name: str, records: list[dict[str, Any]], *,
                       idempotency_key: str | None = None) -> list[dict[str, Any]]:
        """Create up to 1,000 records at once; returns them with Zuora's `Id` and dates."""
        body = self._client.post(f"/objects/records/default/{segment(object_name)}",
                                 {"records": records, "allowPartialSuccess": False},
                                 idempotency_key=idempotency_key)
        return list(body.get("records") or [])

    def records(self, object_name: str, *, q: str | None = None, page_size: int = 100
                ) -> Iterator[dict[str, Any]]:
        """Stream records (the next page's `cursor` is the last record's id)."""
        params: dict[str, Any] = {"pageSize": page_size}
        if q:
            params["q"] = q
        while True:
            body = self._client.get(f"/objects/records/default/{segment(object_name)}", params)
            rows = list(body.get("records") or [])
            yield from rows
            if len(rows) < page_size:
                return
            params["cursor"] = rows[-1]["Id"]
