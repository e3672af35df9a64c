"""billing-copilot: a Slack app that answers Zuora billing questions and runs approved actions."""

__version__ = "0.1.0"
