"""The sandbox's endpoints, one module per noun; importing this package registers them."""

from bot.sandbox.routes import (
    accounts,
    billruns,
    customobjects,
    dataquery,
    invoices,
    memos,
    orders,
    payments,
    schedules,
    subscriptions,
)

__all__ = ["accounts", "billruns", "customobjects", "dataquery", "invoices", "memos", "orders", "payments",
           "schedules",
           "subscriptions"]
