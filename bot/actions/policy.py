"""Who may approve what (pure): approvers, amount tiers, two approvers for large write-offs.

`APPROVERS` lists Slack user ids (U…/W…) and user group ids (S…). `APPROVAL_TIERS` is a comma-
separated list of `LIMIT:WHO` entries, checked in order; the first whose LIMIT is at least the
amount applies. LIMIT is an amount in the proposal's currency, or `*` for any amount; WHO is
`approvers` (anyone in `APPROVERS`) or user and group ids joined by `|`. For example

    250:approvers,2500:S0LEADS,*:S0FINANCE|U0CFO

lets any approver approve up to 250, the leads group up to 2,500, and finance (or the CFO) above.
An empty `APPROVAL_TIERS` means `*:approvers`. A write-off above `WRITE_OFF_TWO_APPROVERS_ABOVE`
needs two distinct approvers. The requester never approves their own proposal, and the clicker
must be in the Slack team the proposal was made in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.money import money

__all__ = ["Decision", "Policy", "PolicyError", "Tier"]

_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


class PolicyError(ValueError):
    """The approval settings cannot be read; the message names the setting."""


@dataclass(frozen=True)
class Tier:
    limit: Decimal | None
    """None: any amount."""
    who: tuple[str, ...]
    """`approvers`, or user and group ids."""

    def describe(self, currency: str) -> str:
        people = "any approver" if self.who == ("approvers",) else " or ".join(_mention(w) for w in self.who)
        return f"{people} (amounts up to {money(self.limit, currency)})" if self.limit is not None else people


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    """Why not (for the clicker), or which rule allowed it (for the audit)."""


def _mention(who: str) -> str:
    if who == "approvers":
        return "any approver"
    return f"<!subteam^{who}>" if who.startswith("S") else f"<@{who}>"


@dataclass(frozen=True)
class Policy:
    approvers: tuple[str, ...]
    tiers: tuple[Tier, ...]
    two_approvers_above: Decimal | None = None

    @classmethod
    def parse(cls, approvers: list[str], tiers: str, two_approvers_above: Decimal | None) -> Policy:
        parsed = []
        for entry in (e.strip() for e in tiers.split(",") if e.strip()):
            limit_text, sep, who_text = entry.partition(":")
            who = tuple(w.strip() for w in who_text.split("|") if w.strip())
            if not sep or not who:
                raise PolicyError(f"APPROVAL_TIERS entry {entry!r} is not LIMIT:WHO")
            for w in who:
                if w != "approvers" and not _ID.match(w):
                    raise PolicyError(f"APPROVAL_TIERS: {w!r} is not 'approvers' or a Slack user/group id")
            try:
                limit = None if limit_text.strip() == "*" else Decimal(limit_text.strip())
            except InvalidOperation:
                raise PolicyError(f"APPROVAL_TIERS: {limit_text.strip()!r} is not an amount or *") from None
            parsed.append(Tier(limit, who))
        if not parsed:
            parsed = [Tier(None, ("approvers",))]
        limits = [t.limit for t in parsed if t.limit is not None]
        if limits != sorted(limits) or any(t.limit is None for t in parsed[:-1]):
            raise PolicyError("APPROVAL_TIERS must go from the smallest limit up, with * (if any) last")
        return cls(tuple(approvers), tuple(parsed), two_approvers_above)

    @property
    def groups(self) -> tuple[str, ...]:
        """Every user group the policy names (membership is looked up in Slack)."""
        named = [*self.approvers, *(w for t in self.tiers for w in t.who)]
        return tuple(dict.fromkeys(w for w in named if w.startswith("S")))

    def tier(self, amount: Decimal) -> Tier | None:
        """The tier that covers `amount`, or None when no tier is high enough."""
        return next((t for t in self.tiers if t.limit is None or amount <= t.limit), None)

    def approvals_needed(self, kind: str, amount: Decimal) -> int:
        """How many different approvers `kind` needs for `amount` (the kind says whether the two-approver limit
        applies to it: write-offs)."""
        from bot.actions.kinds import KIND_MODELS

        model = next((m for m in KIND_MODELS if m.model_fields["kind"].default == kind), None)
        two = model is not None and model.two_approvers_above_limit
        if two and self.two_approvers_above is not None and amount > self.two_approvers_above:
            return 2
        return 1

    def who_may_approve(self, kind: str, amount: Decimal, currency: str) -> str:
        """For the card: who may approve this amount, and how many of them."""
        tier = self.tier(amount)
        if tier is None:
            return f"nobody: {money(amount, currency)} is above every approval tier"
        two = self.approvals_needed(kind, amount) == 2
        return tier.describe(currency) + (" — two different approvers (large write-off)" if two else "")

    def check(self, *, amount: Decimal, currency: str, requester: str, team: str, clicker: str,
              clicker_team: str | None, clicker_groups: frozenset[str], already: tuple[str, ...] = ()) -> Decision:
        """May `clicker` approve? `clicker_groups` are the policy's groups the clicker belongs to."""
        if clicker == requester:
            return Decision(False, "You asked for this, so someone else has to approve it.")
        if clicker_team and clicker_team != team:
            return Decision(False, "This proposal belongs to another Slack workspace.")
        if clicker in already:
            return Decision(False, "You already approved this; it needs a second, different approver.")
        if not self.is_approver(clicker, clicker_groups):
            return Decision(False, "You are not in the approvers list (APPROVERS).")
        tier = self.tier(amount)
        if tier is None:
            return Decision(False, f"{money(amount, currency)} is above every approval tier.")
        if tier.who != ("approvers",) and not any(w == clicker or w in clicker_groups for w in tier.who):
            return Decision(False, f"{money(amount, currency)} needs {tier.describe(currency)}.")
        return Decision(True, f"tier up to {tier.limit if tier.limit is not None else 'any amount'}: "
                              f"{'/'.join(tier.who)}")

    def is_approver(self, clicker: str, clicker_groups: frozenset[str]) -> bool:
        """In `APPROVERS`, or named by a tier (directly or through a group)."""
        return any(a == clicker or a in clicker_groups for a in self.approvers) or any(
            w == clicker or w in clicker_groups for t in self.tiers for w in t.who if w != "approvers")
