"""Slack mrkdwn as plain terminal text (pure): what `python -m bot ask --format text` prints.

Bold, italic and strike markers are dropped, emoji shortcodes become a symbol or disappear, links
become `label (url)`, user and channel mentions become `@U…` / `#name`, and the three escaped
characters (`&amp;`, `&lt;`, `&gt;`) are restored. Code spans are kept as written.
"""

from __future__ import annotations

import re

__all__ = ["plain"]

_EMOJI = {"warning": "!", "white_check_mark": "✓", "heavy_check_mark": "✓", "x": "✗", "no_entry": "✗",
          "hourglass": "…", "hourglass_flowing_sand": "…", "information_source": "i", "moneybag": "",
          "arrow_up": "↑", "arrow_down": "↓", "chart_with_upwards_trend": "↑", "chart_with_downwards_trend": "↓",
          "lock": "", "bell": "", "memo": "", "mag": "", "bulb": "", "tada": "", "rotating_light": "!"}
_LINK = re.compile(r"<([^<>|\s]+)(?:\|([^<>]*))?>")
_SHORTCODE = re.compile(r"(?<![\w:]):([a-z0-9][a-z0-9_+-]*):(?![\w:])( ?)")
_CODE = re.compile(r"(`[^`\n]*`)")


def _link(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    if label and label != target:
        return f"{label} ({target})"
    return target


def _marker(text: str, mark: str) -> str:
    m = re.escape(mark)
    return re.sub(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])", r"\1", text)


def _emoji(match: re.Match[str]) -> str:
    symbol = _EMOJI.get(match.group(1), "")
    return symbol + match.group(2) if symbol else ""


def _prose(text: str) -> str:
    text = _LINK.sub(_link, text)
    for mark in ("*", "_", "~"):
        text = _marker(text, mark)
    text = _SHORTCODE.sub(_emoji, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain(mrkdwn: str) -> str:
    """`mrkdwn` (Slack's markup) as plain text for a terminal."""
    parts = _CODE.split(mrkdwn)
    out = [part.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") if i % 2 else _prose(part)
           for i, part in enumerate(parts)]
    return "\n".join(line.rstrip() for line in "".join(out).split("\n"))
