"""Shared pieces of the resource modules: the model base class and Object Query parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.zuora.client import ZuoraClient

__all__ = ["Resource", "ZuoraModel", "query_params"]


class ZuoraModel(BaseModel):
    """Base of every model read from Zuora: extra fields ignored, built from Zuora's JSON names."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Resource:
    """A namespace of `ZuoraClient` methods for one noun (`client.invoices`, `client.accounts`, …)."""

    def __init__(self, client: ZuoraClient) -> None:
        self._client = client


def query_params(
    *,
    filters: Iterable[str] = (),
    sort: str | None = None,
    expand: Iterable[str] = (),
) -> list[tuple[str, Any]]:
    """Object Query parameters: `filters` like `"accountid.EQ:abc"`, `sort` like `"invoicedate.DESC"`."""
    params: list[tuple[str, Any]] = [("filter[]", f) for f in filters]
    if sort:
        params.append(("sort[]", sort))
    params.extend(("expand[]", e) for e in expand)
    return params
