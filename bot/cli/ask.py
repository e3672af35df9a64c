"""`ask`: answer a billing question in the terminal (text, mrkdwn or JSON) and write its --csv / --chart files."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.config import load_settings


def ask(args: argparse.Namespace) -> int:
    from bot import preflight
    from bot.app import build

    question = " ".join(args.question)
    settings = load_settings()
    preflight.warn_unknown()
    preflight.check_llm(settings)  # LLM_MODEL without the llm extra or a key: one line, not a traceback
    services = build(settings, database=False)
    try:
        answer = services.copilot.ask(question)
    finally:
        services.close()
    if not _write_answer_files(args, answer):
        return 2
    code = 1 if answer.intent == "error" else 0  # the same for every --format
    if args.format == "json":
        print(answer.model_dump_json(indent=2))
        return code
    lines = [answer.text]
    if answer.facts.get("proposal"):
        lines.append("_note: approval cards are posted by the Slack app (`python -m bot serve`); from the terminal "
                     "nothing is proposed or changed._")
    lines += [f"_note: {note}_" for note in answer.notes]
    if answer.citations:
        lines.append("\nSources: " + ", ".join(f"<{c.url}|{c.label}>" if c.url else c.label
                                               for c in answer.citations))
    if answer.follow_ups:
        lines.append("Try next: " + " | ".join(answer.follow_ups))
    text = "\n".join(lines)
    if args.format == "text":
        from bot.terminal import plain

        text = plain(text)
    print(text)
    return code


def _write_answer_files(args: argparse.Namespace, answer: Any) -> bool:
    """`ask --csv FILE --chart FILE`: write the answer's full table and chart; False (said why) if impossible."""
    from bot.copilot.portfolio import answer_chart, answer_csv

    wanted = [(kind, path) for kind, path in (("csv", args.csv), ("chart", args.chart)) if path]
    for kind, path in wanted:
        made = answer_csv(answer.facts) if kind == "csv" else answer_chart(answer.facts)
        if made is None:
            print(f"_note: this answer has no {'table' if kind == 'csv' else 'chart'}; {path} was not written._",
                  file=sys.stderr)
            continue
        data = made[1].encode() if isinstance(made[1], str) else made[1]
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            print(f"error: cannot write --{kind} {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True
