"""Scraping the real sandbox source: every published page and post scraped from its REST
record and from its HTML alone gives the same entry, without the theme around it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem, Term
from wpmigrate.scrape_rebuild.scrape import normalised_text, scrape_item
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox


@dataclass
class Scraped:
    rest: dict[str, Any]
    html: str
    from_rest: ScrapedItem
    from_html: ScrapedItem


@pytest.fixture(scope="module")
def scraped(sandbox: SandboxState) -> Iterator[list[Scraped]]:
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    with httpx.Client(base_url=sandbox.source.url, timeout=30) as client:

        categories, tags = wc.rest_listing(client, "categories"), wc.rest_listing(client, "tags")
        cat_slug = {c["id"]: c["slug"] for c in categories}
        terms = {c["id"]: Term("category", c["name"], c["slug"], cat_slug.get(c["parent"]))
                 for c in categories}
        terms |= {t["id"]: Term("post_tag", t["name"], t["slug"]) for t in tags}
        media = {m["id"]: m["source_url"] for m in wc.rest_listing(client, "media")}
        authors = {u["id"]: u["name"] for u in wc.rest_listing(client, "users")}
        pages, posts = wc.rest_listing(client, "pages"), wc.rest_listing(client, "posts")
        page_urls = {p["id"]: p["link"] for p in pages}
        results = []
        for record in pages + posts:
            if record["content"].get("protected"):
                continue  # a visitor sees the password form: neither way scrapes it (flagged instead)
            response = client.get(record["link"])
            response.raise_for_status()
            html = response.text
            from_rest = scrape_item(
                DiscoveredItem(record["link"], record["type"], "rest", record["id"], rest=record), html,
                terms_by_id=terms, media_by_id=media, authors_by_id=authors, page_url_by_id=page_urls)
            # A paginated entry's further pages come through the same client (as a batch reads them).
            from_html = scrape_item(DiscoveredItem(record["link"], "unknown", "crawl"), html,
                                    further_page=lambda url: client.get(url).text)
            results.append(Scraped(record, html, from_rest, from_html))
    assert {r.rest["type"] for r in results} == {"page", "post"}
    yield results


def _terms(item: ScrapedItem) -> set[tuple[str, str, str, str | None]]:
    return {(t.taxonomy, t.slug, t.name, t.parent_slug) for t in item.terms}


def test_rest_and_html_give_the_same_entry(scraped: list[Scraped]) -> None:
    for entry in scraped:
        rest, html = entry.from_rest, entry.from_html
        where = entry.rest["link"]
        assert html.kind == rest.kind == entry.rest["type"], where
        assert html.source_id == rest.source_id == entry.rest["id"], where
        assert html.source_url == rest.source_url, where
        assert html.title == rest.title, where  # both empty for the untitled post
        assert html.slug == rest.slug and rest.slug, where
        assert html.parent_url == rest.parent_url, where
        assert _terms(html) == _terms(rest), where
        assert normalised_text(html.content_html) == normalised_text(rest.content_html), where
        assert html.media_urls == rest.media_urls, where
        assert html.author_name == rest.author_name or rest.kind == "page", where
        assert html.featured_image_url == rest.featured_image_url, where
        assert html.seo_title == rest.seo_title and rest.seo_title, where
        if rest.kind == "post":
            assert html.date is not None and rest.date is not None, where
            assert html.date[:16] == rest.date[:16], where
            assert html.date_gmt is not None and rest.date_gmt is not None, where
            assert html.date_gmt[:16] == rest.date_gmt[:16], where
        else:
            assert html.date is None, where  # Twenty Twenty-Three prints no date on pages


def test_parents_and_unicode_slugs(scraped: list[Scraped]) -> None:
    by_slug = {e.from_html.slug: e for e in scraped}
    source = scraped[0].rest["link"].split("/", 3)[:3]
    home = "/".join(source)
    assert by_slug["leadership"].from_html.parent_url == f"{home}/about-us/our-team/"
    assert by_slug["our-team"].from_html.parent_url == f"{home}/about-us/"
    assert by_slug["about-us"].from_html.parent_url is None
    cafe = next(e for e in scraped if "Café Guide" in e.from_rest.title)
    assert cafe.from_rest.slug == cafe.from_html.slug == "東京のカフェ-☕-cafe-guide-🚀"
    assert ("post_tag", "東京", "東京", None) in _terms(cafe.from_html)
    tips = by_slug["advanced-migration-tips"].from_html
    assert ("category", "advanced", "Advanced", "guides") in _terms(tips)


def test_content_is_the_entry_only(scraped: list[Scraped]) -> None:
    for entry in scraped:
        site_title = "Sandbox Source"
        # The theme's words, unless the entry itself says them (the latest-comments block
        # quotes WordPress's sample comment, which names "the Comments screen").
        written = normalised_text(entry.rest["content"]["rendered"])
        for item in (entry.from_rest, entry.from_html):
            text = normalised_text(item.content_html)
            assert site_title not in text, entry.rest["link"]
            for chrome in ("Proudly powered by", "Leave a Reply", "Comments", "Posted", "Tags:"):
                assert chrome not in text or chrome in written, (entry.rest["link"], chrome)
            assert "<script" not in item.content_html.lower()
            assert "<style" not in item.content_html.lower()
            assert "<nav" not in item.content_html.lower() and "<form" not in item.content_html.lower()
            assert item.title not in text or item.title in normalised_text(entry.rest["content"]["rendered"])
        # The page's navigation is in the HTML, not in the extracted content.
        assert "wp-block-navigation" in entry.html
        assert "wp-block-navigation" not in entry.from_html.content_html


def test_showcase_media_and_links(scraped: list[Scraped]) -> None:
    showcase = next(e for e in scraped if e.rest["slug"] == "block-editor-showcase")
    item = showcase.from_html
    home = showcase.rest["link"].rsplit("/", 2)[0]
    uploads = f"{home}/wp-content/uploads/2021/03"
    for name in ("hero-sunset.jpg", "hero-sunset-1024x640.jpg", "gallery-1.jpg", "gallery-2.png", "logo.png"):
        assert f"{uploads}/{name}" in item.media_urls, name
    assert f'src="{uploads}/logo.png"' in item.content_html  # protocol-relative made absolute
    assert "wp-block-gallery-1" not in item.content_html  # per-render class dropped
    assert showcase.from_rest.excerpt.startswith("Blocks, images and links")  # a written excerpt is kept
