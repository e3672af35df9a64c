"""The Slack surface: Block Kit builders (`blocks`); listeners and the notifier arrive with the Slack app."""
