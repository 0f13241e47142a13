"""Mode B over a source on a classic theme (Twenty Twenty-One, PHP templates: .entry-content,
.cat-links, .post-thumbnail, nav.page-links), served by the real WordPress: discovery and the
batches' scrape (``scrape_batch_items``, as the DAG's mapped tasks run it) with the REST API
open and with it closed, when only the HTML can be read.

The judge is the source itself: its database says what is published, its REST API (read
while open, not by the code under test) what each item's rendered title, content, terms and
featured image are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.support import wordpress_checks as wc
from tests.support.discovery_scope import default_scope
from wpmigrate.scrape_rebuild.batches import plan_batches, scrape_batch_items, site_record
from wpmigrate.scrape_rebuild.discovery import DiscoveryResult, discover
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem, Skipped, from_dict, to_json
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts
from wpmigrate.web.url_guard import guarded_client
from wpmigrate.web.url_keys import canonical_url
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox

LOOPBACK = ("127.0.0.0/8",)


@dataclass
class Scrape:
    discovery: DiscoveryResult
    items: dict[str, ScrapedItem]  # by slug
    media_refs: set[str]  # every URL the batches hand to download_media
    skipped: list[Skipped]


@dataclass
class Truth:
    published: dict[str, dict[str, Any]]  # slug -> the source's REST record (rendered fields)
    protected: set[str]  # slugs behind a password
    terms: dict[int, tuple[str, str]]  # term id -> (taxonomy, slug)
    media: dict[int, str]  # attachment id -> file URL


@pytest.fixture(scope="module")
def truth(classic_source: SandboxState) -> Truth:
    sb = classic_source
    assert sb.classic_source is not None and sb.classic_source.rest_enabled
    conn = wc.db(sb, "classic")
    try:
        found = wc.rows(conn, f"SELECT post_name, post_password FROM {sb.classic_source.table_prefix}posts "
                              "WHERE post_status = 'publish' AND post_type IN ('page', 'post')")
    finally:
        conn.close()
    slugs = {name.decode(): bool(password) for name, password in found}
    with httpx.Client(base_url=sb.classic_source.url, timeout=30) as client:
        records = wc.rest_listing(client, "pages") + wc.rest_listing(client, "posts")
        terms = {t["id"]: (taxonomy, unquote(t["slug"]))
                 for taxonomy, endpoint in (("category", "categories"), ("post_tag", "tags"))
                 for t in wc.rest_listing(client, endpoint)}
        media = {m["id"]: m["source_url"] for m in wc.rest_listing(client, "media")}
    by_slug = {unquote(r["slug"]): r for r in records}
    assert {unquote(s) for s in slugs} == set(by_slug)  # the REST API lists what the database publishes
    protected = {unquote(s) for s, has_password in slugs.items() if has_password}
    return Truth({s: r for s, r in by_slug.items() if s not in protected}, protected, terms, media)


def _scrape(sb: SandboxState, *, rest: bool) -> Scrape:
    assert sb.classic_source is not None
    build.set_classic_source_rest(rest, sb)
    try:
        with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
            fetcher = PoliteFetcher(client)
            result = discover(fetcher, sb.classic_source.url + "/", **default_scope(max_depth=5))
            site = json.loads(json.dumps(site_record(result, fetcher.stats()), default=str))
        items: dict[str, ScrapedItem] = {}
        refs: set[str] = set()
        skipped: list[Skipped] = []
        for batch in plan_batches(result.items):
            lines = [to_json(i) for i in batch.items]  # each mapped task reads its batch's JSON lines
            with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
                done = scrape_batch_items(PoliteFetcher(client),
                                          [from_dict(DiscoveredItem, json.loads(x)) for x in lines], site,
                                          batch.label)
            skipped += done.skipped
            refs.update(ref["url"] for ref in done.media_refs)
            for item in done.scraped:
                assert item.slug not in items, item.slug
                items[item.slug] = item
    finally:
        build.set_classic_source_rest(True, sb)
    return Scrape(result, items, refs, skipped)


@pytest.fixture(scope="module")
def rest_open(classic_source: SandboxState, truth: Truth) -> Scrape:
    return _scrape(classic_source, rest=True)


@pytest.fixture(scope="module")
def rest_closed(classic_source: SandboxState, truth: Truth) -> Scrape:
    return _scrape(classic_source, rest=False)


@pytest.fixture(params=["rest_open", "rest_closed"])
def scrape(request: pytest.FixtureRequest) -> Iterator[Scrape]:
    yield request.getfixturevalue(request.param)


def _title(record: dict[str, Any]) -> str:
    return normalised_text(record["title"]["rendered"])


def test_the_classic_source_is_a_real_wordpress_on_a_classic_theme(classic_source: SandboxState) -> None:
    sb = classic_source
    assert sb.classic_source is not None and sb.classic_source.theme == "twentytwentyone"
    page = httpx.get(sb.classic_source.url + "/every-core-block-text/", timeout=30)
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("link[href*='/themes/twentytwentyone/']") is not None
    assert soup.select_one(".entry-content") is not None and soup.select_one(".cat-links a") is not None
    assert "wp-block-post-content" not in page.text  # no block theme template around the post


def test_every_published_item_is_found_and_nothing_else(scrape: Scrape, truth: Truth) -> None:
    # The password-protected post comes out flagged (the import reports it as not migratable).
    assert set(scrape.items) == set(truth.published) | truth.protected
    assert truth.protected == {"members-only"} and scrape.items["members-only"].password_protected
    assert not any(scrape.items[slug].password_protected for slug in truth.published)
    assert not scrape.skipped
    found = {unquote(i.url.rstrip("/").rsplit("/", 1)[-1]) for i in scrape.discovery.items
             if i.kind in ("page", "post")}
    assert found == set(truth.published) | truth.protected


def test_titles_text_and_kinds_come_out_as_the_source_renders_them(scrape: Scrape, truth: Truth) -> None:
    for slug, record in truth.published.items():
        item = scrape.items[slug]
        assert item.kind == record["type"] and item.source_id == record["id"], slug
        assert normalised_text(item.title) == _title(record), slug  # "" for the untitled post
        assert normalised_text(item.content_html) == normalised_text(record["content"]["rendered"]), slug
        assert "<script" not in item.content_html and "page-links" not in item.content_html, slug
    # The classic theme's words around the content (entry footer, comments, site footer) stay out.
    for slug, record in truth.published.items():
        text = normalised_text(scrape.items[slug].content_html)
        written = normalised_text(record["content"]["rendered"])
        for chrome in ("Categorized as", "Tagged", "Published", "Leave a comment", "Proudly powered by",
                       "Sandbox Classic Source"):
            assert chrome not in text or chrome in written, (slug, chrome)


def test_every_block_post_keeps_its_words_and_all_its_pages(scrape: Scrape) -> None:
    text = normalised_text(scrape.items["every-core-block-text"].content_html)
    for words in ("A sixth-level heading", "Matcha", "Someone Quotable", "A pullquote stands out.",
                  'esc_html( "Hello & goodbye" )', "violets are blue", "6,50 €", "The diagram, captioned",
                  "After the more tag.", "Hidden until opened.", "Its right column.",
                  "A block whose plugin was removed."):
        assert words in text, words
    media = normalised_text(scrape.items["every-core-block-media-and-layout"].content_html)
    for words in ("An audio block", "A video block", "sandbox-menu.pdf", "Media and text, side by side.",
                  "https://vimeo.com/76979871 An embed block",
                  "Contact us", "Third column.", "by side.", "A reusable block: write to us."):
        assert words in media, words
    dynamic = normalised_text(scrape.items["every-core-block-widgets-and-dynamic-blocks"].content_html)
    assert "RSS Error" in dynamic and "Search the sandbox" in dynamic
    assert dynamic.endswith("The second page of a paginated post.")  # page 2 too, not only page 1


def test_terms_of_posts_come_out_right(scrape: Scrape, truth: Truth) -> None:
    checked = 0
    for slug, record in truth.published.items():
        if record["type"] != "post":
            continue
        expected = {truth.terms[t] for t in record["categories"] + record["tags"]}
        got = {(t.taxonomy, t.slug) for t in scrape.items[slug].terms}
        assert got == expected, slug
        checked += len(expected)
    assert checked > 130  # the 110-tag post among them
    tips = {(t.taxonomy, t.slug, t.parent_slug) for t in scrape.items["advanced-migration-tips"].terms}
    assert ("category", "advanced", "guides") in tips


def test_media_refs_cover_every_image_and_file_the_content_shows(scrape: Scrape, truth: Truth) -> None:
    for slug, record in truth.published.items():
        item = scrape.items[slug]
        soup = BeautifulSoup(record["content"]["rendered"], "html.parser")
        shown = {canonical_url(tag["src"], item.source_url)
                 for tag in soup.find_all(["img", "audio", "video"], src=True)}
        shown |= {canonical_url(v["poster"], item.source_url) for v in soup.find_all("video", poster=True)}
        assert shown <= set(item.media_urls), (slug, shown - set(item.media_urls))
        featured = int(record.get("featured_media") or 0)
        if featured:
            assert item.featured_image_url is not None, slug
            assert canonical_url(item.featured_image_url, item.source_url) == canonical_url(
                truth.media[featured], item.source_url), slug
        else:
            assert item.featured_image_url is None, slug
    # Everything the items show is downloaded: by a media batch (listed attachments and their
    # shown sizes) or as a reference the content batches add.
    media_item_urls = {canonical_url(i.url, i.url) for i in scrape.discovery.items if i.kind == "media"}
    # An upload shown with a query (``photo.jpg?w=604``) is referenced as its file.
    hosts = source_hosts(str(scrape.discovery.site["home"]))
    wanted = {file_url(url, hosts) for item in scrape.items.values() for url in item.media_urls}
    assert wanted and wanted <= scrape.media_refs | media_item_urls
    block_media = scrape.items["every-core-block-media-and-layout"].media_urls
    for name in ("sandbox-tone.wav", "sandbox-birds.mp4", "sandbox-menu.pdf"):
        assert any(url.endswith("/" + name) for url in block_media), name


def test_with_the_rest_api_closed_the_html_alone_was_read(rest_closed: Scrape, rest_open: Scrape) -> None:
    assert rest_open.discovery.site["rest_available"] and not rest_closed.discovery.site["rest_available"]
    assert rest_closed.discovery.counts_by_via.get("rest", 0) == 0
    assert rest_open.discovery.counts_by_via.get("rest", 0) > 0
