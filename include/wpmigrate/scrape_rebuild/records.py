"""Mode B records: what discovery finds, what scraping extracts, what media download keeps.

They travel between tasks as JSON lines in the artifact store (one record per line, so a
task streams a batch instead of loading a site); XCom only carries the files' URIs.
Field names are part of the artifact format: add fields, do not rename them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import IO, Any, Literal, TypeVar

Kind = Literal["page", "post", "media", "unknown"]
Via = Literal["rest", "sitemap", "crawl"]
# Why one item was left out when its markup or JSON nests deeper than a walk of it can go
# (Python's recursion limit, in a parser or a library): that item's loss, never its batch's.
NESTED_TOO_DEEP = "nested_too_deep"
NESTED_TOO_DEEP_DETAIL = "its content nests too deeply to be read"


@dataclass
class Term:
    """A category or tag as the source shows it; ``parent_slug`` only for categories."""

    taxonomy: Literal["category", "post_tag"]
    name: str
    slug: str
    parent_slug: str | None = None
    description: str = ""


@dataclass
class DiscoveredItem:
    """One public URL worth scraping, and what is already known about it.

    ``rest`` holds the REST API's record when discovery came through the API (the scraper
    then needs no HTML parsing for the fields the API gives); it is None for sitemap and
    crawl finds, and for ``unknown`` pages the scraper classifies itself.
    """

    url: str
    kind: Kind
    via: Via
    source_id: int | None = None
    depth: int = 0
    rest: dict[str, Any] | None = None


@dataclass
class ScrapedItem:
    """A page or post, cleaned and ready to be created on the target.

    URLs inside ``content_html`` are still the source's (absolute); import rewrites them.
    ``parent_url`` names the parent page by its source URL so the importer can order pages
    and resolve parents without source IDs (which a crawl never learns).
    """

    kind: Literal["page", "post"]
    source_url: str
    title: str
    content_html: str
    slug: str
    excerpt: str = ""
    date: str | None = None  # ISO 8601 local time of the source site, as WordPress gives it
    date_gmt: str | None = None
    modified: str | None = None
    status: str = "publish"
    parent_url: str | None = None
    menu_order: int = 0
    terms: list[Term] = field(default_factory=list)
    featured_image_url: str | None = None
    author_name: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    media_urls: list[str] = field(default_factory=list)  # every media URL the content references
    source_id: int | None = None
    removed: dict[str, int] = field(default_factory=dict)  # sanitiser counts, for the report
    # Behind a post password: a visitor (and so the scraper) never sees its content.
    password_protected: bool = False
    post_format: str = "standard"  # posts only: aside, gallery, link, image, quote, status, video...
    # "open" or "closed" as the source has them, None when unknown (the target's default
    # kept); "not_shown" when read from a page that shows neither (``discussion`` settles it).
    comment_status: str | None = None
    ping_status: str | None = None


@dataclass
class MediaFile:
    """One downloaded media file, stored content-addressed (``media/<sha256>``)."""

    source_url: str
    sha256: str
    size: int
    mime: str
    artifact_uri: str
    filename: str
    alt: str = ""
    caption: str = ""
    title: str = ""
    source_id: int | None = None
    # A size file of a listed attachment (REST ``media_details.sizes``): the attachment's
    # own file URL, the size's name and dimensions (``media_groups`` makes them one).
    attachment_url: str | None = None
    size_name: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class Skipped:
    """Something discovery or scraping left out, and why (reported, never silent)."""

    url: str
    reason: str
    detail: str = ""


AnyRecord = DiscoveredItem | ScrapedItem | MediaFile | Skipped
Record = TypeVar("Record", DiscoveredItem, ScrapedItem, MediaFile, Skipped)


def to_json(record: AnyRecord) -> str:
    return json.dumps(asdict(record), ensure_ascii=False, separators=(",", ":"))


def from_dict(cls: type[Record], data: dict[str, Any]) -> Record:
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    if cls is ScrapedItem:
        values["terms"] = [Term(**t) for t in values.get("terms", [])]
    return cls(**values)


def write_jsonl(stream: IO[str], records: Iterable[AnyRecord]) -> int:
    count = 0
    for record in records:
        stream.write(to_json(record) + "\n")
        count += 1
    return count


def read_jsonl(stream: IO[str], cls: type[Record]) -> Iterator[Record]:
    for line in stream:
        if line.strip():
            yield from_dict(cls, json.loads(line))
