"""Stop signals for the long-running commands: the first SIGTERM/SIGINT stops gracefully, a second exits at once."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any


def on_stop_signals(stop: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT call `stop(name)` once (in a thread of its own); a second one exits at once."""
    seen: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if seen:
            logging.getLogger(__name__).warning("%s again: exiting now", name)
            os._exit(1)
        seen.append(signum)
        threading.Thread(target=stop, args=(name,), name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # a parent may have blocked them
