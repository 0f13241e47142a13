"""The source's politeness limit shared by every worker and every run, through Redis.

``HostRateLimiter`` spaces the requests of one process. On Celery, the tasks of one run
and the runs of one source host live in several processes on several machines, and each
would grant the host the full rate. With ``WPMIGRATE_RATE_LIMIT_REDIS_URL`` set, every
fetcher takes its slots from one Redis key per host instead. A Lua script reserves the next
free slot atomically, on Redis's clock (the workers' clocks may disagree), so the host sees
at most ``rate`` request starts per second from the whole deployment.

Redis is an optimisation, never a reason to fail or stall a migration. Any error or any
reply that is not a wait in ``[0, MAX_QUEUE intervals]`` makes the fetcher fall back to its
own process-wide spacing (polite per process, logged) and leave Redis alone for
``COOL_DOWN`` seconds, so a hanging Redis costs one short timeout per cool-down, not one
per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# A wait is never longer than this many spacing intervals (1.8 s at the default rate, 160 s
# under the largest Crawl-delay we obey). Each waiting fetcher of a host holds one slot ahead,
# and far fewer than this fetch from one host at once (the source pool's slots, one or two
# threads per task), so a longer wait means a corrupted key, not a queue.
MAX_QUEUE = 16
# After Redis failed or answered nonsense, it is left alone for this long (seconds).
COOL_DOWN = 30.0
# Connect and read timeouts (seconds), with no retry: Redis sits next to the workers and
# answers in milliseconds; a slower one is treated as down rather than stalling each request.
TIMEOUT = 1.0
# The script's replies are rounded to microseconds; this absorbs that rounding.
_ROUNDING = 1e-3

# A stored slot further ahead than this (seconds) is corrupt, not a queue. Far beyond
# MAX_QUEUE on purpose: a long but real queue must never be reset (that would let every
# waiting fetcher start at once); a fetcher asked to wait longer than MAX_QUEUE intervals
# spaces its own requests instead.
CORRUPT_AFTER = 3600.0

# Reserve the next slot of KEYS[1] (ARGV[1]: seconds between slots, ARGV[2]: CORRUPT_AFTER);
# returns how long the caller waits for it. A stored slot that is not a number or lies
# further ahead than ARGV[2] is corrupt and restarts from now, so one bad value does not
# hold the host's key forever. The key expires once its last slot is past.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[1]) or '') or 0
if stored ~= stored or stored > now + tonumber(ARGV[2]) then stored = 0 end
local slot = math.max(now, stored)
redis.call('SET', KEYS[1], string.format('%.6f', slot + interval),
           'PX', math.floor((slot + interval - now) * 1000) + 1000)
return string.format('%.6f', slot - now)
"""


class SharedHostRateLimiter:
    """``HostRateLimiter``'s interface (``wait``, ``slow_down``) on slots kept in Redis."""

    def __init__(self, client: redis.Redis, interval: float, *, fallback: Any,
                 key_prefix: str = "wpmigrate:rate:", sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.interval = interval
        self.fallback = fallback  # a HostRateLimiter: used while Redis cannot be trusted
        self.key_prefix = key_prefix
        self._sleep = sleep
        self._clock = clock
        self._reserve = client.register_script(_RESERVE)
        self._min_interval: dict[str, float] = {}
        self._lock = threading.Lock()
        self._skip_until = -math.inf  # on self._clock: Redis is not asked before then

    @classmethod
    def from_url(cls, url: str, interval: float, *, fallback: Any) -> SharedHostRateLimiter:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                                      retry=Retry(NoBackoff(), 0))
        return cls(client, interval, fallback=fallback)

    def slow_down(self, host: str, interval: float) -> None:
        """Space this host's requests at least ``interval`` s apart (robots Crawl-delay). Every
        fetcher of the host reads the same robots.txt, so all of them ask for the same."""
        with self._lock:
            self._min_interval[host] = max(interval, self._min_interval.get(host, 0.0))
        self.fallback.slow_down(host, interval)

    def wait(self, host: str) -> None:
        interval = max(self.interval, self._min_interval.get(host, 0.0))
        wait = self._shared_wait(host, interval)
        if wait is None:
            self.fallback.wait(host)
        elif wait > 0:
            self._sleep(wait)

    def _shared_wait(self, host: str, interval: float) -> float | None:
        """The wait Redis assigns, at most ``MAX_QUEUE`` intervals; None: space locally."""
        if self._clock() < self._skip_until:
            return None
        longest = MAX_QUEUE * interval
        try:
            reply = self._reserve(keys=[self.key_prefix + host],
                                  args=[f"{interval:.6f}", f"{CORRUPT_AFTER:.6f}"])
            wait = float(reply)
        except Exception as err:  # any failure of the optional shared limit: space locally
            self._give_up(type(err).__name__)
            return None
        if not 0.0 <= wait <= longest + _ROUNDING:  # also false for NaN
            self._give_up(f"reply {str(reply)[:40]!r}")
            return None
        return min(wait, longest)

    def _give_up(self, why: str) -> None:
        with self._lock:
            now = self._clock()
            if now < self._skip_until:  # another thread already gave up
                return
            self._skip_until = now + COOL_DOWN
        log.warning("shared rate limit unavailable (%s): spacing this process's requests only for %.0f s",
                    why, COOL_DOWN)
