"""Discovery against small fake sites served on 127.0.0.1, and its parsing helpers."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from tests.support.discovery_scope import default_scope
from wpmigrate.scrape_rebuild.discovery import classify_html, discover
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_guard import guarded_client

Answer = tuple[int, str, bytes, dict[str, str]] | None
Route = Callable[[str, dict[str, list[str]], str], Answer]


def _html(body_class: str, links: list[str] = (), extra: str = "") -> bytes:  # type: ignore[assignment]
    anchors = "".join(f'<a href="{u}">{u}</a>' for u in links)
    return (f"<!doctype html><html><head><title>T</title>{extra}</head>"
            f'<body class="{body_class}">{anchors}</body></html>').encode()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.paths.append(self.path)
        answer = self.server.route(parts.path, parse_qs(parts.query), self.server.url)
        status, ctype, body, headers = answer or (404, "text/html", b"<h1>404</h1>", {})
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[[Route], Any]]:
    servers: list[ThreadingHTTPServer] = []

    def start(route: Route) -> Any:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        srv.daemon_threads = True
        srv.lock = threading.Lock()  # type: ignore[attr-defined]
        srv.paths = []  # type: ignore[attr-defined]
        srv.route = route  # type: ignore[attr-defined]
        srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def fetcher() -> Iterator[PoliteFetcher]:
    with guarded_client(("127.0.0.0/8",), read_only=True, timeout=10.0) as client:
        yield PoliteFetcher(client, rate_per_second=200)  # fast tests; the rate has its own tests


# ------------------------------------------------------------------ no REST: sitemaps + crawl

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _no_rest_site(path: str, q: dict[str, list[str]], url: str) -> Answer:
    xml = "application/xml"
    if path == "/robots.txt":
        robots = f"User-agent: *\nDisallow: /members/\n\nSitemap: {url}/custom.xml\n"
        return 200, "text/plain", robots.encode(), {}
    if path == "/wp-json/":
        return 404, "application/json", b'{"code":"rest_no_route"}', {}
    if path == "/wp-sitemap.xml":
        subs = ["wp-sitemap-posts-page-1.xml", "wp-sitemap-posts-post-1.xml", "wp-sitemap-users-1.xml",
                "wp-sitemap-taxonomies-category-1.xml", "wp-sitemap-posts-product-1.xml"]
        locs = "".join(f"<sitemap><loc>{url}/{s}</loc></sitemap>" for s in subs)
        body = f'<?xml version="1.0"?><sitemapindex xmlns="{SITEMAP_NS}">{locs}</sitemapindex>'
        return 200, xml, body.encode(), {}
    urlsets = {"/wp-sitemap-posts-page-1.xml": ["/", "/about/"], "/wp-sitemap-posts-post-1.xml": ["/hello/"],
               "/custom.xml": ["/orphan/"]}
    if path in urlsets:
        locs = "".join(f"<url><loc>{url}{p}</loc></url>" for p in urlsets[path])
        return 200, xml, f'<urlset xmlns="{SITEMAP_NS}">{locs}</urlset>'.encode(), {}
    home_links = ["/about/", "/hello/", "/hello/#comments", "/?m=202101", "/2021/01/", "/hello/?replytocom=5",
                  "/feed/", "/members/x/", "/calendar/?month=1", "/page/2/", "/image.jpg",
                  "https://other.example/x", "/crawl-only/?PHPSESSID=abc&utm_source=x", "mailto:a@b.c",
                  "/wp-admin/", "/broken/"]
    nav = ('<header><nav class="wp-block-navigation"><ul><li><a href="/about/">About</a><ul>'
           '<li><a href="/about/team/">Team</a></li></ul></li><li><a href="/hello/">Hello</a></li></ul></nav>'
           "</header>")
    pages = {
        "/": _html("home blog", home_links).replace(b"<body class=\"home blog\">",
                                                     b'<body class="home blog">' + nav.encode()),
        "/about/": _html("page-template-default page page-id-2"),
        "/about/team/": _html("page page-id-3 page-child"),
        "/hello/": _html("single single-post postid-1"),
        "/orphan/": _html("page page-id-77"),
        "/crawl-only/": _html("single single-post postid-42", ["/deep/"]),
        "/deep/": _html("page page-id-50", ["/deeper/"]),
        "/deeper/": _html("page page-id-51"),
        "/members/x/": _html("page page-id-99"),
    }
    if path in pages:
        return 200, "text/html; charset=utf-8", pages[path], {}
    if path == "/calendar/":
        n = int(q.get("month", ["0"])[0])
        return 200, "text/html", _html("archive date", [f"/calendar/?month={n + 1}"]), {}
    if path.startswith("/page/"):
        n = int(path.split("/")[2])
        return 200, "text/html", _html("blog paged", [f"/page/{n + 1}/"]), {}
    return None


def test_sitemaps_and_crawl_without_rest(serve: Any, fetcher: PoliteFetcher) -> None:
    srv = serve(_no_rest_site)
    result = discover(fetcher, srv.url + "/", max_archive_pages=4, max_query_variants=3,
                      **default_scope(max_depth=2))
    found = {urlsplit(i.url).path: (i.kind, i.via, i.source_id) for i in result.items}
    assert found == {
        "/about/": ("page", "sitemap", 2),  # the crawl fills in the id a sitemap lacks
        "/hello/": ("post", "sitemap", 1),
        "/orphan/": ("page", "crawl", 77),  # generic sitemap: kind from the HTML
        "/about/team/": ("page", "crawl", 3),
        "/crawl-only/": ("post", "crawl", 42),
        "/deep/": ("page", "crawl", 50),  # depth 2; /deeper/ would be depth 3
    }
    assert not result.site["rest_available"]
    assert result.notes and "REST API not available" in result.notes[0]
    paths = srv.paths
    # Never requested: robots-disallowed, taxonomy/user/unsupported sitemaps, traps.
    assert not [p for p in paths if p.startswith(("/members/", "/wp-admin", "/feed"))]
    assert not [p for p in paths if "taxonomies" in p or "users" in p or "product" in p]
    assert not [p for p in paths if "m=" in p or "replytocom" in p or p.startswith("/2021/")]
    assert not [p for p in paths if "PHPSESSID" in p or "utm_" in p]
    assert len([p for p in paths if p.startswith("/calendar/")]) <= 3  # query variants per path
    assert max(int(p.split("/")[2]) for p in paths if p.startswith("/page/")) <= 4
    assert paths.count("/robots.txt") == 1
    reasons = {(urlsplit(s.url).path, s.reason) for s in result.skipped}
    assert ("/members/x/", "robots_disallowed") in reasons
    assert ("/wp-sitemap-posts-product-1.xml", "unsupported_post_type") in reasons
    assert ("/broken/", "http_error") in reasons
    assert result.menu == [
        {"title": "About", "url": srv.url + "/about/",
         "children": [{"title": "Team", "url": srv.url + "/about/team/", "children": []}]},
        {"title": "Hello", "url": srv.url + "/hello/", "children": []},
    ]
    assert result.counts == {"page": 4, "post": 2}
    assert result.crawl_filtered["trap_query"] >= 1 and result.crawl_filtered["off_site"] >= 1
    assert result.requests == fetcher.request_count


def test_crawl_page_limit_is_recorded(serve: Any, fetcher: PoliteFetcher) -> None:
    srv = serve(_no_rest_site)
    result = discover(fetcher, srv.url + "/", max_pages=2, **default_scope(max_depth=2))
    assert len([i for i in result.items if i.kind in ("page", "post")]) == 2
    assert result.limits["pages_limit_hit"] and result.limits["pages_not_migrated"] >= 1
    assert result.limits["messages"][0].startswith("2-page limit reached:")
    assert result.notes[0] == result.limits["messages"][0]


# ------------------------------------------------------------------ REST

def _rest_site(n_posts: int, n_media: int) -> Route:
    def records(kind: str, n: int, url: str) -> list[dict[str, Any]]:
        if kind == "media":
            return [{"id": 1000 + i, "status": "inherit", "source_url": f"https://cdn.example/{i}.jpg",
                     "mime_type": "image/jpeg", "alt_text": "", "media_details": {
                         "width": 10, "height": 10, "file": f"{i}.jpg", "image_meta": {"camera": "x" * 50},
                         "sizes": {"thumbnail": {"file": f"{i}-150.jpg", "width": 1, "height": 1,
                                                 "source_url": "s", "filesize": 3}}}} for i in range(n)]
        return [{"id": i + 1, "status": "publish", "link": f"{url}/{kind}-{i + 1}/",
                 "title": {"rendered": "t"}, "parent": 0} for i in range(n)]

    def route(path: str, q: dict[str, list[str]], url: str) -> Answer:
        if path == "/robots.txt":
            return 404, "text/plain", b"", {}
        if path == "/":
            return 200, "text/html", _html("home blog"), {"Link": f'<{url}/wp-json/>; rel="https://api.w.org/"'}
        if path == "/wp-json/":
            index = {"name": "Fake &amp; Co", "description": "d", "namespaces": ["oembed/1.0", "wp/v2"]}
            return 200, "application/json", json.dumps(index).encode(), {}
        totals = {"/wp-json/wp/v2/posts": ("post", n_posts), "/wp-json/wp/v2/pages": ("page", 3),
                  "/wp-json/wp/v2/media": ("media", n_media), "/wp-json/wp/v2/categories": ("cat", 0),
                  "/wp-json/wp/v2/tags": ("tag", 0), "/wp-json/wp/v2/users": ("user", 0)}
        if path in totals:
            kind, n = totals[path]
            per_page, page = int(q["per_page"][0]), int(q["page"][0])
            assert "_fields" in q
            rows = records(kind, n, url)[(page - 1) * per_page: page * per_page]
            headers = {"X-WP-Total": str(n), "X-WP-TotalPages": str(max(1, math.ceil(n / per_page)))}
            return 200, "application/json", json.dumps(rows).encode(), headers
        return None

    return route


def test_rest_paging_and_limits_counted_from_totals(serve: Any, fetcher: PoliteFetcher) -> None:
    srv = serve(_rest_site(n_posts=250, n_media=30))
    result = discover(fetcher, srv.url + "/", max_pages=120, max_media=25, **default_scope())
    assert result.site["rest_available"] and result.site["rest_base"] == srv.url + "/wp-json/"
    assert Counter(i.kind for i in result.items) == {"page": 3, "post": 117, "media": 25}
    assert all(i.via == "rest" for i in result.items)
    assert result.limits["pages_limit_hit"] and result.limits["pages_not_migrated"] == 250 - 117
    assert result.limits["media_limit_hit"] and result.limits["media_not_migrated"] == 5
    assert result.limits["messages"][0] == "120-page limit reached: 133 more pages and posts not migrated"
    # Paging stops at the limit: posts page 2 of 3 is the last one fetched.
    post_pages = [parse_qs(urlsplit(p).query)["page"][0] for p in srv.paths
                  if p.startswith("/wp-json/wp/v2/posts")]
    assert post_pages == ["1", "2"]
    media = next(i for i in result.items if i.kind == "media")
    assert media.url.startswith("https://cdn.example/")  # media hosts are kept as they are
    assert "image_meta" not in media.rest["media_details"]
    assert media.rest["media_details"]["sizes"]["thumbnail"] == {"file": "0-150.jpg", "width": 1, "height": 1,
                                                               "source_url": "s"}
    assert result.site["name"] == "Fake & Co"  # REST gives it HTML-escaped
    assert result.lookups["media_by_id"][1000] == "https://cdn.example/0.jpg"
    assert not any(p.startswith("/wp-sitemap") for p in srv.paths)  # REST was complete: no sitemaps, no crawl


def test_rest_route_fallback_for_plain_permalinks(serve: Any, fetcher: PoliteFetcher) -> None:
    inner = _rest_site(n_posts=3, n_media=0)

    def route(path: str, q: dict[str, list[str]], url: str) -> Any:
        if path == "/" and "rest_route" in q:
            return inner("/wp-json" + q["rest_route"][0], q, url)
        if path.startswith("/wp-json"):
            return 404, "text/html", b"not found", {}
        if path == "/":
            return 200, "text/html", _html("home blog"), {}
        return inner(path, q, url)

    srv = serve(route)
    result = discover(fetcher, srv.url, **default_scope(include_media=False))
    assert result.site["rest_base"] == srv.url + "/?rest_route=/"
    assert Counter(i.kind for i in result.items) == {"page": 3, "post": 3}
    assert any(p.startswith("/?rest_route=%2Fwp%2Fv2%2Fposts") or p.startswith("/?rest_route=/wp/v2/posts")
               for p in srv.paths)


# ------------------------------------------------------------------ helpers

@pytest.mark.parametrize(("body", "head", "expected"), [
    ("page-template-default page page-id-5", "", ("page", 5)),
    ("home page-template-default page page-id-9", "", ("page", 9)),
    ("post-template-default single single-post postid-8", "", ("post", 8)),
    ("attachment single single-attachment postid-11 attachmentid-11", "", (None, 11)),
    # Page 2 of a post or page split by <!--nextpage-->: part of the entry, not one of its own.
    ("post-template-default single single-post postid-8 paged-2 single-paged-2", "", (None, 8)),
    ("page-template-default page page-id-5 paged-3 page-paged-3", "", (None, 5)),
    ("single single-product postid-12", "", (None, 12)),
    ("home blog", "", (None, None)),
    ("archive category category-news", "", (None, None)),
    ("", "<link rel='shortlink' href='https://x.test/?page_id=4'>", ("page", 4)),
    ("", "<link rel='shortlink' href='https://x.test/?p=7'>", ("post", 7)),
    ("", "", ("unknown", None)),
])
def test_classify_html(body: str, head: str, expected: tuple[str | None, int | None]) -> None:
    soup = BeautifulSoup(f"<html><head>{head}</head><body class='{body}'></body></html>", "lxml")
    kind, source_id, _ = classify_html(soup, "https://x.test/a/")
    assert (kind, source_id) == expected


def test_rest_embeds_what_lookups_miss_and_notes_shown_variants(serve: Any, fetcher: PoliteFetcher) -> None:
    inner = _rest_site(n_posts=0, n_media=0)
    sizes = {"medium": {"source_url": "https://cdn.example/a-300x200.jpg", "width": 300, "height": 200},
             "large": {"source_url": "https://cdn.example/a-1024x683.jpg"}}

    def route(path: str, q: dict[str, list[str]], url: str) -> Any:
        if path == "/wp-json/wp/v2/users":
            return 401, "application/json", b'{"code":"rest_user_cannot_view"}', {}
        if path == "/wp-json/wp/v2/posts":
            content = '<img src="https://cdn.example/a-300x200.jpg" srcset="https://cdn.example/a.jpg 2x">'
            post = {"id": 1, "status": "publish", "link": f"{url}/p/", "content": {"rendered": content},
                    "_links": {"author": [{"href": "x"}]},
                    "_embedded": {"author": [{"id": 3, "name": "Jun &amp; Co"}]}}
            return 200, "application/json", json.dumps([post]).encode(), {"X-WP-TotalPages": "1"}
        if path == "/wp-json/wp/v2/media":
            media = {"id": 7, "status": "inherit", "source_url": "https://cdn.example/a.jpg",
                     "media_details": {"sizes": sizes}}
            return 200, "application/json", json.dumps([media]).encode(), {"X-WP-TotalPages": "1"}
        return inner(path, q, url)

    srv = serve(route)
    result = discover(fetcher, srv.url + "/", **default_scope())
    posts = [parse_qs(urlsplit(p).query) for p in srv.paths if p.startswith("/wp-json/wp/v2/posts")]
    assert posts[0]["_embed"] == ["author"]  # users closed: names come embedded, no request per post
    assert {"content", "_links", "_embedded"} <= set(posts[0]["_fields"][0].split(","))
    pages = [parse_qs(urlsplit(p).query) for p in srv.paths if p.startswith("/wp-json/wp/v2/media")]
    assert "_embed" not in pages[0]
    post = next(i for i in result.items if i.kind == "post")
    assert "_links" not in post.rest and post.rest["_embedded"]["author"][0]["name"] == "Jun &amp; Co"
    # Only the variant some content shows; the original is the attachment itself.
    assert result.lookups["variants_by_id"] == {7: [{
        "url": "https://cdn.example/a-300x200.jpg", "attachment_url": "https://cdn.example/a.jpg",
        "size": "medium", "width": 300, "height": 200}]}


def test_the_probes_home_page_and_rest_index_are_not_asked_again(serve: Any, fetcher: PoliteFetcher) -> None:
    srv = serve(_rest_site(n_posts=3, n_media=0))
    probe = probe_source(srv.url + "/", allowed_networks=("127.0.0.0/8",))  # validate_source's
    assert "/wp-login.php" not in srv.paths  # the Link header and the index told already
    home_page, rest_index = probe["home_page"], probe["rest_index"]
    assert rest_index == {"url": srv.url + "/wp-json/", "name": "Fake &amp; Co", "description": "d"}
    srv.paths.clear()
    result = discover(fetcher, srv.url + "/", home_page=home_page, rest_index=rest_index, **default_scope())
    assert result.site["rest_available"] and result.site["rest_base"] == srv.url + "/wp-json/"
    assert (result.site["name"], result.site["description"]) == ("Fake & Co", "d")
    assert Counter(i.kind for i in result.items) == {"page": 3, "post": 3}
    assert "/" not in srv.paths and "/wp-json/" not in srv.paths
    assert result.home_page == {"url": srv.url + "/", "html": home_page["html"]}  # kept for match_theme

    # Another site's page, or an error page, is not used: the home page is asked.
    for given in ({**home_page, "url": "http://elsewhere.example/"}, {**home_page, "status": 500}):
        srv.paths.clear()
        result = discover(fetcher, srv.url + "/", home_page=given, rest_index=rest_index, **default_scope())
        assert srv.paths.count("/") == 1 and result.home_page is not None
