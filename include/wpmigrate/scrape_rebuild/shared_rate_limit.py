"""The source's politeness limit shared by every worker and every run, through Redis.

``HostRateLimiter`` spaces the requests of one process. On Celery, the tasks of one run
and the runs of one source host live in several processes on several machines, and each
would grant the host the full rate. With ``WPMIGRATE_RATE_LIMIT_REDIS_URL`` set, every
fetcher takes its slots from one Redis key per host instead. A Lua script reserves the next
free slot atomically, on Redis's clock (the workers' clocks may disagree), so the host sees
at most ``rate`` request starts per second from the whole deployment.

Redis unreachable is no reason to fail a migration: the fetcher falls back to its own
process-wide spacing (logged once), which is polite per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)

# Reserve the next slot of KEYS[1] (ARGV[1]: seconds between slots); returns how long the
# caller waits for it. The key expires once its last slot is past.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%.6f', slot + interval),
           'PX', math.floor((slot + interval - now) * 1000) + 1000)
return string.format('%.6f', slot - now)
"""


class SharedHostRateLimiter:
    """``HostRateLimiter``'s interface (``wait``, ``slow_down``) on slots kept in Redis."""

    def __init__(self, client: redis.Redis, interval: float, *, fallback: Any,
                 key_prefix: str = "wpmigrate:rate:", sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.interval = interval
        self.fallback = fallback  # a HostRateLimiter: used while Redis cannot be reached
        self.key_prefix = key_prefix
        self._sleep = sleep
        self._reserve = client.register_script(_RESERVE)
        self._min_interval: dict[str, float] = {}
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_url(cls, url: str, interval: float, *, fallback: Any) -> SharedHostRateLimiter:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), interval,
                   fallback=fallback)

    def slow_down(self, host: str, interval: float) -> None:
        """Space this host's requests at least ``interval`` s apart (robots Crawl-delay). Every
        fetcher of the host reads the same robots.txt, so all of them ask for the same."""
        with self._lock:
            self._min_interval[host] = max(interval, self._min_interval.get(host, 0.0))
        self.fallback.slow_down(host, interval)

    def wait(self, host: str) -> None:
        interval = max(self.interval, self._min_interval.get(host, 0.0))
        try:
            wait = float(self._reserve(keys=[self.key_prefix + host], args=[f"{interval:.6f}"]))
        except redis.RedisError as err:
            if not self._warned:
                self._warned = True
                log.warning("shared rate limit unavailable (%s): spacing this process's requests only",
                            type(err).__name__)
            self.fallback.wait(host)
            return
        if wait > 0:
            self._sleep(wait)
