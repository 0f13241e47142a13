"""An oversized robots.txt (issue 10 item 3), served by a real HTTP server on 127.0.0.1:
RFC 9309 2.5 has crawlers parse at least its first 500 KiB and use them."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.web.url_guard import guarded_client

LOOPBACK = ("127.0.0.0/8",)
KIB = 1024
COMMENT = b"# " + b"a comment line a site owner or a plugin wrote; " * 2 + b"\n"


def _padded(head: bytes, size: int, tail: bytes = b"") -> bytes:
    """``head``, then comment lines up to ``size`` bytes, then ``tail``."""
    lines = (size - len(head)) // len(COMMENT)
    return head + COMMENT * lines + tail


# The input: only "Allow: /" plus comments, over 1 MB.
ALLOW_ALL_1MB = _padded(b"User-agent: *\nAllow: /\n", 1_100_000)
# Rules at the top, then 2 MB of comments, then a rule that lies beyond what is parsed.
RULES_THEN_PADDING = _padded(b"User-agent: *\nDisallow: /private/\nAllow: /\n", 2 * 1024 * KIB,
                             b"Disallow: /far-down/\n")


def _cut_rule() -> bytes:
    """A robots.txt whose line "Disallow: /private-area/" straddles 512 KiB so that the
    first 512 KiB end in "Disallow: /": parsed as it stands, it would disallow the site."""
    head = b"User-agent: *\n"
    body = _padded(head, 512 * KIB - 100)
    body += b"#" * (512 * KIB - len(body) - len(b"Disallow: /") - 1) + b"\n"
    return body + b"Disallow: /private-area/\n" + COMMENT * 10


CUT_RULE = _cut_rule()
BODIES = {"allow-all": ALLOW_ALL_1MB, "rules": RULES_THEN_PADDING, "cut": CUT_RULE}


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        if self.path == "/robots.txt":
            body = BODIES[self.server.robots]
            content_type = "text/plain"
        else:
            body, content_type = b"<html><body>page</body></html>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[Any]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.hits = Counter()  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def fetcher() -> Iterator[PoliteFetcher]:
    with guarded_client(LOOPBACK, read_only=True, timeout=10.0) as client:
        yield PoliteFetcher(client, rate_per_second=1000)


def test_the_inputs_are_over_the_size() -> None:
    assert len(ALLOW_ALL_1MB) > 1024 * KIB and len(RULES_THEN_PADDING) > 2 * 1000 * KIB
    assert CUT_RULE[:512 * KIB].endswith(b"\nDisallow: /")


def test_a_robots_txt_over_1_mb_of_allow_and_comments_allows_the_site(site: Any,
                                                                      fetcher: PoliteFetcher) -> None:
    site.robots = "allow-all"
    assert fetcher.allowed(f"{site.url}/hello-world/")
    assert fetcher.get(f"{site.url}/hello-world/").status_code == 200
    assert site.hits["/robots.txt"] == 1 and site.hits["/hello-world/"] == 1


def test_the_first_500_kib_of_an_oversized_robots_txt_are_obeyed(site: Any, fetcher: PoliteFetcher) -> None:
    site.robots = "rules"
    assert fetcher.allowed(f"{site.url}/about/")
    with pytest.raises(SkipUrl) as info:
        fetcher.get(f"{site.url}/private/x")
    assert info.value.skipped.reason == "robots_disallowed"
    assert site.hits["/private/x"] == 0


def test_a_rule_cut_at_the_limit_is_left_out_not_shortened(site: Any, fetcher: PoliteFetcher) -> None:
    site.robots = "cut"
    assert fetcher.allowed(f"{site.url}/about/")  # not "Disallow: /"
