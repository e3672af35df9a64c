"""A strict checker of JSON payloads against zuora-sdk models (test helper).

`Model.from_dict` validates nothing (the SDK's models override `__init__` with `construct()`), so
this walks the payload against `Model.model_fields`: scalars through `pydantic.TypeAdapter` with the
field's constraints, nested models, lists and dicts recursively, the models' `@field_validator` enum
checks by hand, missing required fields, and unknown keys: an error (custom `__c`/`__NS`/`__QT` fields and the
keys in `DOCUMENTED_EXTRAS` aside), so the sandbox cannot drift from Zuora's models unnoticed.

Zuora sends some numbers that the SDK types as strings (zuora-api.md §P1); for keys that look like
amounts those become warnings, not errors.
"""

from __future__ import annotations

import re
import types
import typing
from enum import Enum
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = ["DOCUMENTED_EXTRAS", "check"]

_PM_TYPES = ("creditcard", "creditcardreferencetransaction", "debitcard", "ach", "banktransfer", "paypal")
_PITFALL = "zuora-api.md, Pitfalls 2: in real responses, missing from the SDK"
DOCUMENTED_EXTRAS: dict[tuple[str, str], str] = {
    **{("GetAccountPaymentMethodResponse", t): "zuora-api.md 6f: PMs grouped under lower-case type keys"
       for t in _PM_TYPES},
    ("GetPaymentMethodForAccountResponse", "accountKey"): _PITFALL,
    ("GetPaymentMethodForAccountResponse", "lastTransactionStatus"): _PITFALL,
    ("GetPaymentMethodForAccountResponse", "success"): "zuora-api.md 6f-h: the real JSON also has success",
    ("PaymentMethodResponse", "success"): _PITFALL,
    ("PaymentScheduleResponse", "billingDocuments"): _PITFALL,
    ("ExpandedInvoiceSchedule", "invoiceScheduleItems"): "zuora-api-2.md 20: Object Query expands "
                                                         "invoicescheduleitems; the SDK model lacks the key",
    ("InvoiceScheduleResponse", "currency"): "zuora-api-2.md 20: the docs sample's currency is missing from the SDK",
    ("PaymentScheduleResponse", "cancellationReason"): _PITFALL,
    ("PaymentSchedule", "billingDocuments"): _PITFALL,  # the same schedule inside a list response
}
"""(model, key) pairs Zuora really sends although the SDK's model lacks them, each with where it is documented."""

_AMOUNT_LIKE = re.compile(r"amount|balance|price|quantity|dmrc|dtcv|term$|^code$|^number$|billcycleday|expiration",
                          re.IGNORECASE)
_CUSTOM = re.compile(r"__(c|NS|QT)$")


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _fields(model: type[BaseModel]) -> dict[str, tuple[str, Any, bool]]:
    out = {}
    for name, info in model.model_fields.items():
        if name == "additional_properties":
            continue
        annotation = info.annotation
        if info.metadata:
            annotation = typing.Annotated[(annotation, *info.metadata)]
        out[info.alias or name] = (name, annotation, info.is_required())
    return out


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        inner, more = _unwrap(base)
        return inner, (*more, *meta)
    return annotation, ()


def _check_value(annotation: Any, value: Any, path: str, key: str, errs: list[str], warns: list[str],
                 unknown_is_error: bool = True) -> None:
    base, meta = _unwrap(annotation)
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(base)
        if value is None and type(None) in options:
            return
        non_null = [o for o in options if o is not type(None)]
        attempts = []
        for option in non_null:
            e: list[str] = []
            w: list[str] = []
            _check_value(typing.Annotated[(option, *meta)] if meta else option, value, path, key, e, w,
                         unknown_is_error)
            if not e:
                warns.extend(w)
                return
            attempts.append(e)
        errs.extend(min(attempts, key=len))
        return
    if value is None:
        errs.append(f"{path}: null where {base} is expected")
        return
    if isinstance(base, type) and issubclass(base, BaseModel):
        if not isinstance(value, dict):
            errs.append(f"{path}: expected an object for {base.__name__}, got {type(value).__name__}")
            return
        e, w = check(base, value, path=path, unknown_is_error=unknown_is_error)
        errs.extend(e)
        warns.extend(w)
        return
    if isinstance(base, type) and issubclass(base, Enum):
        if value not in {m.value for m in base}:
            errs.append(f"{path}: {value!r} is not one of {base.__name__} {[m.value for m in base]}")
        return
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            errs.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        (item_type,) = typing.get_args(base) or (Any,)
        for i, item in enumerate(value):
            _check_value(item_type, item, f"{path}[{i}]", key, errs, warns, unknown_is_error)
        return
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            errs.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        args = typing.get_args(base)
        value_type = args[1] if len(args) == 2 else Any
        for k, v in value.items():
            _check_value(value_type, v, f"{path}.{k}", k, errs, warns, unknown_is_error)
        return
    if base is Any or base is object:
        return
    try:
        _adapter(typing.Annotated[(base, *meta)] if meta else base).validate_python(value)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        if base is str and isinstance(value, int | float) and not isinstance(value, bool) and _AMOUNT_LIKE.search(key):
            warns.append(f"{path}: SDK says str, payload has the number {value!r}")
        else:
            errs.append(f"{path}: {value!r}: {message}")


def check(model: type[BaseModel], payload: Any, *, path: str = "$", unknown_is_error: bool = True
          ) -> tuple[list[str], list[str]]:
    """Check `payload` against `model` (a bare list is checked item by item); returns (errors, warnings)."""
    errs: list[str] = []
    warns: list[str] = []
    if isinstance(payload, list):
        for i, item in enumerate(payload):
            e, w = check(model, item, path=f"{path}[{i}]", unknown_is_error=unknown_is_error)
            errs.extend(e)
            warns.extend(w)
        return errs, warns
    if not isinstance(payload, dict):
        return [f"{path}: expected an object for {model.__name__}, got {type(payload).__name__}"], []
    fields = _fields(model)
    for alias, (_, _, required) in fields.items():
        if required and alias not in payload:
            errs.append(f"{path}.{alias}: required by {model.__name__} but missing")
    validators = model.__pydantic_decorators__.field_validators.values()
    for key, value in payload.items():
        if key not in fields:
            if not _CUSTOM.search(key) and (model.__name__, key) not in DOCUMENTED_EXTRAS:
                (errs if unknown_is_error else warns).append(f"{path}.{key}: not a field of {model.__name__}")
            continue
        name, annotation, _ = fields[key]
        _check_value(annotation, value, f"{path}.{key}", key, errs, warns, unknown_is_error)
        if value is None:
            continue
        for validator in validators:
            if name in validator.info.fields:
                try:
                    validator.func(value)
                except (ValueError, TypeError) as exc:
                    errs.append(f"{path}.{key}: {exc}")
    return errs, warns
