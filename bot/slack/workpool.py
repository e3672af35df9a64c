"""Work after the ack: a bounded pool of threads, and the listeners' way onto it (`Later`).

Slack gets its 200 from the request thread as soon as a listener has looked at the request; what
takes time (Zuora, the LLM, Slack Web API calls) runs here. Two pools:

- `work`: answers, approvals, anything that may wait on Zuora. `SLACK_WORKERS` threads and room for
  `SLACK_QUEUE` waiting jobs. When both are taken, `submit` says so at once and the user is told
  "busy" (in the command's ack, by `response_url`, or in the event's thread): nothing is dropped
  silently, and the request thread never waits for a worker.
- `quick`: short Slack-only calls that must not queue behind Zuora work (opening a modal while the
  `trigger_id` is fresh, the "busy" notices themselves, App Home).

A job's exception is handed to the Bolt app's error handler (logged with a reference, the user told).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["BUSY", "Later", "WorkPool"]

log = logging.getLogger(__name__)

BUSY = (":hourglass: I'm busy answering other questions right now and couldn't take this one. "
        "Please try again in a minute.")
OnError = Callable[[Exception, dict[str, Any], Any], None]


class WorkPool:
    """`workers` threads and room for `queue` waiting jobs; `submit` never blocks. Thread-safe."""

    def __init__(self, workers: int, queue: int, *, name: str = "slack-work") -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"a work pool needs at least one worker and a queue of 0 or more ({workers}, {queue})")
        self.workers, self.queue, self.name = workers, queue, name
        self._jobs: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running = 0
        self._closed = False
        self.rejected = 0
        self.done = 0

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue `job`; False at once when every worker is busy and the queue is full (or the pool is closed)."""
        with self._cond:
            if self._closed or self._running + len(self._jobs) >= self.workers + self.queue:
                self.rejected += 1
                return False
            self._jobs.append(job)
            idle = len(self._threads) - self._running - (len(self._jobs) - 1)
            if idle <= 0 and len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads) + 1}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify()
            return True

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._running += 1
            try:
                job()
            except Exception:  # jobs report their own errors; this is the last resort
                log.exception("%s: a job failed", self.name)
            finally:
                with self._cond:
                    self._running -= 1
                    self.done += 1
                    self._cond.notify_all()

    def close(self, timeout: float | None = 30.0) -> bool:
        """Take no more jobs, finish the queued ones; True when all finished within `timeout` seconds."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)

    def stats(self) -> dict[str, int]:
        """Running and waiting jobs now; jobs done and refused so far."""
        with self._cond:
            return {"running": self._running, "waiting": len(self._jobs), "done": self.done,
                    "rejected": self.rejected}


class Later:
    """How listeners hand work over after the ack, and tell the user when there is no room."""

    def __init__(self, work: WorkPool, quick: WorkPool, on_error: OnError | None = None) -> None:
        self.work_pool, self.quick_pool = work, quick
        self.on_error: OnError = on_error or _log_error
        """Told of a job's exception with the request's body and client (the app's error handler)."""

    def work(self, body: dict[str, Any], client: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run `fn(*args, **kwargs)` on the work pool; False (nothing queued) when it is full."""
        return self.work_pool.submit(self._guarded(body, client, fn, args, kwargs))

    def quick(self, body: dict[str, Any], client: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run a short Slack-only call on the quick pool (logged when even that is full)."""
        if self.quick_pool.submit(self._guarded(body, client, fn, args, kwargs)):
            return True
        log.warning("slack: the quick pool is full; %s for a %s was not run", getattr(fn, "__name__", "a call"),
                    _kind(body))
        return False

    def work_or_busy(self, body: dict[str, Any], client: Any, respond: Any, fn: Callable[..., Any], *args: Any,
                     **kwargs: Any) -> bool:
        """`work()`, or else tell the user at once that we are busy (ephemerally, or in the event's thread)."""
        if self.work(body, client, fn, *args, **kwargs):
            return True
        self.busy(body, client, respond)
        return False

    def busy(self, body: dict[str, Any], client: Any, respond: Any = None) -> None:
        """Tell the requester we are busy: by `response_url` when the request has one, else in its thread."""
        log.warning("slack: work pool full (%s); told the user we are busy", self.work_pool.stats())
        event = body.get("event") if isinstance(body.get("event"), dict) else None
        if body.get("response_url") and respond is not None:
            self.quick(body, client, respond, response_type="ephemeral", replace_original=False, text=BUSY)
        elif event and event.get("channel"):
            self.quick(body, client, client.chat_postMessage, channel=event["channel"],
                       thread_ts=event.get("thread_ts") or event.get("ts"), text=BUSY)
        else:
            log.warning("slack: nowhere to say busy for a %s", _kind(body))

    def _guarded(self, body: dict[str, Any], client: Any, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Callable[[], None]:
        def job() -> None:
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                self.on_error(exc, body, client)

        return job

    def close(self, timeout: float = 30.0) -> bool:
        """Finish queued work (answers first, then the notices they may have queued); True if all finished."""
        finished = self.work_pool.close(timeout)
        return self.quick_pool.close(timeout) and finished


def _log_error(error: Exception, body: dict[str, Any], client: Any) -> None:
    log.error("slack: %s in work for a %s", type(error).__name__, _kind(body), exc_info=error)


def _kind(body: dict[str, Any]) -> str:
    return str(body.get("command") or body.get("type") or "request")
