"""Zuora REST client: `ZuoraClient`, the models it returns, and its exception tree (`errors`)."""

from bot.zuora.accounts import Account, AccountSummary, Contact
from bot.zuora.billruns import BillRun
from bot.zuora.client import ZuoraClient
from bot.zuora.errors import (
    InvoiceNotFound,
    Reason,
    ZuoraAPIError,
    ZuoraAuthError,
    ZuoraConflict,
    ZuoraError,
    ZuoraIdempotencyError,
    ZuoraInvalidKey,
    ZuoraNotFound,
    ZuoraRateLimited,
    ZuoraServerError,
    ZuoraSetupError,
    ZuoraTransportError,
)
from bot.zuora.invoices import Invoice, InvoiceItem, InvoiceMatch, invoice_number_forms
from bot.zuora.memos import CreditMemo
from bot.zuora.payments import Payment, PaymentMethod, PaymentSchedule
from bot.zuora.retry import RetryPolicy
from bot.zuora.subscriptions import Order, RatePlanCharge, Subscription, UsageRecord

__all__ = [
    "Account", "AccountSummary", "BillRun", "Contact", "CreditMemo", "Invoice", "InvoiceItem", "InvoiceMatch",
    "InvoiceNotFound", "Order", "Payment", "PaymentMethod", "PaymentSchedule", "RatePlanCharge", "Reason",
    "RetryPolicy", "Subscription", "UsageRecord", "ZuoraAPIError", "ZuoraAuthError", "ZuoraClient",
    "ZuoraConflict", "ZuoraError", "ZuoraIdempotencyError", "ZuoraInvalidKey", "ZuoraNotFound", "ZuoraRateLimited",
    "ZuoraServerError", "ZuoraSetupError", "ZuoraTransportError", "invoice_number_forms",
]
