"""`ScriptedModel`: our `ChatModel` protocol with canned turns, for tests of the copilot loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.copilot.llm import Completion, LLMError, Message, ToolCall

__all__ = ["ScriptedModel", "call", "say"]

Turn = Completion | LLMError | Callable[[list[Message], list[dict[str, Any]]], Completion]


def call(name: str, arguments: str, call_id: str = "c1") -> Completion:
    """A turn that calls one tool."""
    return Completion(tool_calls=(ToolCall(call_id, name, arguments),))


def say(text: str) -> Completion:
    """A final-text turn."""
    return Completion(text=text)


class ScriptedModel:
    """Plays `turns` in order; records every request; raises when the script runs out."""

    def __init__(self, *turns: Turn) -> None:
        self.turns = list(turns)
        self.calls: list[tuple[list[Message], list[dict[str, Any]], float]] = []

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], *, timeout: float) -> Completion:
        self.calls.append((list(messages), tools, timeout))
        if not self.turns:
            raise AssertionError("ScriptedModel: the script ran out")
        turn = self.turns.pop(0)
        if isinstance(turn, LLMError):
            raise turn
        return turn(messages, tools) if callable(turn) else turn

    def seen(self) -> str:
        """Everything the model was sent, as one string (for "did X leak" assertions)."""
        return "\n".join(f"{m.role}: {m.content} {m.tool_calls}" for messages, _, _ in self.calls for m in messages)
