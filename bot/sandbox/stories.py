"""The numbers the demo tenant's stories promise (`bot.sandbox.seed` tells the stories; the tests assert these)."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["STORIES"]

D = Decimal

STORIES = {
    "price_increase": {"invoice": "INV00000042", "previous": "INV00000022", "account": "A00000002",
                       "previous_amount": D("313.92"), "amount": D("868.46"), "difference": D("554.54"),
                       "drivers": {"quantity": D("150.00"), "proration": D("82.26"), "usage": D("250.00"),
                                   "discount_ended": D("30.00"), "tax": D("42.28")}},
    "soft_decline": {"account": "A00000003", "gateway_response_code": "51"},
    "hard_decline": {"account": "A00000004", "gateway_response_code": "43"},
    "expired_card": {"account": "A00000005", "gateway_response_code": "54"},
    "expiring_card": {"account": "A00000006"},
    "overdue": {"account": "A00000007", "unpaid_months": 4},
    "usage_spike": {"account": "A00000010"},
    "zero_invoice": {"account": "A00000011"},
    "credit_memo": {"account": "A00000012", "amount": D("50.00")},
    "first_invoices": {"accounts": [f"A{n:08d}" for n in range(66, 71)]},
    "tax_rate_change": {"account": "A00000071", "rates": (D("8.25"), D("9.5"))},
    "discount_rate_change": {"account": "A00000072", "rates": (D(10), D(20))},
    "volume_tier": {"account": "A00000073", "seats": (10, 15), "prices": (D("30.00"), D("25.00"))},
}
