"""The source's politeness limit across fetchers that share nothing but a real Redis (as the
tasks of two runs on two Celery workers do): the source's log shows no second with more
than 10 request starts. The same fetchers with their own limits each break it."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.local_http import RecordingServer, recording_server
from wpmigrate.scrape_rebuild.polite_http import DEFAULT_RATE, HostRateLimiter, PoliteFetcher, RateLimiter
from wpmigrate.scrape_rebuild.shared_rate_limit import SharedHostRateLimiter
from wpsandbox.services import free_ports, stop_group, wait_for_port

FETCHERS, REQUESTS = 4, 12


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
