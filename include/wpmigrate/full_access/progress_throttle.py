"""Progress events of the Mode A transfers (database and files), at most one per interval.

Transfers report often (per page of rows, per file); the task log and the portal need
one line every few seconds, and always the first and last of a step (``force``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
Progress = Callable[[Event], None]


class ProgressThrottle:
    """Calls ``fn`` with an event unless one went out less than ``interval`` seconds ago.

    ``event`` may be a callable that builds the event: it is only called when the event
    goes out. With a ``lock`` (worker threads: the one that guards the caller's counters)
    the event is built and delivered under it, so it is a consistent snapshot."""

    def __init__(self, fn: Progress | None, interval: float, lock: threading.Lock | None = None) -> None:
        self.fn, self.interval, self.lock = fn, interval, lock
        self._last = float("-inf")

    def __call__(self, event: Event | Callable[[], Event], *, force: bool = False) -> None:
        if self.fn is None:
            return
        with self.lock or contextlib.nullcontext():
            now = time.monotonic()
            if not force and now - self._last < self.interval:
                return
            self._last = now
            self.fn(event() if callable(event) else event)
