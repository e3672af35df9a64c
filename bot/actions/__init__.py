"""Money-moving proposals: kinds, drafts from Zuora data, approval policy, state machine, execution, audit.

Nothing here runs without an approval: `Approvals.approve()` claims a pending proposal for an
authorized clicker, and `Approvals.run()` sends its stored Zuora request once.
"""

from bot.actions.approvals import Approvals, Result
from bot.actions.audit import AuditLog
from bot.actions.drafts import Drafts
from bot.actions.policy import Policy, PolicyError
from bot.actions.proposals import Proposal, ProposalError
from bot.actions.store import Record

__all__ = ["Approvals", "AuditLog", "Drafts", "Policy", "PolicyError", "Proposal", "ProposalError", "Record",
           "Result"]
