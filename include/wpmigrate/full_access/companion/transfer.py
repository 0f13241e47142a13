"""How much to ask the companion plugin for at once, and retrying when the host balks.

A shared host limits each PHP request (``max_execution_time``, ``memory_limit``, a proxy's
body limit); the right request size is unknown up front and changes under load. The
policy (``AdaptiveSize``): start small; double after a request that took less than
half the target time; halve after one that took longer than the target; on any
transient failure halve, and when the failure says the request was too big (413, 500,
504, a timeout, a cut answer) the ceiling drops to half that size (the size that last
worked, as sizes double), so the transfer does not keep hitting the same limit.
``host_limits`` derives the target time and the ceiling from the preflight.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.client import CompanionUnavailable

T = TypeVar("T")

log = logging.getLogger(__name__)


class AdaptiveSize:
    """A request size in [minimum, maximum], adapted to how requests went. Thread-safe."""

    def __init__(self, initial: int, *, minimum: int, maximum: int, target_seconds: float) -> None:
        if not 0 < minimum <= maximum:
            raise ValueError("need 0 < minimum <= maximum")
        self.minimum, self.maximum = minimum, maximum
        self.target = target_seconds
        self._value = max(minimum, min(initial, maximum))
        self._lock = threading.Lock()
        self.grown = self.shrunk = 0

    @property
    def value(self) -> int:
        return self._value

    def succeeded(self, seconds: float, used: int | None = None) -> None:
        """A request of ``used`` (default: the current size) took ``seconds``."""
        with self._lock:
            if seconds > self.target:
                self._set(self._value // 2)
            elif seconds < self.target / 2 and (used is None or used >= self._value):
                # Grow only when the request really used the size: a short last chunk
                # of a file says nothing about a bigger one.
                self._set(self._value * 2)

    def failed(self, too_big: bool = True) -> None:
        with self._lock:
            if too_big:  # the ceiling becomes half the size that failed: the last that worked
                self.maximum = max(self.minimum, min(self.maximum, self._value // 2))
            self._set(self._value // 2)

    def _set(self, new: int) -> None:
        new = max(self.minimum, min(new, self.maximum))
        if new > self._value:
            self.grown += 1
        elif new < self._value:
            self.shrunk += 1
        self._value = new


@dataclass(frozen=True)
class HostLimits:
    target_seconds: float
    max_chunk_bytes: int
    max_page_bytes: int


def host_limits(preflight: dict[str, Any], *, cap_bytes: int = 64 << 20) -> HostLimits:
    """Request time target and size ceilings that stay well inside the host's limits:
    a quarter of ``max_execution_time`` (10 s when unlimited) and a quarter of
    ``memory_limit`` for a file chunk (an eighth for a page of rows: base64 and JSON
    cost about 2.5 times the raw bytes on the PHP side)."""
    limit = int(preflight.get("max_execution_time") or 0)
    target = min(10.0, limit / 4) if limit > 0 else 10.0
    memory = int(preflight.get("memory_limit") or -1)
    chunk = cap_bytes if memory <= 0 else max(64 << 10, min(cap_bytes, memory // 4))
    page = cap_bytes // 4 if memory <= 0 else max(64 << 10, min(cap_bytes // 4, memory // 8))
    return HostLimits(max(0.5, target), chunk, page)


def with_retries(call: Callable[[], T], *, sizes: list[AdaptiveSize], what: str, attempts: int = 8,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 used: Callable[[T], int | None] | None = None) -> T:
    """Run ``call`` (which reads the sizes' current values) until it succeeds; every
    transient failure shrinks ``sizes`` and waits a little longer. Then ``EXPORT_FAILED``,
    transient: the task's retry resumes from what was stored. ``used(result)`` says how much
    of the size a success used (see ``AdaptiveSize.succeeded``)."""
    for attempt in range(attempts):
        started = time.monotonic()
        try:
            result = call()
        except CompanionUnavailable as exc:
            for s in sizes:
                s.failed(too_big=exc.too_big)
            if attempt == attempts - 1:
                raise MigrationError(ErrorCode.EXPORT_FAILED, f"the source kept failing on {what}: {exc}",
                                     permanent=False, details={"what": what}) from exc
            wait = min(30.0, backoff * (2 ** attempt))
            # The message as a string: a log record keeping the exception would keep its
            # traceback's frames, and with them the chunk being fetched, alive.
            log.warning("the source failed on %s (%s: %s); retrying in %.1f s%s", what, exc.kind, str(exc),
                        wait, " with smaller requests" if exc.too_big else "")
            # A failed request leaves reference cycles (the exception's traceback and the frames
            # holding the half-read chunk) that only the cycle collector frees: free them now,
            # so a flaky host costs no more memory than one chunk in flight.
            del exc
            gc.collect()
            sleep(wait)
            continue
        took = time.monotonic() - started
        amount = used(result) if used else None
        for s in sizes:
            s.succeeded(took, amount)
        return result
    raise AssertionError("unreachable")
