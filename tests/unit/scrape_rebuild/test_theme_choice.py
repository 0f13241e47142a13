"""The theme decision: the conf's select_theme among the target's looks, or the source's
look (home page plus stylesheets) matched against them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.polite_http import FetchResult, PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.theme_choice import auto_match, select_theme, stylesheets
from wpmigrate.scrape_rebuild.theme_match import ThemeCandidate
from wpmigrate.web.url_guard import guarded_client

CANDIDATES = [
    ThemeCandidate("twentytwentythree", None, {"base": "#ffffff", "contrast": "#000000"}),
    ThemeCandidate("twentytwentythree", "Pilgrimage", {"base": "#1b1031", "contrast": "#ffffff"}),
]


def test_select_theme_names_a_variation_or_the_theme() -> None:
    assert select_theme("twentytwentythree/Pilgrimage", CANDIDATES) == {
        "theme": "twentytwentythree", "variation": "Pilgrimage", "label": "twentytwentythree/Pilgrimage",
        "confidence": 1.0, "by": "select_theme"}
    assert select_theme("twentytwentythree", CANDIDATES)["variation"] is None


def test_select_theme_the_target_lacks_is_invalid_conf() -> None:
    with pytest.raises(MigrationError, match="offers") as err:
        select_theme("astra", CANDIDATES)
    assert err.value.code == ErrorCode.INVALID_CONF


class _Fetcher:
    def __init__(self, bodies: dict[str, tuple[str, str]]) -> None:
        self.bodies = bodies
        self.asked: list[str] = []

    def get(self, url: str, **_: Any) -> FetchResult:
        self.asked.append(url)
        if url not in self.bodies:
            raise SkipUrl(url, "robots")
        ctype, body = self.bodies[url]
        return FetchResult(url, 200, httpx.Headers({"content-type": ctype}), body.encode())


HOME = ('<html><head><link rel="stylesheet" href="/a.css"><link rel="stylesheet" href="/gone.css">'
        "</head><body><p>x</p></body></html>")


def test_stylesheets_fetched_relative_to_the_page_and_missing_ones_left_out() -> None:
    fetcher = _Fetcher({"https://old.example/a.css": ("text/css", "body{color:#000}")})
    assert list(stylesheets(fetcher, HOME, "https://old.example/")) == ["body{color:#000}"]
    assert fetcher.asked == ["https://old.example/a.css", "https://old.example/gone.css"]


def test_auto_match_reads_the_look_from_home_page_and_css() -> None:
    fetcher = _Fetcher({"https://old.example/": ("text/html", HOME),
                        "https://old.example/a.css": ("text/css", "body{--wp--preset--color--base:#1b1031;"
                                                                  "--wp--preset--color--contrast:#fff}")})
    choice = auto_match(fetcher, "https://old.example/", CANDIDATES)
    assert choice["label"] == "twentytwentythree/Pilgrimage" and choice["by"] == "preset palette"
    assert choice["look"]["preset_palette"] == {"base": "#1b1031", "contrast": "#ffffff"}


BLOCK_HOME = ('<html><head><style id="global-styles-inline-css">body{--wp--preset--color--base:#1b1031;'
              '--wp--preset--color--contrast:#ffffff}</style><link rel="stylesheet" href="/a.css"></head>'
              "<body><p>x</p></body></html>")
CLASSIC_HOME = ('<html><head><link rel="stylesheet" href="/a.css"></head><body><p>x</p></body></html>')


class _Site(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        bodies = {"/robots.txt": ("text/plain", ""), "/": ("text/html", self.server.home),
                  "/a.css": ("text/css", "body{color:#1b1031;background:#ffffff}")}
        ctype, body = bodies.get(self.path, ("text/plain", "missing"))
        self.send_response(200 if self.path in bodies else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture
def site() -> Iterator[Any]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    srv.daemon_threads = True
    srv.paths = []  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_auto_match_asks_nothing_when_the_page_names_its_palette(site: Any) -> None:
    """The home page discovery read is reused; a block theme's page names its palette by
    role, so no stylesheet is needed either: match_theme asks the source nothing."""
    site.home = BLOCK_HOME
    with guarded_client(["127.0.0.0/8"], read_only=True, timeout=10.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=100)
        choice = auto_match(fetcher, site.url, CANDIDATES, home_page={"url": site.url, "html": BLOCK_HOME})
    assert choice["label"] == "twentytwentythree/Pilgrimage" and choice["by"] == "preset palette"
    assert site.paths == []


def test_auto_match_reads_the_stylesheets_of_a_page_without_a_role_palette(site: Any) -> None:
    site.home = CLASSIC_HOME
    with guarded_client(["127.0.0.0/8"], read_only=True, timeout=10.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=100)
        choice = auto_match(fetcher, site.url, CANDIDATES, home_page={"url": site.url, "html": CLASSIC_HOME})
        assert choice["by"] == "css colors" and choice["label"] == "twentytwentythree/Pilgrimage"
        assert site.paths == ["/robots.txt", "/a.css"]  # the page itself not asked again
        auto_match(fetcher, site.url, CANDIDATES)  # no page given: asked
    assert site.paths[2:] == ["/", "/a.css"]
