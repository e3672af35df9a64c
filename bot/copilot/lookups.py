"""What the read tools share: finding the invoice or account a question names, reading overdue invoices
and the default payment method, and turning Zuora's models into result rows."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from bot.copilot.registry import ToolContext, ToolError
from bot.copilot.results import AccountRef, ContactInfo, OverdueInvoice, PaymentInfo, PaymentMethodInfo
from bot.zuora import Account, Payment, PaymentMethod
from bot.zuora.errors import ZuoraNotFound

__all__ = ["account_ref", "contact_info", "days_overdue", "default_method", "find_account", "method_info",
           "overdue_invoices", "payment_info"]

_ACCOUNT_NUMBER = re.compile(r"^[A-Z]{1,3}-?\d{3,}$|^[0-9a-f]{32}$", re.IGNORECASE)


def account_ref(account: Account) -> AccountRef:
    """The account as results cite it."""
    return AccountRef(account_id=account.account_id, account_number=account.account_number, name=account.name)


def find_account(ctx: ToolContext, typed: str) -> Account:
    """The account a number, an id or the start of a name stands for; `ToolError` when none or several."""
    key = typed.strip()
    if _ACCOUNT_NUMBER.match(key):
        try:
            return ctx.client.accounts.get(key.upper() if len(key) != 32 else key)
        except ZuoraNotFound:
            raise ToolError("not_found", f"There is no account {key!r}. Check the number (like A00000007) "
                                         f"or give the start of the customer's name.") from None
    matches = ctx.client.accounts.search(key, limit=6)
    exact = [m for m in matches if m.name.casefold() == key.casefold()]
    if len(exact) == 1 or len(matches) == 1:
        return ctx.client.accounts.get((exact or matches)[0].account_id)
    if not matches:
        raise ToolError("not_found", f"No account name starts with {key!r}. Try the account number (A00000007).")
    names = ", ".join(f"{m.name} ({m.account_number})" for m in matches[:5])
    raise ToolError("ambiguous", f"Several accounts match {key!r}: {names}. Which one?",
                    candidates=[{"name": m.name, "account_number": m.account_number} for m in matches[:5]])


def days_overdue(due: date | None, balance: Decimal, today: date) -> int:
    """Days past `due` on `today` for an invoice with an open balance (0 otherwise)."""
    return max(0, (today - due).days) if due and balance > 0 else 0


def overdue_invoices(ctx: ToolContext, filters: list[str], today: date, *,
                     limit: int) -> tuple[list[OverdueInvoice], bool]:
    """Overdue invoices (posted, open, past due), oldest due first, at most `limit`; True when there are more."""
    rows = ctx.client.invoices.query(
        filters=[*filters, "status.EQ:Posted", "balance.GT:0", f"duedate.LT:{today}"], sort="duedate.ASC",
        expand=("account",), page_size=50)
    out: list[OverdueInvoice] = []
    for inv in rows:
        if len(out) == limit:
            return out, True
        account = inv.account or {}
        out.append(OverdueInvoice(
            invoice_id=inv.invoice_id, invoice_number=inv.invoice_number, account_number=account.get("accountNumber"),
            account_name=account.get("name"), due_date=inv.due_date or today,
            days_overdue=days_overdue(inv.due_date, inv.balance, today), balance=inv.balance, currency=inv.currency))
    return out, False


def default_method(ctx: ToolContext, account: Account) -> PaymentMethod | None:
    """The account's default payment method, if it has one Zuora can find."""
    if not account.default_payment_method_id:
        return None
    try:
        return ctx.client.payment_methods.get(account.default_payment_method_id)
    except ZuoraNotFound:
        return None


def method_info(pm: PaymentMethod, today: date) -> PaymentMethodInfo:
    """A payment method's health as results show it (expiry, failures)."""
    expires = f"{pm.expiration_month:02d}/{pm.expiration_year}" if pm.expiration_month and pm.expiration_year \
        else None
    soon = False
    if pm.expiration_month and pm.expiration_year and not pm.expired(today):
        months_left = (pm.expiration_year - today.year) * 12 + pm.expiration_month - today.month
        soon = months_left <= 1
    return PaymentMethodInfo(payment_method_id=pm.payment_method_id, method_type=pm.method_type,
                             brand=pm.card_type, last4=pm.last4, expires=expires, expired=pm.expired(today),
                             expires_within_60_days=soon, consecutive_failures=pm.num_consecutive_failures)


def payment_info(p: Payment) -> PaymentInfo:
    """A payment as results show it (the gateway's answer for a failed one)."""
    failed = p.status == "Error"
    return PaymentInfo(payment_id=p.payment_id, payment_number=p.payment_number, effective_date=p.effective_date,
                       amount=p.amount, currency=p.currency, status=p.status, payment_type=p.payment_type,
                       gateway_code=p.gateway_response_code if failed else None,
                       gateway_message=p.gateway_response if failed else None)


def contact_info(account: Account) -> ContactInfo | None:
    """The account's bill-to contact as results show it."""
    c = account.bill_to
    if c is None:
        return None
    name = " ".join(part for part in (c.first_name, c.last_name) if part) or None
    place = ", ".join(part for part in (c.address1, c.city, c.state, c.zip_code, c.country) if part) or None
    return ContactInfo(name=name, email=c.email, phone=c.work_phone, address=place)
