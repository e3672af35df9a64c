"""The deterministic router's parts, one module a kind of request; `bot.copilot.router` puts them together."""
