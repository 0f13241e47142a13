"""Body classes and shortlink of a rendered WordPress page."""

from __future__ import annotations

from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.page_markers import PageMarkers, page_markers


def _markers(body: str, head: str = "", parser: str = "html.parser") -> PageMarkers:
    html = f"<html><head>{head}</head><body class='{body}'></body></html>"
    return page_markers(BeautifulSoup(html, parser))


def test_ids_and_single_kind() -> None:
    post = _markers("post-template-default single single-post postid-8")
    assert (post.single_kind, post.ids) == ("post", {"postid": 8})
    page = _markers("page-template-default page page-id-5 parent-pageid-2", parser="lxml")
    assert (page.single_kind, page.ids) == ("page", {"page-id": 5, "parent-pageid": 2})
    assert _markers("single single-product postid-12").single_kind is None
    assert _markers("home blog").single_kind is None
    assert _markers("page").single_kind is None  # the class alone, without its id


def test_shortlink_query() -> None:
    assert _markers("", "<link rel='shortlink' href='https://x.test/?p=7'>").shortlink == {"p": "7"}
    assert _markers("", "<link rel='alternate shortlink' href='/?page_id=4'>").shortlink == {"page_id": "4"}
    assert _markers("").shortlink == {}
