"""An item nested too deep is that item's business, never its batch's: 1,000 and 5,000
nested elements (and JSON-LD nested as deep) are scraped and imported like any page, and an
item a walk still cannot handle is recorded as left out (scrape) or refused (import) while
the rest of its batch goes through. Pages and categories nested 1,500 deep are imported
parents first, like any hierarchy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from wpmigrate.scrape_rebuild import batches, content_import
from wpmigrate.scrape_rebuild.batches import scrape_batch_items
from wpmigrate.scrape_rebuild.content_import import ImportResult, describe_refusal, import_content
from wpmigrate.scrape_rebuild.html.extract import extract_page
from wpmigrate.scrape_rebuild.html.media_refs import absolutize_urls, media_urls, rewrite_media_urls
from wpmigrate.scrape_rebuild.html.sanitize import sanitize_html
from wpmigrate.scrape_rebuild.polite_http import FetchResult
from wpmigrate.scrape_rebuild.records import NESTED_TOO_DEEP, DiscoveredItem, ScrapedItem, Term

SOURCE, TARGET = "https://old.example", "https://new.example"
DEPTHS = [1000, 5000]


def _deep(depth: int) -> str:
    return ("<div>" * depth + f'<p>deep text <a href="{SOURCE}/page/0">home</a>'
            f'<img src="{SOURCE}/deep.jpg"></p>' + "</div>" * depth)


def _page(body: str, head: str = "") -> str:
    return (f"<html><head><title>T</title>{head}</head><body><main><article>"
            f'<div class="entry-content">{body}</div></article></main></body></html>')


class _Fetcher:
    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages

    def get(self, url: str, **_: Any) -> FetchResult:
        return FetchResult(url, 200, httpx.Headers({"content-type": "text/html"}), self.pages[url].encode())


def _crawled(n: int) -> DiscoveredItem:
    return DiscoveredItem(url=f"{SOURCE}/page/{n}", kind="page", via="crawl")


@pytest.mark.parametrize("depth", DEPTHS)
def test_the_html_walks_take_deep_markup(depth: int) -> None:
    html = _deep(depth)
    assert media_urls(html, SOURCE) == [f"{SOURCE}/deep.jpg"]
    moved = {f"{SOURCE}/deep.jpg": f"{TARGET}/deep.jpg"}
    assert f"{TARGET}/deep.jpg" in rewrite_media_urls(html, moved, SOURCE)[0]
    assert "deep text" in absolutize_urls(html, SOURCE)
    assert "deep text" in sanitize_html(html, SOURCE)[0]
    assert "deep text" in extract_page(_page(html), f"{SOURCE}/page/1").content_html


@pytest.mark.parametrize("depth", DEPTHS)
def test_json_ld_nested_too_deep_is_ignored_not_fatal(depth: int) -> None:
    ld = "[" * depth + '{"@type": "Article", "datePublished": "2024-01-02T03:04:05"}' + "]" * depth
    page = extract_page(_page("<p>text</p>", f'<script type="application/ld+json">{ld}</script>'),
                        f"{SOURCE}/page/1")
    assert "text" in page.content_html


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_rest_answer_nested_too_deep_is_an_unreadable_answer(depth: int) -> None:
    """Discovery and the comments reader take ValueError as "not JSON" (that listing page is
    reported as skipped); a RecursionError went past them and sank the task."""
    body = ("[" * depth + "{}" + "]" * depth).encode()
    with pytest.raises(ValueError):
        FetchResult(f"{SOURCE}/wp-json/wp/v2/posts", 200, httpx.Headers({"content-type": "application/json"}),
                    body).json()


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deep_page_is_scraped_with_the_rest_of_its_batch(depth: int) -> None:
    pages = {f"{SOURCE}/page/{n}": _page(f"<p>page {n}</p>") for n in range(3)}
    pages[f"{SOURCE}/page/1"] = _page(_deep(depth))
    done = scrape_batch_items(_Fetcher(pages), [_crawled(n) for n in range(3)], {}, "pages 1-3")
    assert [r.source_url for r in done.scraped] == list(pages) and not done.skipped
    assert "deep text" in done.scraped[1].content_html
    assert {"url": f"{SOURCE}/deep.jpg"} in done.media_refs


def test_an_item_no_walk_can_read_is_left_out_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever still overflows (a parser, a library) costs that item only, with a reason."""
    real = batches.scrape_item

    def scrape(item: DiscoveredItem, html: str | None, **kwargs: Any) -> ScrapedItem:
        if item.url.endswith("/1"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(item, html, **kwargs)

    monkeypatch.setattr(batches, "scrape_item", scrape)
    pages = {f"{SOURCE}/page/{n}": _page(f"<p>page {n}</p>") for n in range(3)}
    done = scrape_batch_items(_Fetcher(pages), [_crawled(n) for n in range(3)], {}, "pages 1-3")
    assert [r.source_url for r in done.scraped] == [f"{SOURCE}/page/0", f"{SOURCE}/page/2"]
    assert [(s.url, s.reason) for s in done.skipped] == [(f"{SOURCE}/page/1", NESTED_TOO_DEEP)]


class _Target:
    """Just what importing pages and terms without media asks of the target."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, Any]] = {}
        self.terms: dict[str, int] = {}  # slug -> parent id, in creation order

    def ensure_term_info(self, collection: str, *, name: str, slug: str, parent: int = 0,
                         description: str = "") -> dict[str, Any]:
        created = slug not in self.terms
        self.terms.setdefault(slug, parent)
        return {"id": list(self.terms).index(slug) + 1, "created": created}

    def find_content(self, kind: str, slug: str, *, parent: int = 0) -> dict[str, Any] | None:
        return None

    def ensure_content(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.written[body["slug"]] = body
        return {"id": list(self.written).index(body["slug"]) + 1, "link": f"{TARGET}/{body['slug']}/",
                "updated": False}


def _items(deep_html: str) -> list[ScrapedItem]:
    return [ScrapedItem(kind="page", source_url=f"{SOURCE}/page/{n}", title=f"P{n}", slug=f"p{n}",
                        content_html=deep_html if n == 1 else f"<p>page {n}</p>") for n in range(3)]


def _import(items: list[ScrapedItem], target: _Target) -> ImportResult:
    return import_content(target, items, [], open_media=lambda _: b"",  # type: ignore[arg-type]
                          source_home=SOURCE, target_home=TARGET)


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deep_page_is_imported_with_the_rest(depth: int) -> None:
    target = _Target()
    result = _import(_items(_deep(depth)), target)
    assert sorted(target.written) == ["p0", "p1", "p2"] and not result.refused_items
    assert f'href="{TARGET}/p0/"' in target.written["p1"]["content"]


def test_an_item_no_rewrite_can_read_is_refused_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = content_import.rewrite_media_urls

    def rewrite(html: str, mapping: dict[str, str], base_url: str, **kwargs: Any) -> tuple[str, int]:
        if "too deep" in html:
            raise RecursionError("maximum recursion depth exceeded")
        return real(html, mapping, base_url, **kwargs)

    monkeypatch.setattr(content_import, "rewrite_media_urls", rewrite)
    target = _Target()
    result = _import(_items("<p>too deep</p>"), target)
    # Pass 1 creates each item without content; the final write of the others went through.
    assert [target.written[s]["content"] for s in ("p0", "p2")] == ["<p>page 0</p>", "<p>page 2</p>"]
    assert "too deep" not in target.written["p1"]["content"]
    refused = result.refused_items[f"{SOURCE}/page/1"]
    assert refused["reason"] == NESTED_TOO_DEEP and "nests too deeply" in describe_refusal(refused)
    assert f"{SOURCE}/page/1" not in result.url_map



HIERARCHY = 1500  # past Python's recursion limit (1,000)


def test_pages_and_categories_nested_deep_go_in_parents_first() -> None:
    slugs = [f"c{n}" for n in range(HIERARCHY)]  # c0 is the top; each next one a child of the last
    parent = {slug: slugs[n - 1] if n else None for n, slug in enumerate(slugs)}
    url = {slug: f"{SOURCE}/{slug}/" for slug in slugs}
    items = [ScrapedItem(kind="page", source_url=url[slug], title=slug, slug=slug, content_html="<p>x</p>",
                         parent_url=url[parent[slug]] if parent[slug] else None,
                         terms=[Term("category", slug, slug, parent_slug=parent[slug])]) for slug in slugs]
    target = _Target()
    result = _import(items[::-1], target)  # children listed before their parents
    assert list(target.written) == slugs and not result.refused_items
    assert [target.written[s]["parent"] for s in slugs] == list(range(HIERARCHY))  # ids follow the order
    assert list(target.terms) == slugs and list(target.terms.values()) == list(range(HIERARCHY))
    assert not [w for w in result.warnings if "top level" in w]


def test_a_missing_parent_or_a_cycle_still_means_top_level() -> None:
    terms = [Term("category", "A", "a", parent_slug="b"), Term("category", "B", "b", parent_slug="a"),
             Term("category", "S", "s", parent_slug="s"), Term("category", "O", "o", parent_slug="gone")]
    page = {slug: f"{SOURCE}/{slug}/" for slug in ("a", "b", "s", "o")}
    parents = {"a": "b", "b": "a", "s": "s", "o": "gone"}
    items = [ScrapedItem(kind="page", source_url=page[slug], title=slug, slug=slug, content_html="<p>x</p>",
                         parent_url=f"{SOURCE}/{parents[slug]}/", terms=terms)
             for slug in ("a", "b", "s", "o")]
    target = _Target()
    result = _import(items, target)
    # a's parent b comes first; b's parent a is its own descendant: b goes at the top.
    assert list(target.written) == ["b", "a", "s", "o"] and list(target.terms) == ["b", "a", "s", "o"]
    assert [target.written[s]["parent"] for s in ("b", "a", "s", "o")] == [0, 1, 0, 0]
    assert [target.terms[s] for s in ("b", "a", "s", "o")] == [0, 1, 0, 0]
    assert len([w for w in result.warnings if "top level" in w]) == 6
