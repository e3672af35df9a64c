"""Reading Zuora's answers: the JSON body, its reasons, and the exception an error answer maps to (an HTTP
error and a `success: false` body alike)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.zuora.codec import loads
from bot.zuora.errors import (
    Reason,
    ZuoraAPIError,
    ZuoraAuthError,
    ZuoraConflict,
    ZuoraNotFound,
    ZuoraRateLimited,
    ZuoraServerError,
)

__all__ = ["error_for", "parse_body", "reasons_of"]

# Zuora-Version >= 2024-05-20 maps reason categories to HTTP statuses; older versions answer 200 with
# success:false. We apply the same mapping to the latter, so one policy handles both.
_CATEGORY_STATUS = {10: 403, 11: 401, 20: 400, 21: 400, 22: 400, 23: 400, 27: 400, 30: 400, 40: 404,
                    45: 405, 50: 409, 60: 500, 61: 503, 70: 429, 90: 400, 99: 500}


def parse_body(response: httpx.Response) -> Any:
    """The JSON body of `response` (`Decimal` numbers), or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        return None


def reasons_of(body: Any) -> tuple[Reason, ...]:
    """Zuora's `reasons` of an error body (or its lone `code`/`message`), codes as integers when they are."""
    if not isinstance(body, dict):
        return ()
    raw = body.get("reasons") or []
    if not raw and body.get("message"):
        raw = [{"code": body.get("code"), "message": body["message"]}]
    reasons = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            code = item.get("code")
            try:
                code = int(code) if code is not None else None
            except (TypeError, ValueError):
                code = None
            reasons.append(Reason(code=code, message=str(item.get("message", ""))))
    return tuple(reasons)


def error_for(method: str, path: str, response: httpx.Response, body: Any) -> ZuoraAPIError | None:
    """The exception an answer stands for (by HTTP status, or by reason category for `success: false`), or None."""
    status = response.status_code
    reasons = reasons_of(body)
    if status < 400:
        if not (isinstance(body, dict) and body.get("success") is False):
            return None
        categories = [r.category for r in reasons if r.category in _CATEGORY_STATUS]
        status = _CATEGORY_STATUS[categories[0]] if categories else 400
    request_id = response.headers.get("Zuora-Request-Id")
    if isinstance(body, dict):
        request_id = request_id or body.get("requestId")
    detail = "; ".join(r.message for r in reasons) or response.reason_phrase or "no message"
    codes = ", ".join(str(r.code) for r in reasons if r.code is not None)
    message = f"Zuora {method} {path}: HTTP {response.status_code}: {detail}"
    if codes:
        message += f" (code {codes})"
    if request_id:
        message += f" [request id {request_id}]"
    cls: type[ZuoraAPIError] = ZuoraAPIError
    if status in (401, 403):
        cls = ZuoraAuthError
    elif status == 404:
        cls = ZuoraNotFound
    elif status == 409:
        cls = ZuoraConflict
    elif status == 429:
        cls = ZuoraRateLimited
    elif status >= 500:
        cls = ZuoraServerError
    return cls(message, status=status, reasons=reasons, request_id=request_id, method=method, path=path)
