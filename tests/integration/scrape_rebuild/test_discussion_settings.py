"""Mode B comment and ping settings against the real sandbox. The judge is the source's
database: every published page and post keeps its ``comment_status``/``ping_status`` when
read from the REST records and when read from the rendered pages (block and classic theme);
imported into the target, each item holds the source's settings, the comments written on
items closed since arrive (the item closed again), a re-run changes nothing, and
verification fails when an item's setting differs on the target."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.scrape_rebuild.comments import read_comments, read_jsonl
from wpmigrate.scrape_rebuild.comments_import import import_comments, target_posts
from wpmigrate.scrape_rebuild.content_import import import_content, origin_text_rewriter
from wpmigrate.scrape_rebuild.discovery import PAGE_FIELDS
from wpmigrate.scrape_rebuild.discussion import SiteDiscussion
from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem
from wpmigrate.scrape_rebuild.scrape import normalised_text, scrape_item
from wpmigrate.scrape_rebuild.verify_rebuild import verify_rebuild
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.url_guard import guarded_client
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox
LOOPBACK = ("127.0.0.0/8",)
Settings = dict[tuple[str, str], tuple[str, str]]  # (kind, slug) -> (comment_status, ping_status)


def _db_settings(sb: SandboxState, which: str, prefix: str) -> Settings:
    conn = wc.db(sb, which)
    try:
        found = wc.rows(conn, f"SELECT post_type, post_name, comment_status, ping_status FROM {prefix}posts"
                              " WHERE post_type IN ('page', 'post') AND post_status = 'publish'"
                              " AND post_password = ''")
    finally:
        conn.close()
    # Slugs as the scrape gives them (WordPress stores non-ASCII ones percent-encoded).
    return {(_text(r[0]), unquote(_text(r[1]))): (_text(r[2]), _text(r[3])) for r in found}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _rest_records(home: str, kind: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{home}/", params={"rest_route": f"/wp/v2/{kind}s", "per_page": 100,
                                             "_fields": ",".join(PAGE_FIELDS)}, timeout=30)
    assert response.status_code == 200, response.text[:200]
    return [r for r in response.json() if not r["content"].get("protected")]


def _from_rest(home: str, kind: str) -> Iterator[ScrapedItem]:
    for record in _rest_records(home, kind):
        yield scrape_item(DiscoveredItem(url=record["link"], kind=kind, via="rest",  # type: ignore[arg-type]
                                         source_id=record["id"], rest=record), None)


def _from_pages(home: str) -> list[ScrapedItem]:
    """Every published page and post read as with the REST API closed: its rendered page."""
    links = [(kind, r["link"]) for kind in ("page", "post") for r in _rest_records(home, kind)]
    scraped = []
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client)
        for kind, link in links:
            page = fetcher.get(link, content_types=("text/html",))
            assert page.status_code == 200, link
            scraped.append(scrape_item(DiscoveredItem(url=link, kind=kind, via="crawl"),  # type: ignore[arg-type]
                                       page.text, headers=dict(page.headers)))
    return scraped


def _settled(items: list[ScrapedItem]) -> dict[tuple[str, str], dict[str, str]]:
    site = SiteDiscussion.of(items)
    return {(item.kind, unquote(item.slug)): site.settings(item) for item in items}


def _as_db(settings: Settings) -> dict[tuple[str, str], dict[str, str]]:
    return {key: {"comment_status": c, "ping_status": p} for key, (c, p) in settings.items()}


@pytest.mark.parametrize("which", ["source", "classic"])
def test_settings_read_from_rest_records_and_from_rendered_pages(which: str, sandbox: SandboxState,
                                                                  classic_source: SandboxState) -> None:
    sb = sandbox
    if not sb.source_rest_enabled:  # the records are read through it; the pages need none
        build.set_source_rest(True, sb)
    site = sb.classic_source if which == "classic" else sb.source
    assert site is not None
    truth = _as_db(_db_settings(sb, which, site.table_prefix))
    # Different from WordPress's defaults (pages closed, posts open), so defaults cannot pass.
    assert truth[("page", "guestbook")] == {"comment_status": "open", "ping_status": "closed"}
    assert truth[("post", "closed-after-launch")] == {"comment_status": "closed", "ping_status": "closed"}
    assert truth[("post", "pings-off")] == {"comment_status": "open", "ping_status": "closed"}
    rest = list(_from_rest(site.url, "page")) + list(_from_rest(site.url, "post"))
    assert _settled(rest) == truth
    assert _settled(_from_pages(site.url)) == truth


def _scraped_subset(home: str, slugs: set[str]) -> list[ScrapedItem]:
    return [i for kind in ("page", "post") for i in _from_rest(home, kind) if i.slug in slugs]


def test_import_keeps_settings_and_comments_reach_closed_items(rest_target: WordPressRestTarget,
                                                               fresh_target: SandboxState) -> None:
    sb, target = fresh_target, rest_target
    src, tgt = sb.source.url, sb.target.url
    slugs = {"guestbook", "closed-after-launch", "closed-pings-open", "pings-off", "contact",
             "advanced-migration-tips"}
    source = {k: v for k, v in _db_settings(sb, "source", sb.source.table_prefix).items() if k[1] in slugs}
    assert {slug for _, slug in source} == slugs
    scraped = _scraped_subset(src, slugs)
    facts = sb.facts["discussion"]
    by_source_id = {i.source_id: i for i in scraped}
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        out = io.StringIO()
        read_comments(PoliteFetcher(client), {"home": src, "rest_available": True,
                                              "rest_base": f"{src}/wp-json/"}, out)
    comments = [c for c in read_jsonl(io.StringIO(out.getvalue())) if c.post in by_source_id]
    on_closed = [c for c in comments if c.post in (facts["closed_post"], facts["closed_pings_open"])]
    assert len(on_closed) == 3 and any(c.post == facts["guestbook_page"] for c in comments)

    def run() -> tuple[Any, Any]:
        imported = import_content(target, scraped, [], open_media=lambda _: b"", source_home=src,
                                  target_home=tgt)
        collections: dict[int, str] = {}
        posts = target_posts(target, scraped, {c.post for c in comments}, imported.url_map, collections)
        done = import_comments(target, comments, post_ids=posts, source_home=src, target_home=tgt,
                               url_map=imported.url_map, collections=collections)
        return imported, done

    def target_settings() -> Settings:
        return {k: v for k, v in _db_settings(sb, "target", sb.target.table_prefix).items() if k[1] in slugs}

    imported, done = run()
    assert not imported.refused_items and done.refused == {} and done.created == len(comments)
    assert target_settings() == source  # the closed items closed again after their comments
    conn = wc.db(sb, "target")
    try:
        arrived = wc.rows(conn, f"SELECT comment_ID, comment_post_ID FROM {sb.target.table_prefix}comments"
                                " WHERE comment_approved = '1'")
    finally:
        conn.close()
    assert {(done.ids[c.source_id], done.posts[c.post]) for c in on_closed} <= {(r[0], r[1]) for r in arrived}

    again, repeat = run()  # a re-run writes nothing: no setting flips, no comment twice
    assert repeat.created == 0 and repeat.unchanged == len(comments) and repeat.refused == {}
    assert all(again.counts[k]["updated"] == again.counts[k]["created"] == 0 for k in ("pages", "posts"))
    assert target_settings() == source

    def verify() -> dict[str, Any]:
        with httpx.Client(timeout=30) as client:
            return verify_rebuild(client=client, scraped=scraped, url_map=imported.url_map, media=[],
                                  media_url_map={}, source_origins=[src], extract=extract_main,
                                  normalise=normalised_text, expected_text=origin_text_rewriter([src], tgt),
                                  target_home=tgt)

    good = verify()
    assert good["sections"]["discussion"]["status"] == "pass", good["sections"]["discussion"]
    assert good["sections"]["discussion"]["checked"] == len(slugs)
    closed_id = repeat.posts[facts["closed_post"]]
    target.request_json("POST", f"posts/{closed_id}", json={"comment_status": "open"}, what="open")
    bad = verify()
    assert bad["ok"] is False and bad["sections"]["discussion"]["status"] == "fail"
    [loss] = [x for x in bad["losses"] if x["check"] == "comment_status_differs"]
    assert loss["url"] == by_source_id[facts["closed_post"]].source_url
    assert "source 'closed', target 'open'" in loss["detail"]
