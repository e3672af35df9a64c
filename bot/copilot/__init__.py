"""Questions → tools → answers: the explainer, the tools, the deterministic router and the LLM loop."""

from bot.copilot.agent import Copilot, DemoCopilot
from bot.copilot.answers import Answer
from bot.copilot.explain import explain
from bot.copilot.explanation import Driver, Explanation
from bot.copilot.llm import ChatModel, Completion, LiteLLMModel, LLMError, Message, ToolCall
from bot.copilot.toolbox import Toolbox
from bot.copilot.tools import ToolContext, ToolError

__all__ = ["Answer", "ChatModel", "Completion", "Copilot", "DemoCopilot", "Driver", "Explanation", "LLMError",
           "LiteLLMModel", "Message", "ToolCall", "ToolContext", "ToolError", "Toolbox", "explain"]
