"""The chat-model boundary: our message types, the `ChatModel` protocol, and `LiteLLMModel`.

This is the only module that imports litellm, and it does so lazily (on the first completion):
importing litellm costs seconds and ~130 MB, and a bot without `LLM_MODEL` never pays for it.
`LITELLM_LOCAL_MODEL_COST_MAP` is set first so litellm never downloads its cost map.

Errors: everything litellm raises (timeouts, HTTP errors, bad responses) becomes `LLMError`, which
carries only the class name of what failed, never the provider's text: providers echo request
headers and keys in their error bodies, so that text must reach neither users nor logs. The
exception is raised without its cause attached for the same reason.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["ChatModel", "Completion", "LLMError", "LiteLLMModel", "Message", "ToolCall", "llm_problem"]

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def _litellm() -> Any:
    """litellm, imported quietly: no cost-map download, no "Give Feedback / Get Help" banner, no debug output."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # else litellm prints banners and the provider's error text to stdout
    for name in _LITELLM_LOGGERS:  # they log raw provider responses, error bodies included
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


def llm_problem(model: str, *, api_key: bool, api_base: str | None) -> str | None:
    """Why `LLM_MODEL=model` cannot work here, in one line naming what to set; None when it can.

    The `llm` extra must be installed; a key is needed unless `LLM_API_KEY` is set, the provider's own
    variable is (litellm knows which: `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...), or `LLM_API_BASE`
    points at a local server (which may need none).
    """
    try:
        litellm = _litellm()
    except ImportError:
        return ("LLM_MODEL is set but the llm extra is not installed: pip install 'billing-copilot[llm]' "
                "(or unset LLM_MODEL for the deterministic answers)")
    if api_key or api_base:
        return None
    try:
        found = litellm.validate_environment(model=model)
    except Exception:  # an unknown provider prefix: litellm cannot tell, the first call will
        return None
    if found.get("keys_in_environment"):
        return None
    names = " and ".join(str(k) for k in found.get("missing_keys") or []) or "the provider's API key"
    return (f"LLM_MODEL={model} cannot be used: {names} is not set (or set LLM_API_KEY, or LLM_API_BASE for a "
            "local server)")


class LLMError(Exception):
    """The model could not be asked or gave an unusable answer; `error_class` names what failed (no provider text)."""

    def __init__(self, error_class: str) -> None:
        super().__init__(error_class)
        self.error_class = error_class


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for; `arguments` is the JSON text the model wrote."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One chat message in the OpenAI shape litellm accepts for every provider."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [{"id": c.call_id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}} for c in self.tool_calls]
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out


@dataclass(frozen=True)
class Completion:
    """The model's turn: final text, or tool calls to run first."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = field(default=())


class ChatModel(Protocol):
    """Anything that can take a chat turn: `LiteLLMModel`, or a scripted model in tests."""

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], *, timeout: float) -> Completion:
        """One model turn; `tools` empty means the model must answer in text."""
        ...


class LiteLLMModel:
    """Any litellm model string (`openai/gpt-4o-mini`, `anthropic/…`, `ollama/…`), optionally at `api_base`."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key = api_key

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], *, timeout: float) -> Completion:
        litellm = _litellm()
        options: dict[str, Any] = {"model": self.model, "messages": [m.to_openai() for m in messages],
                                   "timeout": timeout, "num_retries": 0, "temperature": 0}
        if tools:
            options["tools"] = tools
            # litellm 1.106–1.108 import the optional `mcp` package (their MCP gateway) on every call
            # that has tools, and fail with ModuleNotFoundError without it; this private flag skips that
            # handler (we never use litellm's MCP gateway). Later releases only import it when needed.
            options["_skip_mcp_handler"] = True
        if self.api_base:
            options["api_base"] = self.api_base
        if self.api_key:
            options["api_key"] = self.api_key
        try:
            response = litellm.completion(**options)
        except Exception as exc:  # litellm maps every provider failure onto its own exception classes
            raise LLMError(type(exc).__name__) from None
        try:
            message = response.choices[0].message
            calls = tuple(ToolCall(call_id=c.id or f"call_{i}", name=c.function.name,
                                   arguments=c.function.arguments or "{}")
                          for i, c in enumerate(message.tool_calls or []))
        except (AttributeError, IndexError, TypeError) as exc:
            raise LLMError(f"unusable response ({type(exc).__name__})") from None
        return Completion(text=message.content, tool_calls=calls)
