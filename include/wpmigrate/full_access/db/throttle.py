"""Progress events of the database export and import, at most one per interval."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[dict[str, Any]], None]


class ProgressThrottle:
    """Calls ``fn`` with an event when ``interval`` seconds have passed since the last
    one (or when forced: a table's first and last event always go out)."""

    def __init__(self, fn: Progress | None, interval: float) -> None:
        self.fn, self.interval, self.last = fn, interval, float("-inf")

    def __call__(self, event: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if self.fn and (force or now - self.last >= self.interval):
            self.last = now
            self.fn(event)
