"""Progress events from worker threads: at most one every N seconds, one call at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[dict[str, Any]], None]


class ProgressThrottle:
    """Calls ``fn`` with a fresh event unless one went out less than ``seconds`` ago.

    ``lock`` is the one that guards the caller's counters: the event is built and
    delivered under it, so it is a consistent snapshot and calls are serialised.
    """

    def __init__(self, fn: Progress | None, seconds: float, lock: threading.Lock) -> None:
        self.fn, self.seconds, self.lock = fn, seconds, lock
        self._last = float("-inf")

    def __call__(self, event: Callable[[], dict[str, Any]], *, force: bool = False) -> None:
        if self.fn is None:
            return
        with self.lock:
            now = time.monotonic()
            if not force and now - self._last < self.seconds:
                return
            self._last = now
            self.fn(event())
