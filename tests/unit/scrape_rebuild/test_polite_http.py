"""PoliteFetcher against a real HTTP server on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.robotparser
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.polite_http import USER_AGENT, HostRateLimiter, PoliteFetcher, SkipUrl
from wpmigrate.web.url_guard import guarded_client

LOOPBACK = ("127.0.0.0/8",)
ROBOTS = b"""User-agent: *
Disallow: /private/

User-agent: wpmigrate
Disallow: /private/
Disallow: /not-for-wpmigrate/

Sitemap: http://example.test/sitemap.xml
"""


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}) and "Transfer-Encoding" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        with srv.lock:
            srv.log.append((time.monotonic(), self.path, self.headers.get("User-Agent", "")))
            srv.hits[self.path] += 1
            hits = srv.hits[self.path]
        if self.path == "/robots.txt":
            self._send(200, ROBOTS, {"Content-Type": "text/plain"})
        elif self.path == "/flaky":
            if hits <= 2:
                self._send(503, b"busy", {"Retry-After": "0"})
            else:
                self._send(200, b"finally")
        elif self.path == "/always-429":
            self._send(429, b"slow down", {"Retry-After": "0"})
        elif self.path == "/big-declared":
            self._send(200, b"x" * 3_000_000, {"Content-Type": "application/octet-stream"})
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            try:
                for _ in range(64):  # 4 MiB, no Content-Length
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/to-private":
            self._send(302, b"", {"Location": "/private/secret"})
        elif self.path == "/hop":
            self._send(301, b"", {"Location": "/landing"})
        elif self.path == "/image":
            self._send(200, b"\x89PNG....", {"Content-Type": "image/png"})
        else:
            self._send(200, b"<html><body>page</body></html>", {"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def server() -> Iterator[Any]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()  # type: ignore[attr-defined]
    srv.log = []  # type: ignore[attr-defined]
    srv.hits = Counter()  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client() -> Iterator[Any]:
    with guarded_client(LOOPBACK, read_only=True, timeout=10.0) as c:
        yield c


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_rate_limit_10_per_second(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=10)
    t0 = time.monotonic()
    for i in range(25):
        assert fetcher.get(f"{server.url}/page-{i}").status_code == 200
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.2  # 26 requests (robots.txt too) spaced >= 0.1 s
    assert fetcher.request_count == 26
    assert fetcher.stats()["requests_by_host"] == {server.url: 26}
    assert _max_in_window([t for t, _, _ in server.log]) <= 10
    assert {ua for _, _, ua in server.log} == {USER_AGENT}


def test_rate_limit_is_shared_between_threads(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=10)
    fetcher.get(f"{server.url}/warm-up")  # robots.txt + 1
    server.log.clear()
    t0 = time.monotonic()
    threads = [threading.Thread(target=lambda n=n: [fetcher.get(f"{server.url}/t{n}-{i}") for i in range(5)])
               for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 >= 1.8  # 20 requests at 10/s, whatever the thread count
    assert _max_in_window([t for t, _, _ in server.log]) <= 10


def test_limiter_spacing_with_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    limiter = HostRateLimiter(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait("h")
    limiter.wait("other-host")  # hosts do not share a budget
    assert slept == pytest.approx([limiter.interval, 2 * limiter.interval])


def test_robots_disallow_is_honoured(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=100)
    with pytest.raises(SkipUrl) as info:
        fetcher.get(f"{server.url}/private/secret")
    assert info.value.skipped.reason == "robots_disallowed"
    with pytest.raises(SkipUrl):  # the group for our own product token applies
        fetcher.get(f"{server.url}/not-for-wpmigrate/x")
    with pytest.raises(SkipUrl):  # a redirect into a disallowed path stops before that hop
        fetcher.get(f"{server.url}/to-private")
    assert fetcher.get(f"{server.url}/public").status_code == 200
    paths = [p for _, p, _ in server.log]
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith(("/private", "/not-for-wpmigrate"))]
    assert fetcher.site_maps(server.url + "/") == ["http://example.test/sitemap.xml"]
    assert isinstance(info.value, MigrationError) and info.value.permanent


def test_oversize_responses_are_aborted(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=100, max_bytes=1_000_000)
    with pytest.raises(SkipUrl) as declared:
        fetcher.get(f"{server.url}/big-declared")
    assert declared.value.skipped.reason == "too_large"
    with pytest.raises(SkipUrl) as streamed:
        fetcher.get(f"{server.url}/big-chunked")
    assert streamed.value.skipped.reason == "too_large"
    assert len(fetcher.get(f"{server.url}/big-declared", max_bytes=4_000_000).content) == 3_000_000


def test_unwanted_content_type_is_not_read(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=100)
    with pytest.raises(SkipUrl) as info:
        fetcher.get(f"{server.url}/image", content_types=("text/html",))
    assert info.value.skipped.reason == "unwanted_content_type"
    page = fetcher.get(f"{server.url}/page", content_types=("text/html",))
    assert page.content_type == "text/html" and "page" in page.text


def test_retry_on_503_then_success(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=100)
    result = fetcher.get(f"{server.url}/flaky")
    assert (result.status_code, result.content) == (200, b"finally")
    assert server.hits["/flaky"] == 3
    assert fetcher.request_count == 4  # robots.txt + 3 attempts


def test_status_still_failing_after_retries_is_returned(server: Any, client: Any) -> None:
    waits: list[float] = []
    fetcher = PoliteFetcher(client, rate_per_second=100, attempts=3, sleep=waits.append)
    assert fetcher.get(f"{server.url}/always-429").status_code == 429
    assert server.hits["/always-429"] == 3
    assert waits.count(0.0) == 2  # Retry-After: 0 honoured


def test_redirects_are_followed_hop_by_hop(server: Any, client: Any) -> None:
    fetcher = PoliteFetcher(client, rate_per_second=100)
    result = fetcher.get(f"{server.url}/hop")
    assert result.url == f"{server.url}/landing" and result.redirects == 1
    assert fetcher.request_count == 3  # robots.txt, /hop, /landing: every hop counted
    with fetcher.open_stream(f"{server.url}/hop") as response:
        assert response.status_code == 200 and response.read().startswith(b"<html>")


def test_unreachable_host_raises_after_retries(client: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    fetcher = PoliteFetcher(client, rate_per_second=100, attempts=3, respect_robots=False,
                            sleep=lambda _s: None)
    with pytest.raises(MigrationError) as info:
        fetcher.get(f"http://127.0.0.1:{port}/")
    assert info.value.code == ErrorCode.SOURCE_UNREACHABLE and not info.value.permanent
    assert fetcher.request_count == 3


def test_unreachable_robots_txt_disallows_everything(client: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetcher = PoliteFetcher(client, rate_per_second=100, attempts=2, sleep=lambda _s: None)
    with pytest.raises(SkipUrl) as info:  # RFC 9309: unreachable robots.txt means no crawling
        fetcher.get(f"http://127.0.0.1:{port}/page")
    # ... and the reason reported is the real one: the host, not its rules.
    assert info.value.skipped.reason == "host_unreachable"
    assert "unreachable after 2 attempts" in info.value.skipped.detail
    assert fetcher.request_count == 2  # robots.txt tried; the page never requested


# WordPress core's virtual robots.txt plus what SEO plugins and site owners commonly add.
WORDPRESS_ROBOTS = """User-agent: *
Disallow: /wp-admin/
Allow: /wp-admin/admin-ajax.php
Disallow: /*?s=
Disallow: /*?replytocom=
Disallow: /*.pdf$
Crawl-delay: 0.5

Sitemap: https://blog.example/wp-sitemap.xml
"""
# path -> allowed, as RFC 9309 reads WORDPRESS_ROBOTS (longest match wins; * and $ in paths)
RFC_9309_ANSWERS = {
    "/wp-admin/admin-ajax.php": True,  # the longer Allow beats Disallow: /wp-admin/
    "/wp-admin/options.php": False,
    "/?s=coffee": False,
    "/blog/?s=coffee": False,
    "/hello-world/?replytocom=5": False,
    "/wp-content/uploads/menu.pdf": False,
    "/wp-content/uploads/menu.pdf?v=2": True,  # $ anchors the end
    "/pdf-guide/": True,
    "/about/": True,
}


def test_robots_txt_longest_match_wildcards_and_end_anchor() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text=WORDPRESS_ROBOTS, headers={"Content-Type": "text/plain"})
        return httpx.Response(200, text="ok")

    waits: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as mock:
        fetcher = PoliteFetcher(mock, rate_per_second=100, sleep=waits.append)
        answers = {path: fetcher.allowed("https://blog.example" + path) for path in RFC_9309_ANSWERS}
        assert answers == RFC_9309_ANSWERS
        assert fetcher.site_maps("https://blog.example/") == ["https://blog.example/wp-sitemap.xml"]
        fetcher.get("https://blog.example/about/")
        fetcher.get("https://blog.example/contact/")
    assert waits[-1] > 0.4  # a fractional Crawl-delay spaces the requests too

    # Why not urllib.robotparser: first match wins, and * and $ are taken literally.
    stdlib = urllib.robotparser.RobotFileParser()
    stdlib.parse(WORDPRESS_ROBOTS.splitlines())
    wrong = {path for path, ok in RFC_9309_ANSWERS.items()
             if stdlib.can_fetch("wpmigrate", "https://blog.example" + path) != ok}
    assert wrong == {"/wp-admin/admin-ajax.php", "/?s=coffee", "/blog/?s=coffee",
                     "/hello-world/?replytocom=5", "/wp-content/uploads/menu.pdf"}
    assert stdlib.crawl_delay("wpmigrate") is None


def test_robots_txt_is_read_once_per_run(server: Any, client: Any) -> None:
    """discover keeps its fetcher's robots.txt answers in the run's site record; the later
    tasks' fetchers start from them instead of asking the source again."""
    first = PoliteFetcher(client, rate_per_second=100)
    assert first.get(f"{server.url}/public").status_code == 200
    stored = json.loads(json.dumps(first.robots_rules()))  # as site.json carries it
    assert list(stored) == [server.url] and "Disallow: /private/" in stored[server.url]["rules"]

    later = PoliteFetcher(client, rate_per_second=100, robots=stored)
    assert later.get(f"{server.url}/public").status_code == 200
    with pytest.raises(SkipUrl) as info:
        later.get(f"{server.url}/private/secret")
    assert info.value.skipped.reason == "robots_disallowed"
    assert later.site_maps(server.url + "/") == ["http://example.test/sitemap.xml"]
    assert server.hits["/robots.txt"] == 1 and server.hits["/private/secret"] == 0
    assert later.request_count == 1

    # RFC 9309 2.4: an answer older than 24 hours is asked again.
    stale = {host: {**kept, "fetched_at": kept["fetched_at"] - 25 * 3600} for host, kept in stored.items()}
    assert PoliteFetcher(client, rate_per_second=100, robots=stale).get(f"{server.url}/public").ok
    assert server.hits["/robots.txt"] == 2


def test_an_unreachable_robots_txt_is_not_passed_on(client: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetcher = PoliteFetcher(client, rate_per_second=100, attempts=1, sleep=lambda _s: None)
    assert not fetcher.allowed(f"http://127.0.0.1:{port}/page")
    assert fetcher.robots_rules() == {}  # the next task asks again
