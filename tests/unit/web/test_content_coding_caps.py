"""Size caps hold for compressed bodies (issue 10 item 1), against a real HTTP server on
127.0.0.1: a two-layer ``Content-Encoding: gzip, gzip`` response and a one-layer gzip bomb,
read through ``PoliteFetcher.get``, its ``open_stream`` (media download) and the source
probe's ``read_capped``. Memory is measured with tracemalloc (bytes, not time)."""

from __future__ import annotations

import contextlib
import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wpmigrate.scrape_rebuild.media_download import download_one
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.records import Skipped
from wpmigrate.web.capped_body import ContentCodingError, read_capped
from wpmigrate.web.url_guard import guarded_client

LOOPBACK = ("127.0.0.0/8",)
INFLATED = 64 * 1024 * 1024  # what the bombs inflate to
MEMORY_BOUND = 8 * 1024 * 1024  # a 1 MB cap must not cost more than this


def _gzip_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed in steps (the zeros are never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    out = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(out) + packer.flush()


ONE_LAYER = _gzip_zeros(INFLATED)  # about 64 KB on the wire
TWO_LAYERS = gzip.compress(ONE_LAYER, 9)  # a few hundred bytes on the wire
PAGE = b"<html><body>" + b"compressed page " * 2000 + b"</body></html>"

ROUTES: dict[str, tuple[bytes, dict[str, str]]] = {
    "/robots.txt": (b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}),
    "/gzip-gzip": (TWO_LAYERS, {"Content-Type": "image/png", "Content-Encoding": "gzip, gzip"}),
    "/gzip-twice": (TWO_LAYERS, {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
    "/bomb": (ONE_LAYER, {"Content-Type": "image/png", "Content-Encoding": "gzip"}),
    "/page-gzip": (gzip.compress(PAGE), {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
    "/page-deflate": (zlib.compress(PAGE), {"Content-Type": "text/html", "Content-Encoding": "deflate"}),
    "/page-raw-deflate": (zlib.compress(PAGE, wbits=-zlib.MAX_WBITS),
                          {"Content-Type": "text/html", "Content-Encoding": "deflate"}),
    "/page-identity": (PAGE, {"Content-Type": "text/html", "Content-Encoding": "identity"}),
    "/not-gzip": (b"this is not gzip at all", {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body, headers = ROUTES.get(self.path, (b"missing", {"Content-Type": "text/plain"}))
        self.send_response(200 if self.path in ROUTES else 404)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def fetcher() -> Iterator[PoliteFetcher]:
    with guarded_client(LOOPBACK, read_only=True, timeout=10.0) as client:
        yield PoliteFetcher(client, rate_per_second=1000, max_bytes=1_000_000)


def _peak(work: Callable[[], Any]) -> tuple[Any, int]:
    """(what ``work`` returned or raised, the peak bytes allocated meanwhile)."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = work()
        except Exception as exc:  # the outcome is what the test asserts on
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_bombs_are_what_the_issue_describes() -> None:
    assert len(TWO_LAYERS) < 1000 and len(ONE_LAYER) < 100_000
    assert len(gzip.decompress(gzip.decompress(TWO_LAYERS))) == INFLATED


def test_two_content_coding_layers_are_refused_without_inflating(server: str, fetcher: PoliteFetcher) -> None:
    fetcher.get(f"{server}/robots.txt")  # robots.txt read outside the measurement
    outcome, peak = _peak(lambda: fetcher.get(f"{server}/gzip-gzip"))
    assert isinstance(outcome, SkipUrl) and outcome.skipped.reason == "content_encoding"
    assert "gzip, gzip" in outcome.skipped.detail
    assert peak < MEMORY_BOUND, f"{peak:,} bytes allocated for a refused 1 MB-capped body"


def test_a_body_gzipped_twice_under_one_header_stops_at_the_cap(server: str,
                                                                fetcher: PoliteFetcher) -> None:
    # One layer declared: its output (a gzip stream) is counted like any body, and never
    # inflated again.
    result = fetcher.get(f"{server}/gzip-twice", max_bytes=100_000)
    assert result.content == ONE_LAYER


def test_a_one_layer_bomb_is_capped_as_it_inflates(server: str, fetcher: PoliteFetcher) -> None:
    fetcher.get(f"{server}/robots.txt")
    outcome, peak = _peak(lambda: fetcher.get(f"{server}/bomb"))
    assert isinstance(outcome, SkipUrl) and outcome.skipped.reason == "too_large"
    assert peak < MEMORY_BOUND, f"{peak:,} bytes allocated for a 1 MB-capped body"


def test_media_download_reads_through_the_same_bounds(server: str, fetcher: PoliteFetcher,
                                                      tmp_path: Path) -> None:
    fetcher.get(f"{server}/robots.txt")
    stacked, peak = _peak(lambda: download_one(fetcher.open_stream, f"{server}/gzip-gzip", tmp_path))
    # A refused body is a SkipUrl from open_stream (download_all records it as media_refused).
    assert isinstance(stacked, SkipUrl) and stacked.skipped.reason == "content_encoding"
    assert peak < MEMORY_BOUND
    bomb, peak = _peak(lambda: download_one(fetcher.open_stream, f"{server}/bomb", tmp_path,
                                            max_bytes=1_000_000))
    assert isinstance(bomb, Skipped) and bomb.reason == "media_too_large"
    assert peak < MEMORY_BOUND, f"{peak:,} bytes allocated downloading a 1 MB-capped file"
    assert not list(tmp_path.iterdir())  # nothing kept


def test_the_probe_reader_refuses_stacked_layers(server: str) -> None:
    with guarded_client(LOOPBACK, read_only=True, timeout=10.0) as client:
        def read() -> Any:
            with client.stream("GET", f"{server}/gzip-gzip") as response:
                return read_capped(response, 5 * 1024 * 1024)

        outcome, peak = _peak(read)
        assert isinstance(outcome, ContentCodingError)
        assert peak < MEMORY_BOUND
        with client.stream("GET", f"{server}/bomb") as response:
            body = read_capped(response, 5 * 1024 * 1024)
        assert body.truncated and body.content == bytes(5 * 1024 * 1024)


@pytest.mark.parametrize("path", ["/page-gzip", "/page-deflate", "/page-raw-deflate", "/page-identity"])
def test_ordinary_compressed_bodies_still_decode(server: str, fetcher: PoliteFetcher, path: str) -> None:
    assert fetcher.get(server + path).content == PAGE
    with fetcher.open_stream(server + path) as response:
        pieces = list(response.iter_bytes())
        assert b"".join(pieces) == PAGE
        assert "content-encoding" not in response.headers or path == "/page-identity"


def test_a_body_that_does_not_inflate_is_a_decoding_error(server: str, fetcher: PoliteFetcher) -> None:
    with pytest.raises(ContentCodingError), fetcher.open_stream(f"{server}/not-gzip") as response:
        response.read()
