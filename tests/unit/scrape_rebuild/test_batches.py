"""Cutting discovery's finds into batches, the site facts batches share, scraping a batch."""

from __future__ import annotations

from typing import Any

import httpx

from wpmigrate.scrape_rebuild.batches import lookups, plan_batches, scrape_batch_items
from wpmigrate.scrape_rebuild.polite_http import FetchResult, SkipUrl
from wpmigrate.scrape_rebuild.records import DiscoveredItem, Skipped, Term


def _items(kind: Any, n: int) -> list[DiscoveredItem]:
    return [DiscoveredItem(url=f"https://old.example/{kind}/{i}", kind=kind, via="crawl") for i in range(n)]


def test_batches_by_kind_in_order_with_labels() -> None:
    items = _items("media", 3) + _items("post", 41) + _items("unknown", 1) + _items("page", 2)
    batches = plan_batches(items, size=40)
    assert [(b.name, b.label, len(b.items)) for b in batches] == [
        ("batch-page-0001", "pages 1-2", 2),
        ("batch-post-0001", "posts 1-40", 40),
        ("batch-post-0002", "posts 41-41", 1),
        ("batch-unknown-0001", "other pages 1-1", 1),
        ("batch-media-0001", "media 1-3", 3),
    ]
    assert plan_batches([]) == []


def test_lookups_restore_int_ids_and_terms() -> None:
    site = {"lookups": {"terms_by_id": {"7": {"taxonomy": "category", "name": "News", "slug": "news"}},
                        "media_by_id": {"3": "https://old.example/a.jpg"}}}
    found = lookups(site)
    assert found["terms_by_id"] == {7: Term("category", "News", "news")}
    assert found["media_by_id"] == {3: "https://old.example/a.jpg"}
    assert found["authors_by_id"] == {} and lookups({})["page_url_by_id"] == {}


class _Fetcher:
    def __init__(self, pages: dict[str, tuple[int, str]]) -> None:
        self.pages = pages

    def get(self, url: str, **_: Any) -> FetchResult:
        if url not in self.pages:
            raise SkipUrl(url, "robots", "disallowed")
        status, html = self.pages[url]
        return FetchResult(url, status, httpx.Headers({"content-type": "text/html"}), html.encode())


def test_scrape_batch_items_scrapes_skips_and_collects_media() -> None:
    page = ("<html><head><title>Hello</title></head><body><main><h1>Hello</h1>"
            '<p>Text <img src="https://old.example/img.png"></p></main></body></html>')
    fetcher = _Fetcher({"https://old.example/page/0": (200, page), "https://old.example/page/1": (404, "")})
    media = DiscoveredItem(url="https://old.example/m.jpg", kind="media", via="rest", source_id=5,
                           rest={"alt_text": "alt", "title": {"rendered": "T"}})
    items = [*_items("page", 3), media]
    done = scrape_batch_items(fetcher, items, {}, "pages 1-3")
    assert [r.source_url for r in done.scraped] == ["https://old.example/page/0"]
    assert done.skipped == [Skipped("https://old.example/page/1", "http_status", "HTTP 404"),
                            Skipped("https://old.example/page/2", "robots", "disallowed")]
    assert {"url": "https://old.example/m.jpg", "source_id": 5, "alt": "alt", "title": "T",
            "caption": "", "width": None, "height": None} in done.media_refs
    assert {"url": "https://old.example/img.png"} in done.media_refs


def test_rest_items_need_no_request_and_media_batches_own_attachment_files() -> None:
    content = ('<p>Hi <img src="https://old.example/a-300x200.jpg" srcset="https://old.example/a.jpg 2x">'
               '<img src="https://other.example/b.png"></p>')
    post = DiscoveredItem(url="https://old.example/p/", kind="post", via="rest", source_id=1, rest={
        "id": 1, "type": "post", "link": "https://old.example/p/", "title": {"rendered": "Hi"},
        "content": {"rendered": content, "protected": False}, "slug": "p", "author": 3})
    site = {"lookups": {"media_by_id": {"7": "https://old.example/a.jpg"}, "authors_by_id": {"3": "Jun"},
                        "variants_by_id": {"7": [{"url": "https://old.example/a-300x200.jpg",
                                                  "attachment_url": "https://old.example/a.jpg",
                                                  "size": "medium", "width": 300, "height": 200}]}}}
    done = scrape_batch_items(_Fetcher({}), [post], site, "posts 1-1")  # any fetch would be skipped
    assert not done.skipped and done.scraped[0].title == "Hi" and done.scraped[0].author_name == "Jun"
    # Content refs leave the attachment and its shown variant to the media batch.
    assert done.media_refs == [{"url": "https://other.example/b.png"}]
    media = DiscoveredItem(url="https://old.example/a.jpg", kind="media", via="rest", source_id=7, rest={})
    refs = scrape_batch_items(_Fetcher({}), [media], site).media_refs
    assert [r["url"] for r in refs] == ["https://old.example/a.jpg", "https://old.example/a-300x200.jpg"]
    # The size file names its attachment and size: the import makes them one attachment.
    assert refs[1]["attachment_url"] == "https://old.example/a.jpg" and refs[1]["size"] == "medium"


def test_an_upload_shown_with_query_strings_is_one_reference_to_its_file() -> None:
    """``photo.jpg?w=604``, ``?resize=300,200`` and the plain file are one download; a listed
    attachment asked for with a query is still the media batch's."""
    up = "https://old.example/wp-content/uploads/2008/06"
    page = ("<html><head><title>Q</title></head><body><main><h1>Q</h1>"
            f'<p><img src="{up}/photo.jpg?w=604"><img src="{up}/photo.jpg?resize=300,200">'
            f'<img src="{up}/photo.jpg"><audio><source src="{up}/song.mp3?_=1"></audio>'
            f'<img src="{up}/listed.jpg?w=100"><img src="{up}/get.php?f=1.jpg"></p></main></body></html>')
    item = DiscoveredItem(url="https://old.example/q/", kind="page", via="crawl")
    site = {"info": {"home": "https://www.old.example/"},
            "lookups": {"media_by_id": {"9": f"{up}/listed.jpg"}}}
    done = scrape_batch_items(_Fetcher({item.url: (200, page)}), [item], site)
    # A script under the folder keeps its query: it may choose the bytes.
    assert done.media_refs == [{"url": f"{up}/photo.jpg"}, {"url": f"{up}/song.mp3"},
                               {"url": f"{up}/get.php?f=1.jpg"}]
