"""Media download through the real fetcher from a real HTTP server on 127.0.0.1: files are
stored under their sha256, checked for type and size, and refused addresses are never
contacted."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from wpmigrate.scrape_rebuild.media_download import download_all, download_one
from wpmigrate.scrape_rebuild.media_url_index import MediaUrlIndex
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.scrape_rebuild.records import MediaFile, Skipped
from wpmigrate.web.url_guard import guarded_client

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
FILES: dict[str, tuple[str, bytes]] = {
    "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
    "/a.png": ("image/png", PNG),
    "/same-bytes.png": ("image/png", PNG),
    "/error-page.png": ("image/png", b"<html>not found</html>"),  # 200 with HTML inside
    "/page.html": ("text/html", b"<html></html>"),
    "/big.jpg": ("image/jpeg", b"\xff\xd8\xff" + b"\0" * 5000),
    "/private/x.png": ("image/png", PNG),
}


class _Handler(BaseHTTPRequestHandler):
    hits: ClassVar[Counter[str]] = Counter()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        mime, body = FILES.get(self.path, ("text/plain", b"missing"))
        self.send_response(200 if self.path in FILES else 404)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Handler.hits.clear()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _run(site: str, store: Path, paths: list[str], max_bytes: int | None = None) -> dict[str, Any]:
    refs = [{"url": p if p.startswith("http") else site + p, "alt": "alt"} for p in paths]
    with guarded_client(("127.0.0.0/8",), read_only=True, timeout=10.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=1000)
        if max_bytes:
            records = [download_one(fetcher.open_stream, r["url"], store, r, max_bytes=max_bytes)
                       for r in refs]
        else:
            records = list(download_all(fetcher.open_stream, refs, store))
    return {r.source_url if isinstance(r, MediaFile) else r.url: r for r in records}


def test_files_are_stored_once_by_content_hash(site: str, tmp_path: Path) -> None:
    got = _run(site, tmp_path, ["/a.png", "/same-bytes.png", "/a.png"])
    sha = hashlib.sha256(PNG).hexdigest()
    assert {r.sha256 for r in got.values()} == {sha} and len(got) == 2
    assert (tmp_path / sha).read_bytes() == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == [sha]  # no partial files left
    assert got[site + "/a.png"].alt == "alt" and got[site + "/a.png"].mime == "image/png"
    assert _Handler.hits["/a.png"] == 1  # the duplicate reference is not fetched again


def test_wrong_type_and_lying_files_are_skipped(site: str, tmp_path: Path) -> None:
    got = _run(site, tmp_path, ["/error-page.png", "/page.html", "/nothing.png"])
    assert {u.rsplit("/", 1)[1]: r.reason for u, r in got.items()} == {
        "error-page.png": "media_type", "page.html": "media_type", "nothing.png": "media_http_status"}
    assert all(isinstance(r, Skipped) for r in got.values())
    assert not [p for p in tmp_path.iterdir()]


def test_too_large_is_skipped(site: str, tmp_path: Path) -> None:
    got = _run(site, tmp_path, ["/big.jpg"], max_bytes=1000)
    assert got[site + "/big.jpg"].reason == "media_too_large"


def test_private_addresses_and_robots_are_never_fetched(site: str, tmp_path: Path) -> None:
    got = _run(site, tmp_path, ["http://169.254.169.254/latest/x.png", "http://10.1.2.3/y.png",
                                "/private/x.png", "/a.png"])
    assert got["http://169.254.169.254/latest/x.png"].reason == "media_refused"
    assert "SOURCE_REFUSED" in got["http://10.1.2.3/y.png"].detail
    assert got[site + "/private/x.png"].reason == "media_refused"
    assert _Handler.hits["/private/x.png"] == 0
    assert isinstance(got[site + "/a.png"], MediaFile)
    assert "robots.txt disallows" in got[site + "/private/x.png"].detail


def test_an_off_site_host_that_cannot_be_reached_is_reported_as_such(site: str, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on: an off-site host that is down
        s.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{s.getsockname()[1]}/avatar/abc.png"
    got = _run(site, tmp_path, [gone, "/a.png"])
    assert got[gone].reason == "media_unreachable" and "robots.txt disallows" not in got[gone].detail
    assert "host_unreachable" in got[gone].detail and isinstance(got[site + "/a.png"], MediaFile)


def _batch(site: str, store: Path, index_root: Path, batch: str, refs: list[dict[str, Any]]
           ) -> list[MediaFile | Skipped]:
    """One download_media task: a fetcher of its own, the run's index of fetched URLs."""
    with guarded_client(("127.0.0.0/8",), read_only=True, timeout=10.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=1000)
        return list(download_all(fetcher.open_stream, [{**r, "url": site + r["url"]} for r in refs], store,
                                 index=MediaUrlIndex(index_root, batch)))


def test_a_url_two_batches_show_is_fetched_once_per_run(site: str, tmp_path: Path) -> None:
    store, index = tmp_path / "media", tmp_path / "media-urls"
    first = _batch(site, store, index, "batch-post-0001", [{"url": "/a.png"}, {"url": "/gone.png"}])
    assert [type(r) for r in first] == [MediaFile, Skipped]
    # Another batch showing the same files: nothing fetched, nothing recorded twice (the
    # first batch reported the missing one already).
    assert _batch(site, store, index, "batch-post-0002", [{"url": "/a.png"}, {"url": "/gone.png"}]) == []
    # One that knows more about a file (a listed attachment's text) records it, unfetched.
    listed = _batch(site, store, index, "batch-media-0001", [{"url": "/a.png", "alt": "Alt", "source_id": 4}])
    assert [(r.alt, r.source_id, r.sha256) for r in listed if isinstance(r, MediaFile)] == [
        ("Alt", 4, hashlib.sha256(PNG).hexdigest())]
    # A retry of the first batch records what it fetched, again without asking.
    assert _batch(site, store, index, "batch-post-0001", [{"url": "/a.png"}, {"url": "/gone.png"}]) == first
    assert _Handler.hits["/a.png"] == 1 and _Handler.hits["/gone.png"] == 1
    # A new run (another index) fetches again: a run never trusts another's answers.
    _batch(site, store, tmp_path / "next-run", "batch-post-0001", [{"url": "/a.png"}])
    assert _Handler.hits["/a.png"] == 2
