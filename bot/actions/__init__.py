"""Money-moving proposals: kinds, drafts from Zuora data, approval policy, state machine, execution, audit.

Nothing here runs without an approval: `Approvals.approve()` claims the version of a pending
proposal an authorized clicker saw, and `Approvals.run()` sends its stored Zuora request once,
through the same checks recovery and the sweep use. Each kind is one module in `kinds/`; the
rest never names a kind. The audit log (`audit.py`) is anchored outside the database by signed
checkpoints and by its mirror in Zuora (`mirror.py`).
"""

from bot.actions.approvals import Approvals, Result
from bot.actions.audit import AuditLog
from bot.actions.drafts import Drafts
from bot.actions.policy import Policy, PolicyError
from bot.actions.proposals import Proposal, ProposalError
from bot.actions.store import Record

__all__ = ["Approvals", "AuditLog", "Drafts", "Policy", "PolicyError", "Proposal", "ProposalError", "Record",
           "Result"]
