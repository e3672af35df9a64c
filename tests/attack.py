"""The attack suite's tally: every attempt is recorded as held or not, by category; the table is printed
at the end of the run (`pytest_terminal_summary` in conftest) and each category must hold 100 %.

    from tests.attack import record
    held = record("slack: forged request", response.status_code == 401 and nothing_happened)

`record` returns `held`, so a test can collect failures and assert once with the details.
"""

from __future__ import annotations

import threading

__all__ = ["record", "reset", "table", "tally"]

_lock = threading.Lock()
_tally: dict[str, list[int]] = {}


def record(category: str, held: bool) -> bool:
    """Count one attempt in `category`; returns `held`."""
    with _lock:
        counts = _tally.setdefault(category, [0, 0])
        counts[0] += 1
        counts[1] += bool(held)
    return held


def tally() -> dict[str, tuple[int, int]]:
    """`{category: (tried, held)}` so far in this run."""
    with _lock:
        return {category: (tried, held) for category, (tried, held) in _tally.items()}


def reset() -> None:
    with _lock:
        _tally.clear()


def table() -> list[str]:
    """The tally as aligned lines: category, tried, held, percentage."""
    counts = tally()
    if not counts:
        return []
    width = max(len(c) for c in counts) + 2
    lines = [f"{'category':<{width}}{'tried':>7}{'held':>7}{'':>8}"]
    for category in sorted(counts):
        tried, held = counts[category]
        lines.append(f"{category:<{width}}{tried:>7}{held:>7}{held / tried:>8.0%}")
    tried, held = (sum(t for t, _ in counts.values()), sum(h for _, h in counts.values()))
    lines.append(f"{'all':<{width}}{tried:>7}{held:>7}{held / tried:>8.0%}")
    return lines
