"""Questions → tools → answers: the explainer, the tools, the deterministic router and the LLM loop."""

from bot.copilot.agent import Copilot
from bot.copilot.answers import Answer
from bot.copilot.explain import Driver, Explanation, explain
from bot.copilot.llm import ChatModel, Completion, LiteLLMModel, LLMError, Message, ToolCall
from bot.copilot.tools import Toolbox, ToolContext, ToolError

__all__ = ["Answer", "ChatModel", "Completion", "Copilot", "Driver", "Explanation", "LLMError", "LiteLLMModel",
           "Message", "ToolCall", "ToolContext", "ToolError", "Toolbox", "explain"]
