"""Custom objects (namespace `default`): definitions and records, as the audit mirror uses them.

`q` on the record list accepts `Field__c = 'value'` or `Field__c.EQ:value` clauses joined by `AND`,
on filterable fields only (the exact grammar Zuora accepts is not documented in our sources: an
assumption). Values of `unique` fields must not repeat: a batch with a duplicate is refused whole
(the audit mirror sends `allowPartialSuccess: false`).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.sandbox.errors import SandboxError
from bot.sandbox.routing import Call, Reply, route

_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "number": (int, float, Decimal), "integer": int,
                                              "boolean": bool}
_CLAUSE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:=|:|\.EQ:)\s*'?([^']*)'?\s*$")


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _definition(call: Call, name: str) -> dict[str, Any]:
    definition = call.tenant.object_definitions.get(name)
    if definition is None:
        raise SandboxError(40, f"Custom object '{name}' is not defined", status=404)
    return definition


@route("POST", "/objects/definitions/default")
def create_definitions(call: Call) -> Reply:
    body = call.json()
    definitions = body.get("definitions")
    if not isinstance(definitions, dict) or not definitions:
        raise SandboxError(22, "'definitions' is required")
    created = {}
    for name, spec in definitions.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name) or name.endswith("__c"):
            raise SandboxError(20, f"Invalid object name '{name}'")
        if name in call.tenant.object_definitions:
            raise SandboxError(30, f"Custom object '{name}' already exists")
        properties = (spec or {}).get("properties") or {}
        for field, prop in properties.items():
            if not field.endswith("__c") or len(field) > 64:
                raise SandboxError(20, f"Custom field '{field}' must end in __c and have at most 64 characters")
            if prop.get("type") not in _TYPES:
                raise SandboxError(20, f"Unsupported type '{prop.get('type')}' for field '{field}'")
        if len(properties) > 50:
            raise SandboxError(70, "A custom object has at most 50 custom fields")
        now = call.tenant.now()
        created[name] = {
            "Id": str(uuid.UUID(call.tenant.new_id("codef"))), "type": name, "CreatedById": "demo-user",
            "UpdatedById": "demo-user", "CreatedDate": _stamp(now), "UpdatedDate": _stamp(now),
            "schema": {"object": name, "label": spec.get("label", name), "properties": properties,
                       "required": spec.get("required", []), "filterable": spec.get("filterable", []),
                       "unique": spec.get("unique", []),
                       "relationships": spec.get("relationships", [])}}
    call.tenant.object_definitions.update(created)
    return Reply({"count": len(created), "definitions": created})


@route("GET", "/objects/definitions/default/{name}")
def get_definition(call: Call) -> Reply:
    return Reply(_definition(call, call.args["name"]))


@route("POST", "/objects/records/default/{name}")
def create_records(call: Call) -> Reply:
    definition = _definition(call, call.args["name"])
    schema = definition["schema"]
    records = call.json().get("records")
    if not isinstance(records, list) or not records or len(records) > 1000:
        raise SandboxError(22, "'records' must hold 1 to 1,000 records")
    created = []
    store = call.tenant.object_records[call.args["name"]]
    for field in schema.get("unique", []):
        taken = {str(r.get(field)) for r in store.values() if r.get(field) is not None}
        for record in records:
            value = record.get(field)
            if value is not None and str(value) in taken:
                raise SandboxError(30, f"A record with {field} '{value}' already exists")
            if value is not None:
                taken.add(str(value))
    for record in records:
        for field in schema["required"]:
            if record.get(field) in (None, ""):
                raise SandboxError(22, f"'{field}' is required")
        for field, value in record.items():
            prop = schema["properties"].get(field)
            if prop is None:
                raise SandboxError(21, f"Unknown field '{field}'")
            if value is not None and (not isinstance(value, _TYPES[prop["type"]]) or isinstance(value, bool)
                                      and prop["type"] != "boolean"):
                raise SandboxError(20, f"'{field}' must be of type {prop['type']}")
            if isinstance(value, str) and len(value) > int(prop.get("maxLength", 255)):
                raise SandboxError(20, f"'{field}' is longer than {prop.get('maxLength', 255)} characters")
        now = _stamp(call.tenant.now())
        row = {k: v for k, v in record.items() if v != ""}  # empty strings are not stored
        row.update({"Id": str(uuid.UUID(call.tenant.new_id("corecord"))), "type": call.args["name"],
                    "CreatedById": "demo-user", "UpdatedById": "demo-user", "CreatedDate": now, "UpdatedDate": now})
        created.append(row)
    for row in created:
        store[row["Id"]] = row
    return Reply({"records": created})


@route("GET", "/objects/records/default/{name}")
def list_records(call: Call) -> Reply:
    definition = _definition(call, call.args["name"])
    rows = list(call.tenant.object_records[call.args["name"]].values())
    q = call.param("q")
    if q:
        for clause in re.split(r"\s+AND\s+", q, flags=re.IGNORECASE):
            match = _CLAUSE.match(clause)
            if not match or match.group(1) not in definition["schema"]["filterable"]:
                raise SandboxError(20, f"Invalid q clause '{clause}': use Field__c = 'value' on a filterable field")
            field, value = match.groups()
            rows = [r for r in rows if str(r.get(field)) == value]
    size = call.int_param("pageSize", 40, high=1000)
    cursor = call.param("cursor")
    if cursor:
        ids = [r["Id"] for r in rows]
        if cursor not in ids:
            raise SandboxError(20, "Invalid cursor")
        rows = rows[ids.index(cursor) + 1:]
    return Reply({"count": len(rows[:size]), "records": rows[:size]})
