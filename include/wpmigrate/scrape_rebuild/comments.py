"""Mode B: the source's approved comments, read from its public REST API.

``/wp/v2/comments`` lists every approved comment on public content to anyone, one page of
100 at a time (``orderby=id&order=asc``: parents, which are older, usually come first and
the paging is stable while the site takes new comments). Each record carries its post,
its parent, the author's public name and URL, the dates and the rendered content: what a
visitor sees, and all a visitor sees (no e-mail address, no IP). The records stream to a
JSON lines artifact page by page, so memory stays bounded whatever the site's size.

With the REST API closed (or its comments route), comments are not scraped from the
pages' HTML: they are reported as not read (a ``Skipped``), never silently missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import IO, Any
from urllib.parse import urlencode

from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.records import Skipped

PER_PAGE = 100
COMMENT_FIELDS = ("id", "post", "parent", "author_name", "author_url", "date", "date_gmt", "content",
                  "link", "type", "status")
REST_CLOSED = "comments_not_read"


@dataclass
class SourceComment:
    """One approved comment as the source shows it. ``post``/``parent``: source ids
    (``parent`` 0 for a top-level comment); ``content_html``: rendered, still unsanitised,
    its links still the source's."""

    source_id: int
    post: int
    parent: int
    author_name: str
    content_html: str
    author_url: str = ""
    date: str | None = None  # local time of the source site, as WordPress gives it
    date_gmt: str | None = None
    link: str = ""


@dataclass
class CommentsRead:
    """What ``read_comments`` did: ``skipped`` is set (and ``count`` 0) when comments could
    not be read; ``posts``: source post id -> approved comments on it."""

    count: int = 0
    posts: dict[int, int] = field(default_factory=dict)
    skipped: Skipped | None = None


def rest_url(rest_base: str, route: str, params: dict[str, Any]) -> str:
    """``route`` under the API root discovery found (``/wp-json/`` or ``?rest_route=/``)."""
    query = urlencode(params)
    sep = "&" if "rest_route=" in rest_base else "?"
    return f"{rest_base.rstrip('/')}/{route}" + (f"{sep}{query}" if query else "")


def comment_from_rest(record: dict[str, Any]) -> SourceComment | None:
    """A REST comment record as a ``SourceComment``; None for anything but an approved
    comment (pingbacks and trackbacks are not comments a visitor wrote)."""
    if record.get("type", "comment") != "comment" or record.get("status", "approved") != "approved":
        return None
    try:
        source_id, post, parent = int(record["id"]), int(record["post"]), int(record.get("parent") or 0)
    except (KeyError, TypeError, ValueError):
        return None
    content = record.get("content")
    rendered = content.get("rendered", "") if isinstance(content, dict) else ""
    return SourceComment(source_id=source_id, post=post, parent=parent,
                         author_name=str(record.get("author_name") or ""), content_html=str(rendered or ""),
                         author_url=str(record.get("author_url") or ""),
                         date=record.get("date") or None, date_gmt=record.get("date_gmt") or None,
                         link=str(record.get("link") or ""))


def read_comments(fetcher: PoliteFetcher, site: dict[str, Any], out: IO[str]) -> CommentsRead:
    """Write every approved comment of the source to ``out`` (JSON lines, by source id).

    ``site``: discovery's site facts (``rest_available``, ``rest_base``). A page that fails
    after some were written leaves a partial count and a ``Skipped`` naming where it stopped.
    """
    done = CommentsRead()
    if not site.get("rest_available") or not site.get("rest_base"):
        done.skipped = Skipped(url=str(site.get("home") or ""), reason=REST_CLOSED,
                               detail="the source's REST API is closed: approved comments could not be"
                                      " read (they are not scraped from the pages' HTML)")
        return done
    page, pages = 1, 1
    while page <= pages:
        url = rest_url(site["rest_base"], "wp/v2/comments",
                       {"per_page": PER_PAGE, "page": page, "orderby": "id", "order": "asc",
                        "_fields": ",".join(COMMENT_FIELDS)})
        try:
            result = fetcher.get(url, content_types=("application/json",))
        except SkipUrl as exc:
            done.skipped = exc.skipped
            return done
        except MigrationError as exc:
            if exc.permanent:
                done.skipped = Skipped(url=url, reason=REST_CLOSED, detail=exc.message)
                return done
            raise  # the source unreachable for now: the task's retry reads again
        try:
            data = result.json() if result.ok else None
        except ValueError:
            data = None
        if not isinstance(data, list):
            done.skipped = Skipped(url=url, reason=REST_CLOSED,
                                   detail=f"HTTP {result.status_code}: the comments route did not answer"
                                          " a list")
            return done
        for record in data:
            comment = comment_from_rest(record) if isinstance(record, dict) else None
            if comment is None:
                continue
            out.write(to_json(comment) + "\n")
            done.count += 1
            done.posts[comment.post] = done.posts.get(comment.post, 0) + 1
        header = result.headers.get("x-wp-totalpages", "")
        # Without the header (a proxy stripped it), a full page means there may be another.
        pages = int(header) if header.isdigit() else (page + 1 if len(data) >= PER_PAGE else page)
        if not data:
            break
        page += 1
    return done


def to_json(comment: SourceComment) -> str:
    return json.dumps(asdict(comment), ensure_ascii=False, separators=(",", ":"))


def read_jsonl(stream: IO[str]) -> Iterator[SourceComment]:
    known = {f.name for f in fields(SourceComment)}
    for line in stream:
        if line.strip():
            yield SourceComment(**{k: v for k, v in json.loads(line).items() if k in known})
