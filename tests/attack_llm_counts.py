"""Tried / held counts of the LLM attack suite, printed in pytest's terminal summary.

`record(category, held)` counts one attack. `summary_plugin` (a pytest plugin object, registered by
the suite's session fixture, so no conftest is needed) prints the table at the end of the run and
`failures()` names any category that did not hold every attack. (The Slack/HTTP attack suite keeps
an equivalent counter in `tests/attack.py`; the two can be merged into one.)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["TALLY", "failures", "record", "summary_plugin"]

TALLY: dict[str, list[int]] = defaultdict(lambda: [0, 0])
"""category -> [tried, held]"""


def record(category: str, held: bool) -> None:
    """Count one attack of `category`, and whether the defences held."""
    TALLY[category][0] += 1
    TALLY[category][1] += int(held)


def failures() -> list[str]:
    """Categories where some attack got through."""
    return [c for c, (tried, held) in TALLY.items() if held != tried]


class _Summary:
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not TALLY:
            return
        terminalreporter.section("LLM attack suite: tried / held")
        for category, (tried, held) in sorted(TALLY.items()):
            share = 100 * held // tried if tried else 0
            terminalreporter.write_line(f"{category:<18} tried {tried:>4}  held {held:>4}  ({share} %)")
        tried, held = (sum(v[i] for v in TALLY.values()) for i in (0, 1))
        terminalreporter.write_line(f"{'total':<18} tried {tried:>4}  held {held:>4}")


summary_plugin = _Summary()
