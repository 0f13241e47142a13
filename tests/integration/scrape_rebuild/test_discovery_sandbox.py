"""Mode B discovery against the real sandbox WordPress (and its static non-WordPress site).

The source database is the judge of what is published; the sandbox's request log is the
judge of how politely we asked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.support.discovery_scope import default_scope
from tests.support.wordpress_checks import db, rows
from wpmigrate.scrape_rebuild.discovery import DiscoveryResult, discover
from wpmigrate.scrape_rebuild.polite_http import USER_AGENT, PoliteFetcher
from wpmigrate.web.url_guard import guarded_client
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox

LOOPBACK = ("127.0.0.0/8",)
# The sandbox plugin links its crawl-trap page only for a User-Agent carrying this marker.
TRAP_UA = USER_AGENT.replace(")", "; wpmigrate-trap-test)")


@pytest.fixture
def rest_open(sandbox: SandboxState) -> Iterator[SandboxState]:
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    yield sandbox


def _slug(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]).lower()


def _published(sb: SandboxState) -> set[tuple[str, str]]:
    conn = db(sb, "source")
    try:
        found = rows(conn, f"SELECT post_type, post_name FROM {sb.source.table_prefix}posts"
                           " WHERE post_status = 'publish' AND post_type IN ('page', 'post')")
    finally:
        conn.close()
    return {(str(kind.decode() if isinstance(kind, bytes) else kind),
             unquote(name.decode() if isinstance(name, bytes) else name).lower()) for kind, name in found}


def _run(url: str, user_agent: str = USER_AGENT, **kw: Any) -> tuple[DiscoveryResult, float]:
    started = time.time()
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client, user_agent=user_agent)
        result = discover(fetcher, url, **default_scope(**kw))
    return result, started


def _our_requests(sb: SandboxState, started: float, user_agent: str) -> list[dict[str, Any]]:
    lines = Path(sb.source.request_log).read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    return [e for e in entries if e["ua"] == user_agent and e["t"] >= started]


def _max_per_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_rest_finds_every_published_page_post_and_media(rest_open: SandboxState) -> None:
    sb = rest_open
    result, started = _run(sb.source.url, max_depth=5)
    assert result.site["rest_available"] and result.site["rest_base"] == sb.source.url + "/wp-json/"
    assert result.site["name"] == sb.source.title

    content = [i for i in result.items if i.kind in ("page", "post")]
    assert {(i.kind, _slug(i.url)) for i in content} == _published(sb)
    assert all(i.via == "rest" and i.rest and i.rest["status"] == "publish" for i in content)
    hidden = {sb.facts["posts"][k] for k in ("draft", "pending", "private", "future", "trash", "page_draft")}
    assert not hidden & {i.source_id for i in result.items}
    assert "content" in content[0].rest and "_links" not in content[0].rest  # _fields kept it small

    media = {i.source_id: i for i in result.items if i.kind == "media"}
    assert set(media) == {m["id"] for m in sb.facts["media"].values()}
    hero = media[sb.facts["media"]["hero"]["id"]]
    assert hero.url.endswith("/" + sb.facts["media"]["hero"]["file"])
    assert hero.rest["alt_text"] == "Sunset over the sea" and hero.rest["media_details"]["sizes"]

    terms = {(t.taxonomy, t.name): t for t in result.terms}
    assert terms[("category", "Advanced")].parent_slug == "guides"
    assert ("category", "Reisen & Café ☕") in terms and ("post_tag", "東京") in terms
    assert result.lookups["authors_by_id"][sb.facts["users"]["author_jun"]] == "小林 純"
    about = result.menu[0]
    assert (about["title"], about["children"][0]["title"], about["children"][0]["children"][0]["title"]) == (
        "About Us", "Our Team", "Leadership")
    assert not result.limits["pages_limit_hit"] and not result.notes
    ours = _our_requests(sb, started, USER_AGENT)
    assert len(ours) == result.requests
    assert _max_per_second([e["t"] for e in ours]) <= 10


def test_rest_off_sitemaps_and_crawl_find_everything_politely(sandbox: SandboxState) -> None:
    sb = sandbox
    build.set_source_rest(False, sb)
    try:
        result, started = _run(sb.source.url, user_agent=TRAP_UA, max_depth=5)
    finally:
        build.set_source_rest(True, sb)

    assert not result.site["rest_available"] and "rest_disabled" in result.site["rest_error"]
    content = [i for i in result.items if i.kind in ("page", "post")]
    assert {(i.kind, _slug(i.url)) for i in content} == _published(sb)
    assert {i.via for i in content} <= {"sitemap", "crawl"}
    assert not [i for i in result.items if i.kind == "unknown"]
    hidden = {sb.facts["posts"][k] for k in ("draft", "pending", "private", "future", "trash", "page_draft")}
    assert not hidden & {i.source_id for i in result.items}
    assert result.menu and result.menu[0]["title"] == "About Us"

    ours = _our_requests(sb, started, TRAP_UA)
    assert len(ours) == result.requests
    assert _max_per_second([e["t"] for e in ours]) <= 10
    uris = [e["uri"] for e in ours]
    # robots.txt asked once and obeyed; crawl traps left alone.
    assert uris.count("/robots.txt") == 1
    assert not [u for u in uris if u.startswith(("/sandbox-members/", "/wp-admin", "/wp-login.php", "/feed"))]
    assert not [u for u in uris if "replytocom" in u or "?m=" in u or u.startswith("/2021/")]
    assert not [u for u in uris if "PHPSESSID" in u or "utm_" in u or "/page/9" in u]
    assert 1 <= len([u for u in uris if u.startswith("/sandbox-trap/")]) <= 6  # path + 5 query variants
    assert any(s.reason == "robots_disallowed" and "/sandbox-members/" in s.url for s in result.skipped)
    assert not [u for u in uris if "taxonomies" in u or "users" in u]  # not content: not fetched
    assert result.notes and "REST API not available" in result.notes[0]


def test_static_site_without_rest_is_crawled(sandbox: SandboxState) -> None:
    result, _ = _run(sandbox.static.url)
    assert not result.site["rest_available"]
    assert result.site["name"] == "Plain Static Site"
    found = {(urlsplit(i.url).path, i.kind, i.via) for i in result.items}
    assert found == {("/", "unknown", "crawl"), ("/about.html", "unknown", "crawl")}
