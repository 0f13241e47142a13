"""The source's politeness limit across fetchers that share nothing but a real Redis (as the
tasks of two runs on two Celery workers do): the source's log shows no second with more
than 10 request starts. The same fetchers with their own limits each break it. A Redis that
hangs, holds a corrupt slot or answers nonsense never stalls a fetcher: it spaces locally."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from tests.support.local_http import RecordingServer, recording_server
from wpmigrate.scrape_rebuild.polite_http import DEFAULT_RATE, HostRateLimiter, PoliteFetcher, RateLimiter
from wpmigrate.scrape_rebuild.shared_rate_limit import COOL_DOWN, MAX_QUEUE, TIMEOUT, SharedHostRateLimiter
from wpsandbox.services import free_ports, stop_group, wait_for_port

FETCHERS, REQUESTS = 4, 12
HOST = "source.example"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: scripts/setup installs Debian's redis-server")
    (port,) = free_ports(1)
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/1"
    stop_group(proc.pid)


def _busiest_second(server: RecordingServer) -> int:
    starts = sorted(s.at for s in server.seen if s.path.startswith("/page"))
    return max(sum(1 for t in starts[i:] if t < start + 1.0) for i, start in enumerate(starts))


def _crawl(server: RecordingServer, limiters: list[RateLimiter]) -> None:
    """Each fetcher in its own thread, with its own client and limiter: nothing in common
    but what the limiter shares."""
    def crawl(n: int, limiter: RateLimiter) -> None:
        with httpx.Client() as client:
            fetcher = PoliteFetcher(client, limiter=limiter, respect_robots=False)
            for i in range(REQUESTS):
                assert fetcher.get(server.url(f"/page/{n}/{i}")).status_code == 200

    threads = [threading.Thread(target=crawl, args=(n, limiter)) for n, limiter in enumerate(limiters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([s for s in server.seen if s.path.startswith("/page")]) == len(limiters) * REQUESTS


def test_fetchers_sharing_redis_keep_the_host_at_its_rate(redis_url: str) -> None:
    with recording_server() as server:
        shared = []
        for _ in range(FETCHERS):
            local = HostRateLimiter(DEFAULT_RATE)
            shared.append(SharedHostRateLimiter.from_url(redis_url, local.interval, fallback=local))
        _crawl(server, shared)
        assert _busiest_second(server) <= DEFAULT_RATE


def test_fetchers_with_their_own_limits_overrun_it() -> None:
    """What one limiter per process does on Celery: the check above can fail."""
    with recording_server() as server:
        _crawl(server, [HostRateLimiter(DEFAULT_RATE) for _ in range(FETCHERS)])
        assert _busiest_second(server) > DEFAULT_RATE * 2


def test_redis_gone_each_fetcher_still_spaces_its_requests(caplog) -> None:
    (closed,) = free_ports(1)
    local = HostRateLimiter(DEFAULT_RATE)
    limiter = SharedHostRateLimiter.from_url(f"redis://127.0.0.1:{closed}/1", local.interval, fallback=local)
    with recording_server() as server, caplog.at_level(logging.WARNING):
        _crawl(server, [limiter, limiter])  # two threads of one process, as a task's may be
        assert _busiest_second(server) <= DEFAULT_RATE  # the process's own spacing holds
    assert caplog.text.count("shared rate limit unavailable") == 1


class _CountingLocal(HostRateLimiter):
    """The fallback, counting the requests it spaced."""

    def __init__(self) -> None:
        super().__init__(DEFAULT_RATE, sleep=lambda _: None)
        self.waits = 0

    def wait(self, host: str) -> None:
        self.waits += 1
        super().wait(host)


def test_a_far_future_slot_in_redis_never_asks_for_a_long_wait(redis_url: str) -> None:
    """A key holding a slot 9.8e10 s ahead (corrupt, or written by something else) asked
    every fetcher of the host to sleep that long; the script restarts the key from now."""
    client = redis.Redis.from_url(redis_url)
    client.set("wpmigrate:rate:" + HOST, "1e11")
    asked: list[float] = []
    local = _CountingLocal()
    limiter = SharedHostRateLimiter(client, local.interval, fallback=local, sleep=asked.append)
    for _ in range(5):
        limiter.wait(HOST)
    assert asked and max(asked) <= MAX_QUEUE * local.interval
    assert local.waits == 0  # the shared limit still spaces: the key is repaired, not abandoned
    assert float(client.get("wpmigrate:rate:" + HOST) or 0) < time.time() + MAX_QUEUE * local.interval


def test_a_long_real_queue_is_never_reset(redis_url: str) -> None:
    """A slot a minute ahead is a long queue, not corruption: resetting it would let every
    waiting fetcher start at once. This fetcher spaces its own requests instead."""
    client = redis.Redis.from_url(redis_url)
    ahead = float(client.time()[0]) + 60.0
    client.set("wpmigrate:rate:" + HOST, f"{ahead:.6f}")
    asked: list[float] = []
    local = _CountingLocal()
    SharedHostRateLimiter(client, local.interval, fallback=local, sleep=asked.append).wait(HOST)
    assert local.waits == 1 and asked == []
    assert float(client.get("wpmigrate:rate:" + HOST) or 0) >= ahead


@pytest.mark.parametrize("reply", ["nan", b"inf", "-inf", None, "a string", "-5", "1e300", 9.8e10])
def test_a_reply_that_is_not_a_sane_wait_means_local_spacing(redis_url: str, reply: object, caplog) -> None:
    asked: list[float] = []
    local = _CountingLocal()
    limiter = SharedHostRateLimiter(redis.Redis.from_url(redis_url), local.interval, fallback=local,
                                    sleep=asked.append)
    limiter._reserve = lambda **_: reply  # what a broken or foreign script would answer
    with caplog.at_level(logging.WARNING):
        limiter.wait(HOST)
    assert local.waits == 1 and asked == []
    assert "shared rate limit unavailable" in caplog.text


@contextmanager
def _hanging_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung Redis):
    yields its port and the connections it accepted."""
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)

        def serve() -> None:
            while server.fileno() != -1:
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue
                except OSError:
                    return

        threading.Thread(target=serve, daemon=True).start()
        try:
            yield server.getsockname()[1], accepted
        finally:
            for conn in accepted:
                conn.close()


def test_a_hanging_redis_costs_one_short_timeout_per_cool_down() -> None:
    """Each request used to wait out the 5 s socket timeout (and redis-py's retries) again;
    now the first one gives up after TIMEOUT and the next ones space locally without
    connecting, until the cool-down is over."""
    now = [0.0]
    local = _CountingLocal()
    with _hanging_server() as (port, accepted):
        url = f"redis://127.0.0.1:{port}/1"
        limiter = SharedHostRateLimiter.from_url(url, local.interval, fallback=local)
        limiter._clock = lambda: now[0]
        requests = 20
        worker = threading.Thread(target=lambda: [limiter.wait(HOST) for _ in range(requests)], daemon=True)
        worker.start()
        worker.join(timeout=TIMEOUT * 3 + requests * local.interval)  # the old code: > 100 s
        assert not worker.is_alive(), "the fetcher kept waiting on the hung Redis"
        assert len(accepted) == 1 and local.waits == requests

        now[0] += COOL_DOWN + 1  # cool-down over: Redis is asked again (and hangs again)
        limiter.wait(HOST)
        assert len(accepted) == 2 and local.waits == requests + 1
