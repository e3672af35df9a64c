"""The copilot: a question in, an `Answer` out, with or without an LLM.

Without a model, the deterministic router picks one tool and a template writes the answer. With a
model, the model is an untrusted planner: it picks tools (at most `max_tool_calls` per question,
under one overall timeout) and writes the text. It sees only redacted text (`REDACT_PII`), and
Zuora's free text inside `<untrusted>` fences; ids it picks are validated before they reach a URL;
a `propose_*` call stands only if `Ask` (the requester's own words) allows its kind, objects and
amount, else it is dropped with a note and a log line. Its text is restored, then must be grounded
(every number in the structured tool data or the requester's words) and free of links and mentions.
Any model failure, timeout, runaway tool use, dropped proposal without a valid one, or ungrounded
number falls back to the deterministic answer, and the event is logged (without the question's
content, and without the provider's error text: users see "the language model failed (ref …)").

`history` (the earlier exchanges of a conversation) resolves follow-ups: the router reads them as a
`Context`; the model sees the earlier questions, and what each answer was about.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from bot.copilot.answers import Answer, Exchange, clarify, failure, help_answer, render
from bot.copilot.ask import Ask
from bot.copilot.guard import fence, grounding, unfence, ungrounded
from bot.copilot.llm import ChatModel, LLMError, Message
from bot.copilot.prompts import SYSTEM
from bot.copilot.redact import Redactor
from bot.copilot.results import Citation, ExplainResult, ProposalResult
from bot.copilot.router import Context, progress, route
from bot.copilot.routing.mentions import account_name
from bot.copilot.toolbox import Toolbox, ToolOutcome
from bot.copilot.tools import ToolError

__all__ = ["DEMO_NOTE", "Copilot", "DemoCopilot", "context_of"]

log = logging.getLogger(__name__)
_MAX_EARLIER = 6
"""Earlier exchanges the model sees."""
_LIVE_MARKUP = re.compile(r"<\s*[!@#]|<\s*(?:https?|mailto|tel|slack|ftp)\s*:|\b(?:https?|ftp)://|\bwww\.\w|"
                          r"\bmailto:", re.IGNORECASE)
"""Slack mentions (`<!channel>`, `<@U…>`, `<#C…>`) and links: the model's text may hold neither (citations
carry our own links)."""


class _Fallback(Exception):
    """The LLM path gave up; the reason is noted on the deterministic answer, and `logged` (no customer data
    nor model text) is logged."""

    def __init__(self, reason: str, *, logged: str | None = None) -> None:
        super().__init__(reason)
        self.logged = logged or reason


class Copilot:
    """Answers billing questions: `ask(question) -> Answer`."""

    def __init__(self, toolbox: Toolbox, *, model: ChatModel | None = None, redact_pii: bool = True,
                 max_tool_calls: int = 6, timeout_s: float = 20.0,
                 clock: Callable[[], float] = time.monotonic,
                 new_ref: Callable[[], str] = lambda: uuid.uuid4().hex[:8]) -> None:
        self.toolbox = toolbox
        self.model = model
        self.redact_pii = redact_pii
        self.max_tool_calls = max_tool_calls
        self.timeout_s = timeout_s
        self.clock = clock
        self.new_ref = new_ref

    def ask(self, question: str, history: Sequence[Exchange] = ()) -> Answer:
        """Answer `question` (a follow-up to `history`); never raises for bad input, Zuora or LLM failures."""
        if self.model is None or not question.strip():
            return self.deterministic(question, history)
        dropped: list[str] = []
        try:
            answer = self._with_model(self.model, question, history, dropped)
        except _Fallback as exc:
            log.warning("copilot: LLM answer not used (%s); falling back to the deterministic answer", exc.logged)
            answer = self.deterministic(question, history)
            answer = answer.model_copy(update={"notes": [*answer.notes, f"Deterministic answer: {exc}."]})
        return answer.model_copy(update={"notes": [*answer.notes, *dropped]}) if dropped else answer

    def progress(self, question: str, history: Sequence[Exchange] = ()) -> str:
        """A short status line for what answering `question` will do ("Looking up invoice INV-42…")."""
        return progress(route(question, context_of(history)))

    def deterministic(self, question: str, history: Sequence[Exchange] = ()) -> Answer:
        """The router and templates alone."""
        decision = route(question, context_of(history))
        if decision.kind == "help":
            return help_answer()
        if decision.kind == "clarify" or decision.tool is None:
            return clarify(decision.message)
        outcome = self.toolbox.run(decision.tool, decision.args)
        if outcome.error is not None:
            tried = progress(decision).rstrip("…")
            return failure(outcome.error.message, outcome.error.kind, tried=tried, tool=decision.tool)
        assert outcome.result is not None
        answer = render(outcome.result, expect=decision.expect)
        return answer.model_copy(update={"citations": [self.toolbox.link(c) for c in answer.citations],
                                         "about": outcome.result.about()})

    def _with_model(self, model: ChatModel, question: str, earlier: Sequence[Exchange], dropped: list[str]) -> Answer:
        redactor = Redactor() if self.redact_pii else None
        for typed_name in (account_name(q) for q in (*(e.question for e in earlier), question)):
            if redactor and typed_name:
                redactor.token("NAME", typed_name)  # the customer names the user typed are PII too
        recent = earlier[-_MAX_EARLIER:]
        about = next((e.answer.about for e in reversed(recent) if e.answer.about), {})
        asked = Ask.read(question, [e.question for e in recent], about)
        today = self.toolbox.context.today()
        history = [Message("system", SYSTEM.format(today=today))]
        for exchange in earlier[-_MAX_EARLIER:]:
            history += [Message("user", exchange.question), Message("assistant", self._recall(exchange.answer))]
        history.append(Message("user", question))
        outcomes: list[ToolOutcome] = []
        deadline = self.clock() + self.timeout_s
        schemas = [tool.schema() for tool in self.toolbox.tools]
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise _Fallback(f"the LLM did not finish within {self.timeout_s:g} s")
            allow_tools = len(outcomes) < self.max_tool_calls
            view = [_redacted(m, redactor) for m in history]
            try:
                completion = model.complete(view, schemas if allow_tools else [], timeout=remaining)
            except LLMError as exc:  # the provider's text may echo our key: users and logs get a reference only
                ref = self.new_ref()
                log.warning("copilot: the language model failed: %s (ref %s)", exc.error_class, ref)
                raise _Fallback(f"the language model failed (ref {ref})") from None
            if not completion.tool_calls:
                if dropped and not any(isinstance(o.result, ProposalResult) for o in outcomes):
                    raise _Fallback("the LLM tried to propose what the request did not ask for")  # its text may
                    # claim a proposal that does not exist; the router drafts exactly what the words say
                grounds = [question, f"today {today}", *(e.question for e in recent)]  # the requester's words
                return self._final(completion.text or "", grounds, outcomes, redactor, asked)
            if not allow_tools:
                raise _Fallback(f"the LLM wanted more than {self.max_tool_calls} tool calls")
            calls = completion.tool_calls[:self.max_tool_calls - len(outcomes)]
            history.append(Message("assistant", completion.text, tool_calls=calls))
            for call in calls:
                outcome = self._run(call.name, call.arguments, redactor, asked, dropped)
                outcomes.append(outcome)
                if outcome.result is not None and not isinstance(outcome.result, ProposalResult):
                    asked = asked.resolved(outcome.arguments, outcome.result.about())
                payload = outcome.payload()
                if redactor:
                    payload = redactor.payload(payload)
                history.append(Message("tool", json.dumps(fence(payload)), tool_call_id=call.call_id))

    def _run(self, name: str, arguments: str, redactor: Redactor | None, asked: Ask,
             dropped: list[str]) -> ToolOutcome:
        try:
            args = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            return ToolOutcome(name, {}, error=ToolError("invalid", "The arguments were not a JSON object."))
        args = unfence(redactor.restore(args) if redactor else args)
        refusal = asked.refusal(name, args)
        if refusal is None:
            outcome = self.toolbox.run(name, args)
            if not isinstance(outcome.result, ProposalResult):
                return outcome
            refusal = asked.refusal_of(outcome.result.proposal)  # the objects Zuora resolved the arguments to
            if refusal is None:
                return outcome
        log.warning("copilot: dropped a %s call the requester did not ask for (%s)", name, refusal.code)
        note = f"Dropped a proposal the request did not ask for ({name.removeprefix('propose_')}: " \
               f"{refusal.code.replace('_', ' ')})."
        if note not in dropped:
            dropped.append(note)
        return ToolOutcome(name, args, error=ToolError("invalid", f"Refused: {refusal.message}"))

    def _recall(self, answer: Answer) -> str:
        """What the model is told of an earlier answer: its text, or (with redaction) only what it was about."""
        if not self.redact_pii:
            return answer.text
        about = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in answer.about.items())
        return f"(answered with {answer.intent}{'; about ' + about if about else ''})"

    def _final(self, text: str, grounds: list[str], outcomes: list[ToolOutcome], redactor: Redactor | None,
               asked: Ask) -> Answer:
        raw = unfence(text)
        text = unfence(redactor.restore(raw)) if redactor else raw
        if not text.strip():
            raise _Fallback("the LLM gave an empty answer")
        if _LIVE_MARKUP.search(text):  # a mention pings a channel; a link can carry restored PII away
            raise _Fallback("the LLM answer contains a link or a mention")
        sources = [*grounds, *(grounding(o.payload()) for o in outcomes)]
        invented = ungrounded(raw, sources)  # before restoring: digits in a restored phone or name are no figures
        if invented:
            raise _Fallback(f"the LLM answer has numbers not found in Zuora data: {', '.join(map(str, invented))}",
                            logged=f"the LLM answer has {len(invented)} number(s) not found in Zuora data")
        results = [o.result for o in outcomes if o.result is not None]
        citations: list[Citation] = []
        for citation in (self.toolbox.link(c) for result in results for c in result.citations()):
            if citation not in citations:
                citations.append(citation)
        explained = next((r for r in reversed(results) if isinstance(r, ExplainResult)), None)
        facts: dict[str, Any] = (explained.explanation.model_dump(mode="json") if explained else
                                 {o.name: o.payload() for o in outcomes})
        follow_ups = render(results[-1]).follow_ups if results else []
        intent = next((o.name for o in reversed(outcomes) if o.result is not None), "llm")
        proposed = next((r for r in reversed(results) if isinstance(r, ProposalResult)), None)
        if proposed:  # the Slack layer turns it into an approval card; the model never executes anything
            facts, intent = {"proposal": proposed.proposal, "kind": proposed.kind}, f"propose_{proposed.kind}"
        return Answer(text=text, intent=intent, source="llm", facts=facts, citations=citations,
                      follow_ups=follow_ups, about=_about(outcomes, asked))


def _about(outcomes: list[ToolOutcome], asked: Ask) -> dict[str, str]:
    """What a follow-up may refer back to: the latest result about something the requester named (a
    model steered by planted text may read other objects; "yes, write it off" must not reach them)."""
    for outcome in reversed(outcomes):
        if outcome.result is not None and (isinstance(outcome.result, ProposalResult)
                                           or asked.names(outcome.arguments)):
            return outcome.result.about()
    return {}


def context_of(history: Sequence[Exchange]) -> Context | None:
    """What the latest answer that was about something was about."""
    for exchange in reversed(history):
        if exchange.answer.about:
            return Context.of(exchange.answer.intent, exchange.answer.about)
    return None


def _redacted(message: Message, redactor: Redactor | None) -> Message:
    if redactor is None or message.role in ("system", "tool") or not message.content:
        return message
    text = redactor.text(message.content, single_names=message.role == "user")  # what a person typed
    return Message(message.role, text, message.tool_calls, message.tool_call_id)


DEMO_NOTE = "Demo data: answered from the fictional demo tenant (ZUORA_BASE_URL=demo), not from a real Zuora tenant."


class DemoCopilot(Copilot):
    """A `Copilot` whose every answer says it comes from the demo tenant (`ZUORA_BASE_URL=demo`)."""

    def ask(self, question: str, history: Sequence[Exchange] = ()) -> Answer:
        answer = super().ask(question, history)
        return answer.model_copy(update={"notes": [*answer.notes, DEMO_NOTE]})
