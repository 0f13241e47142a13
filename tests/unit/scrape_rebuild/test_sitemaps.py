"""Sitemap names and sitemap XML."""

from __future__ import annotations

import pytest

from wpmigrate.scrape_rebuild.sitemaps import iter_sitemap, parse_sitemap, sitemap_kind


@pytest.mark.parametrize(("name", "kind"), [
    ("wp-sitemap.xml", "unknown"), ("sitemap_index.xml", "unknown"), ("sitemap.xml", "unknown"),
    ("wp-sitemap-posts-page-1.xml", "page"), ("wp-sitemap-posts-post-12.xml", "post"),
    ("wp-sitemap-posts-product-1.xml", "other:product"), ("wp-sitemap-taxonomies-category-1.xml", None),
    ("wp-sitemap-users-1.xml", None), ("page-sitemap.xml", "page"), ("post-sitemap3.xml", "post"),
    ("post_tag-sitemap.xml", None), ("category-sitemap.xml", None), ("author-sitemap.xml", None),
    ("attachment-sitemap.xml", None), ("product-sitemap.xml", "other:product"),
])
def test_sitemap_kind(name: str, kind: str | None) -> None:
    assert sitemap_kind(f"https://x.test/{name}") == kind


def test_parse_sitemap_is_safe() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
            b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.test/&lol2;&xxe;</loc>'
            b"</url></urlset>")
    tag, locs = parse_sitemap(bomb)
    assert tag == "urlset"
    assert all("lol" not in loc and "root:" not in loc for loc in locs)
    images = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
              b'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>https://x.test/a/</loc>'
              b"<image:image><image:loc>https://x.test/i.jpg</image:loc></image:image></url></urlset>")
    assert parse_sitemap(images) == ("urlset", ["https://x.test/a/"])
    assert parse_sitemap(b"<html>not xml")[1] == []


def test_iter_sitemap_streams_what_parse_sitemap_lists() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
            b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.test/&lol2;&xxe;</loc>'
            b"</url></urlset>")
    tag, locs = iter_sitemap(bomb)
    assert tag == "urlset" and all("lol" not in loc and "root:" not in loc for loc in locs)
    images = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
              b'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>https://x.test/a/</loc>'
              b"<image:image><image:loc>https://x.test/i.jpg</image:loc></image:image></url><!-- c -->"
              b"<url><loc> https://x.test/b/ </loc></url></urlset>")
    tag, locs = iter_sitemap(images)
    assert (tag, list(locs)) == parse_sitemap(images) == ("urlset", ["https://x.test/a/", "https://x.test/b/"])
    index = b"<sitemapindex><sitemap><loc>https://x.test/s1.xml</loc></sitemap><sitemap><loc>https://x"
    tag, locs = iter_sitemap(index)  # cut short: what came before the break is kept
    assert (tag, list(locs)) == ("sitemapindex", ["https://x.test/s1.xml"])
    assert iter_sitemap(b"<html>not xml")[0] in ("", "html")
