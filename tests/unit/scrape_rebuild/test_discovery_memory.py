"""Discovery's memory is bounded by its limits, not by the sitemaps (issue 10 item 2).

A site served on 127.0.0.1 without a REST API lists 20,000 posts in four WordPress post
sitemaps, 6,000 off-site entries beside them and 10,000 URLs in two generic sitemaps
(about 3.8 MB of XML). With ``max_pages=100`` every structure discovery keeps must stay
within the limits, and what lies beyond them is counted. Memory is measured with
tracemalloc (bytes, not time)."""

from __future__ import annotations

import contextlib
import threading
import tracemalloc
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from typing import Any

import pytest

from tests.support.discovery_scope import default_scope
from wpmigrate.scrape_rebuild import discovery
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.web.url_guard import guarded_client

LOOPBACK = ("127.0.0.0/8",)
POST_SITEMAPS, POSTS_EACH, OFF_SITE_EACH = 4, 5_000, 1_500
GENERIC_SITEMAPS, GENERIC_EACH = 2, 5_000
MAX_PAGES = 100
MEMORY_BOUND = 5 * 1024 * 1024  # before: 8.2 MB; bounded: 2.6 MB


def _urlset(locs: Iterable[str]) -> bytes:
    body = "".join(f"<url><loc>{loc}</loc><lastmod>2026-01-01</lastmod></url>" for loc in locs)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9">{body}</urlset>').encode()


def _site_files(origin: str) -> dict[str, bytes]:
    names = [f"/wp-sitemap-posts-post-{n}.xml" for n in range(1, POST_SITEMAPS + 1)]
    names += [f"/sitemap-extra-{n}.xml" for n in range(1, GENERIC_SITEMAPS + 1)]
    index = "".join(f"<sitemap><loc>{origin}{name}</loc></sitemap>" for name in names)
    files = {
        "/robots.txt": b"User-agent: *\nAllow: /\n",
        "/": b'<html><head><title>Big</title></head><body class="home blog"><a href="/about/">About</a>'
             b"</body></html>",
        "/wp-sitemap.xml": ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                            f'sitemap/0.9">{index}</sitemapindex>').encode(),
    }
    for n in range(1, POST_SITEMAPS + 1):
        on_site = (f"{origin}/{n}/a-post-with-a-fairly-ordinary-slug-{i}/" for i in range(POSTS_EACH))
        off_site = (f"https://cdn.example/{n}/elsewhere-{i}/" for i in range(OFF_SITE_EACH))
        files[f"/wp-sitemap-posts-post-{n}.xml"] = _urlset(chain(on_site, off_site))
    for n in range(1, GENERIC_SITEMAPS + 1):
        files[f"/sitemap-extra-{n}.xml"] = _urlset(f"{origin}/extra-{n}/entry-{i}/"
                                                   for i in range(GENERIC_EACH))
    return files


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        ctype = "text/html" if self.path == "/" or body is None else (
            "text/plain" if self.path.endswith(".txt") else "application/xml")
        body = body if body is not None else b"<h1>404</h1>"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture(scope="module")
def big_site() -> Iterator[Any]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    srv.files = _site_files(srv.url)  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_discovery_memory_is_bounded_by_the_limits(big_site: Any) -> None:
    served = sum(len(body) for body in big_site.files.values())
    assert served > 3_500_000
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=1000)
        fetcher.robots(big_site.url)  # outside the measurement
        tracemalloc.start()
        try:
            result = discovery.discover(fetcher, big_site.url + "/", max_pages=MAX_PAGES, max_media=100,
                                        **default_scope())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"discovery peaked at {peak:,} bytes for {served:,} bytes of sitemaps"

    # Kept: the limits' worth; counted: the rest.
    assert len(result.items) == MAX_PAGES
    assert result.limits["pages_limit_hit"]
    assert result.limits["pages_not_migrated"] == POST_SITEMAPS * POSTS_EACH - MAX_PAGES
    by_reason: dict[str, int] = {}
    for skipped in result.skipped:
        by_reason[skipped.reason] = by_reason.get(skipped.reason, 0) + 1
    assert by_reason.get("off_site", 0) <= discovery.MAX_SKIPPED_PER_REASON
    unlisted = POST_SITEMAPS * OFF_SITE_EACH - by_reason["off_site"]
    assert any(f"{unlisted:,} more" in note and "off_site" in note for note in result.notes), result.notes


LINKS = 3000
FETCH_BUDGET = 40


@pytest.fixture
def many_links() -> Iterator[Any]:
    """A home page linking 3,000 archive pages (no content of their own)."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    archive = b'<html><body class="archive category"><a href="/">Home</a></body></html>'
    links = "".join(f'<a href="/topic-{i}/">{i}</a>' for i in range(LINKS)).encode()
    srv.files = {"/robots.txt": b"User-agent: *\nAllow: /\n",  # type: ignore[attr-defined]
                 "/": b'<html><body class="home blog">' + links + b"</body></html>",
                 **{f"/topic-{i}/": archive for i in range(LINKS)}}
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_the_crawl_queue_holds_no_more_than_the_fetches_left(many_links: Any) -> None:
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=1000)
        result = discovery.discover(fetcher, many_links.url + "/", max_pages=10, max_fetches=FETCH_BUDGET,
                                    **default_scope())
    assert result.limits["fetch_budget_hit"]
    # The links past the budget were counted, not queued (the first page's links fill it).
    assert result.crawl_filtered["crawl_budget"] == LINKS - FETCH_BUDGET
    assert any("budget" in note for note in result.notes)
