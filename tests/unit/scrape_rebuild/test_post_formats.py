"""A post's format (aside, quote, gallery...) comes across from its REST record or from the
body class WordPress prints on its page; pages and unknown values stay standard."""

from __future__ import annotations

from typing import Any

from wpmigrate.scrape_rebuild.records import DiscoveredItem
from wpmigrate.scrape_rebuild.scrape import scrape_item


def _rest(kind: str, fmt: Any) -> DiscoveredItem:
    record = {"id": 3, "type": kind, "link": f"https://old.example/{kind}/", "slug": kind, "format": fmt,
              "title": {"rendered": "T"}, "content": {"rendered": "<p>x</p>", "protected": False}}
    return DiscoveredItem(url=record["link"], kind=kind, via="rest", source_id=3, rest=record)  # type: ignore[arg-type]


def _page(body_class: str) -> str:
    return (f'<html><head><title>T</title></head><body class="{body_class}"><main>'
            '<h1 class="entry-title">T</h1><div class="entry-content"><p>x</p></div></main></body></html>')


def test_the_rest_format_is_kept_for_posts_only() -> None:
    assert scrape_item(_rest("post", "quote"), None).post_format == "quote"
    assert scrape_item(_rest("page", "quote"), None).post_format == "standard"
    for odd in (None, "", "Quote", "quote<script>", 7):
        assert scrape_item(_rest("post", odd), None).post_format == "standard", odd


def test_the_body_class_tells_the_format_of_a_crawled_post() -> None:
    item = DiscoveredItem(url="https://old.example/2021/07/a/", kind="post", via="crawl")
    aside = scrape_item(item, _page("post-template-default single single-post postid-9 single-format-aside"))
    assert (aside.kind, aside.post_format) == ("post", "aside")
    plain = scrape_item(item, _page("single single-post postid-9 single-format-standard"))
    assert plain.post_format == "standard"
    page = DiscoveredItem(url="https://old.example/about/", kind="page", via="crawl")
    assert scrape_item(page, _page("page-template-default page page-id-4 single-format-aside")).post_format \
        == "standard"
