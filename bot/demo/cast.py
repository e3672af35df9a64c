"""The demo workspace's fixed cast: the users and what each may do, the user groups, the channels, the approval
rules the demo app runs with, the bot token and the callout user."""

from __future__ import annotations

__all__ = ["APPROVERS", "CALLOUT_USER", "CHANNELS", "GROUPS", "GROUP_NAMES", "TIERS", "TOKEN", "USERS"]

TOKEN = "xoxb-demo"
USERS: list[dict[str, str]] = [
    {"id": "U0REP001", "name": "Riley", "role": "support rep (asks, requests credits)"},
    {"id": "U0APPROVER", "name": "Avery", "role": "approver (up to 250)"},
    {"id": "U0APPROVR2", "name": "Jordan", "role": "approver (up to 250)"},
    {"id": "U0LEAD001", "name": "Morgan", "role": "team lead, @billing-leads (up to 2,500)"},
    {"id": "U0FINANCE1", "name": "Casey", "role": "finance, @finance (any amount; bill-run DMs)"},
    {"id": "U0OUTSIDER", "name": "Sam", "role": "outsider (may not approve)"},
]
GROUPS = {"S0LEADS": ["U0LEAD001"], "S0FINANCE": ["U0FINANCE1"]}
GROUP_NAMES = {"S0LEADS": "billing-leads", "S0FINANCE": "finance"}
CHANNELS = [{"id": "C0SUPPORT", "name": "billing-support"}, {"id": "C0COLLECT", "name": "collections"}]
APPROVERS = "U0APPROVER,U0APPROVR2,S0LEADS,S0FINANCE"
TIERS = "250:approvers,2500:S0LEADS|S0FINANCE,*:S0FINANCE"
CALLOUT_USER = "zuora-demo"
