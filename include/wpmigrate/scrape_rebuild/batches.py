"""Mode B's mapped work: discovery's finds cut into batches (one mapped ``scrape_content``
task each), the site facts every batch reads, and the scraping of one batch.

Batches are small enough that a retry repeats little, and large enough that a 1,000-page
site stays far below Airflow's max_map_length (1024).

Requests to the source: an item whose REST record carries its content (every item when
the API is open) is scraped from that record alone, with no request; only sitemap and
crawl finds (REST API closed) cost one HTML GET each. A batch's media references leave
out the attachments discovery listed and their size variants that content shows: the
media batches download those, each once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

from wpmigrate.scrape_rebuild.discovery import DiscoveryResult
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.records import (
    NESTED_TOO_DEEP,
    NESTED_TOO_DEEP_DETAIL,
    DiscoveredItem,
    Kind,
    ScrapedItem,
    Skipped,
    Term,
)
from wpmigrate.scrape_rebuild.scrape import scrape_item
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts
from wpmigrate.web.url_keys import canonical_url

log = logging.getLogger(__name__)

BATCH_SIZE = 40
# Batch order and labels; "unknown": crawled pages without WordPress markers (the scraper
# makes them pages).
_KINDS: tuple[tuple[Kind, str], ...] = (("page", "pages"), ("post", "posts"), ("unknown", "other pages"),
                                        ("media", "media"))


@dataclass
class Batch:
    name: str  # the artifact's file name, without extension
    label: str  # "pages 1-40", the mapped task's name in the UI
    kind: Kind
    items: list[DiscoveredItem]


def plan_batches(items: Iterable[DiscoveredItem], size: int = BATCH_SIZE) -> list[Batch]:
    """Items grouped by kind (pages, posts, other pages, media), ``size`` at a time."""
    items = list(items)
    batches = []
    for kind, label_kind in _KINDS:
        of_kind = [i for i in items if i.kind == kind]
        for start in range(0, len(of_kind), size):
            chunk = of_kind[start:start + size]
            batches.append(Batch(name=f"batch-{kind}-{start // size + 1:04d}",
                                 label=f"{label_kind} {start + 1}-{start + len(chunk)}",
                                 kind=kind, items=chunk))
    return batches


def site_record(result: DiscoveryResult, requests: Mapping[str, Any]) -> dict[str, Any]:
    """Discovery's site facts as JSON (``site.json``): what every later task may read."""
    return {
        "info": result.site,
        "terms": [asdict(t) for t in result.terms],
        "menu": result.menu,
        "lookups": result.lookups,
        "limits": result.limits,
        "notes": result.notes,
        "counts": result.counts,
        "counts_by_via": result.counts_by_via,
        "crawl_filtered": result.crawl_filtered,
        "requests": dict(requests),
    }


class Lookups(TypedDict):
    """``scrape_item``'s REST id lookups, as ``site_record`` stored them (ids as JSON keys)."""

    terms_by_id: dict[int, Term]
    media_by_id: dict[int, str]
    authors_by_id: dict[int, str]
    page_url_by_id: dict[int, str]


def lookups(site: Mapping[str, Any]) -> Lookups:
    stored = site.get("lookups") or {}

    def ids(name: str) -> dict[int, Any]:
        return {int(k): v for k, v in (stored.get(name) or {}).items()}

    return {
        "terms_by_id": {k: Term(**v) for k, v in ids("terms_by_id").items()},
        "media_by_id": ids("media_by_id"),
        "authors_by_id": ids("authors_by_id"),
        "page_url_by_id": ids("page_url_by_id"),
    }


@dataclass
class ScrapedBatchResult:
    scraped: list[ScrapedItem] = field(default_factory=list)
    media_refs: list[dict[str, Any]] = field(default_factory=list)  # download_all's input
    skipped: list[Skipped] = field(default_factory=list)


def media_ref(item: DiscoveredItem) -> dict[str, Any]:
    """A discovered media item as ``media_download.download_all`` takes it."""
    rest = item.rest or {}
    details = rest.get("media_details") or {}
    return {"url": canonical_url(item.url, item.url) or item.url, "source_id": item.source_id,
            "width": details.get("width") if isinstance(details.get("width"), int) else None,
            "height": details.get("height") if isinstance(details.get("height"), int) else None,
            "alt": rest.get("alt_text", ""),
            "title": (rest.get("title") or {}).get("rendered", ""),
            "caption": (rest.get("caption") or {}).get("rendered", "")}


def has_rest_content(item: DiscoveredItem) -> bool:
    """Whether the REST record alone makes the item (its rendered content is there)."""
    content = (item.rest or {}).get("content")
    return isinstance(content, dict) and "rendered" in content


def scrape_batch_items(fetcher: PoliteFetcher, items: Iterable[DiscoveredItem], site: Mapping[str, Any],
                       label: str = "") -> ScrapedBatchResult:
    """Scrape each page/post of a batch (from its REST record, else its fetched HTML); media
    items become download references, and so does every media URL a scraped page references
    that is not a listed attachment."""
    ids = lookups(site)
    variants = {int(k): v for k, v in ((site.get("lookups") or {}).get("variants_by_id") or {}).items()}
    # Files a media batch downloads: the listed attachments and their variants content shows.
    attachments = {canonical_url(url, url) for url in ids["media_by_id"].values()}
    attachments.update(ref["url"] for shown in variants.values() for ref in shown)
    hosts = source_hosts(str((site.get("info") or {}).get("home") or ""))
    out = ScrapedBatchResult()

    def further_page(url: str) -> str | None:
        # A page of a paginated entry that cannot be had is reported, not silently dropped.
        try:
            page = fetcher.get(url, content_types=("text/html",))
        except SkipUrl as skip:
            out.skipped.append(skip.skipped)
            return None
        if page.status_code != 200:
            out.skipped.append(Skipped(url, "http_status", f"HTTP {page.status_code}"))
            return None
        return page.text

    for item in items:
        if item.kind == "media":
            out.media_refs.append(media_ref(item))
            out.media_refs.extend(variants.get(item.source_id or 0, []))
            continue
        html: str | None = None
        headers = None
        if not has_rest_content(item):
            try:
                page = fetcher.get(item.url, content_types=("text/html",))
            except SkipUrl as skip:
                out.skipped.append(skip.skipped)
                continue
            if page.status_code != 200:
                out.skipped.append(Skipped(item.url, "http_status", f"HTTP {page.status_code}"))
                continue
            html, headers = page.text, page.headers
        try:
            record = scrape_item(item, html, **ids, further_page=further_page, headers=headers)
        except RecursionError:  # this item's markup, not the batch: report it, scrape the rest
            log.warning("%s: %s, left out", item.url, NESTED_TOO_DEEP_DETAIL)
            out.skipped.append(Skipped(item.url, NESTED_TOO_DEEP, NESTED_TOO_DEEP_DETAIL))
            continue
        out.scraped.append(record)
        if len(out.scraped) % 10 == 0:
            log.info("scrape_content progress: %d items of %s", len(out.scraped), label)
        # An upload asked for with a query (``x.jpg?w=604``) is the file itself: one reference.
        files = dict.fromkeys(file_url(url, hosts) for url in record.media_urls)
        out.media_refs.extend({"url": url} for url in files if url not in attachments)
    return out
