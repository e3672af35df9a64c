"""Plant text in every free-text field of the sandbox tenant that the copilot's tools read.

Used by the PII canary test and the LLM attack suite: `plant(tenant, make)` calls
`make(field, index)` for each field (`"account.name"`, `"item.chargeName"`, …) and stores what it
returns, through the tenant's own state (the same records the emulator serves).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.state import Tenant

__all__ = ["CONTACT_FIELDS", "plant"]

CONTACT_FIELDS = ("firstName", "lastName", "workEmail", "personalEmail", "workPhone", "address1", "address2", "city",
                  "state", "zipCode", "country")


def plant(tenant: Tenant, make: Callable[[str, int], str | None]) -> int:
    """Overwrite every free-text field with `make(field, n)` (None leaves it); returns how many were planted."""
    planted = 0

    def put(record: dict, key: str, field: str) -> None:  # type: ignore[type-arg]
        nonlocal planted
        value = make(field, planted)
        if value is not None:
            record[key] = value
            planted += 1

    for account in tenant.accounts.values():
        put(account, "name", "account.name")
        put(account, "notes", "account.notes")
        for contact in (account.get("billToContact"), account.get("soldToContact")):
            if isinstance(contact, dict):
                for key in CONTACT_FIELDS:
                    put(contact, key, f"contact.{key}")
    for invoice in tenant.invoices.values():
        put(invoice, "comments", "invoice.comments")
    for item in tenant.items.values():
        for key in ("chargeName", "chargeDescription", "description"):
            put(item, key, f"item.{key}")
    for payment in tenant.payments.values():
        for key in ("gatewayResponse", "comment"):
            put(payment, key, f"payment.{key}")
    for method in tenant.payment_methods.values():
        for key in ("creditCardHolderName", "bankAccountName"):
            if key in method:
                put(method, key, f"payment_method.{key}")
    for memo in tenant.credit_memos.values():
        put(memo, "comment", "credit_memo.comment")
    for subscription in tenant.subscriptions.values():
        for rate_plan in subscription.get("ratePlans") or []:
            put(rate_plan, "name", "rate_plan.name")
            for charge in rate_plan.get("charges") or []:
                value = make("charge.name", planted)
                if value is not None:
                    charge.name = value
                    planted += 1
    for usage in tenant.usage.values():
        put(usage, "unitOfMeasure", "usage.unitOfMeasure")
    return planted
