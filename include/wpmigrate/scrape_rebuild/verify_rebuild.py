"""Mode B verification: the rebuilt target, read back over HTTP like a visitor would.

For every scraped page and post: its target URL answers 200 with the same title and the
same normalised text, and nothing in its main content still points at the source origin.
An item the import could not bring over (refused by the target, password-protected) is a
loss with the import's reason. An untitled item's page shows no title block, so WordPress's
document title falls back to the site name: that counts as the same (empty) title.
For every media file: the target serves the same bytes (sha256), at the same path when it
could keep it. Every published page, post and media file must answer at its source path
on the target (``public_paths``): a lost public path is a loss. For every source post
with approved comments (``comments``): its target post shows each of them, approved, under
the same parent and with the same text, read from the target's public REST API; a comment
the import could not bring over is a loss with the target's reason. Each page and post keeps
the source's comment and ping settings (``verify_discussion``). Counts per type and the
discovery's skips and limits are reported; any loss fails the run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.comments import SourceComment
from wpmigrate.scrape_rebuild.comments_import import describe_refusal as describe_comment_refusal
from wpmigrate.scrape_rebuild.content_import import PASSWORD_PROTECTED, describe_refusal
from wpmigrate.scrape_rebuild.html.media_refs import LAZY_URL_ATTRS, SRCSET_ATTRS, parse_srcset
from wpmigrate.scrape_rebuild.html.sanitize import sanitize_html
from wpmigrate.scrape_rebuild.public_paths import lost_media_path, lost_path
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem
from wpmigrate.scrape_rebuild.verify_discussion import CHECKS as DISCUSSION_CHECKS
from wpmigrate.scrape_rebuild.verify_discussion import DiscussionCheck

# (title, main content html) of a rendered page.
Extractor = Callable[[str, str], tuple[str, str]]
_URL_ATTRS = ("href", "src", "poster", *LAZY_URL_ATTRS)
_MAX_LOSSES = 500
_CONTENT_CHECKS = ("not_migrated", "missing", "http_status", "title", "text")
_PATH_LOST = "path_lost"
_COMMENT_CHECKS = ("comment_not_migrated", "comment_missing", "comment_threading", "comment_text")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def source_links(html: str, base_url: str, source_origins: Iterable[str]) -> list[str]:
    """URLs in ``html`` (links, images, srcset candidates, inline CSS) on a source origin,
    scheme-insensitive (``//host`` and ``http``/``https`` twins count)."""
    hosts = {urlsplit(o).netloc.lower() for o in source_origins}
    found: list[str] = []
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        for attr in (*_URL_ATTRS, *SRCSET_ATTRS):
            value = tag.get(attr)
            if not value:
                continue
            text = " ".join(value) if isinstance(value, list) else str(value)
            # srcset candidates as browsers split them (a CDN URL may hold commas)
            candidates = [url for url, _ in parse_srcset(text)] if attr in SRCSET_ATTRS else [text]
            for candidate in candidates:
                absolute = urljoin(base_url, candidate)
                if urlsplit(absolute).netloc.lower() in hosts:
                    found.append(absolute)
        style = tag.get("style")
        if style and any(h in str(style).lower() for h in hosts):
            found.append(f"style: {str(style)[:120]}")
    return found


def verify_rebuild(
    *,
    client: httpx.Client,
    scraped: Iterable[ScrapedItem],
    url_map: Mapping[str, str],
    media: Iterable[MediaFile],
    media_url_map: Mapping[str, str],
    source_origins: Iterable[str],
    extract: Extractor,
    normalise: Callable[[str], str],
    discovery: Mapping[str, Any] | None = None,
    expected_text: Callable[[str], str] = lambda html: html,
    refused_media: Mapping[str, str] | None = None,
    refused_items: Mapping[str, Mapping[str, Any]] | None = None,
    site_name: str | None = None,
    target_home: str | None = None,
    comments: Iterable[SourceComment] | None = None,
    comments_map: Mapping[str, Any] | None = None,
    comments_note: str | None = None,
    source_is_wordpress: bool = True,
) -> dict[str, Any]:
    """Read the target back and compare. ``url_map``: source page/post URL -> target URL;
    ``media_url_map``: source media URL -> target media URL; ``expected_text`` turns scraped
    content into what the target should say (the import rewrites the source origin written
    out as text to the target's); ``refused_items``: the import's ``refused_items``;
    ``site_name``: the target's title (what an untitled item's page shows as its title);
    ``target_home``: also check the text fields outside the content (``text_fields``);
    ``comments`` (the source's approved comments) with ``comments_map`` (the comment import's
    ``to_dict()``) and ``target_home``: check them (``comments``); ``comments_note``: why
    comments were not read, for the report. ``source_is_wordpress`` False (a rebuild allowed
    from HTML alone): a lost path is a warning carried by the redirect map, since WordPress
    cannot serve such a site's own URL scheme (``about.html``, its home as a page)."""
    origins = sorted({_origin(o) for o in source_origins})
    losses: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    items: list[dict[str, Any]] = []

    def loss(kind: str, url: str, detail: str) -> None:
        counts[f"loss_{kind}"] += 1
        if len(losses) < _MAX_LOSSES:
            losses.append({"check": kind, "url": url, "detail": detail})

    not_migratable: list[dict[str, str]] = []  # what a visitor cannot see either: reported, not a loss
    moved: list[dict[str, str]] = []  # lost paths of a source that is not WordPress: warnings

    def path_lost(url: str, detail: str) -> None:
        if source_is_wordpress:
            loss(_PATH_LOST, url, detail)
            return
        counts["path_moved"] += 1
        if len(moved) < _MAX_LOSSES:
            moved.append({"url": url, "detail": f"{detail} (not WordPress: the redirect map carries it)"})
    discussion = DiscussionCheck()  # the comment and ping settings of every item served
    for item in scraped:
        counts[f"{item.kind}s_scraped"] += 1
        discussion.observe(item)
        target_url = url_map.get(item.source_url)
        row: dict[str, Any] = {"kind": item.kind, "source_url": item.source_url, "target_url": target_url}
        items.append(row)
        refused = (refused_items or {}).get(item.source_url)
        if refused and not target_url and refused.get("reason") == PASSWORD_PROTECTED:
            row["refused"] = dict(refused)
            counts["not_migratable"] += 1
            not_migratable.append({"url": item.source_url,
                                   "detail": f"{item.kind} {item.title!r}: {describe_refusal(refused)}"})
            continue
        if refused and not target_url:
            row["refused"] = dict(refused)
            loss("not_migrated", item.source_url,
                 f"{item.kind} {item.title!r} (slug {item.slug!r}): {describe_refusal(refused)}")
            continue
        if not target_url:
            loss("missing", item.source_url, f"{item.kind} {item.title!r} has no target URL")
            continue
        response = client.get(target_url, follow_redirects=True)
        row["status"] = response.status_code
        if response.status_code != 200:
            loss("http_status", item.source_url, f"{target_url} answered {response.status_code}")
            continue
        discussion.served(item, str(response.url))
        title, content = extract(response.text, str(response.url))
        row["title_ok"] = _same_title(normalise(title), normalise(item.title), normalise(site_name or ""))
        if not row["title_ok"]:
            loss("title", item.source_url, f"source {item.title!r} != target {title!r}")
        expected = normalise(expected_text(item.content_html))
        row["text_ok"] = normalise(content) == expected
        if not row["text_ok"]:
            loss("text", item.source_url, _first_difference(expected, normalise(content)))
        leftovers = source_links(content, str(response.url), origins)
        if leftovers:
            loss("source_links", item.source_url,
                 f"{len(leftovers)} link(s) to the source, e.g. {leftovers[0]}")
        counts[f"{item.kind}s_verified"] += int(row["title_ok"] and row["text_ok"] and not leftovers)
        if target_home:
            lost = lost_path(client, target_home, item.source_url, str(response.url))
            row["same_path"] = lost is None
            counts["same_path"] += int(row["same_path"])
            if lost:
                path_lost(item.source_url, f"{item.kind} {item.title!r}: {lost}")

    seen: set[str] = set()
    total_bytes = 0
    for file in media:
        if file.source_url in seen:
            continue
        seen.add(file.source_url)
        counts["media_expected"] += 1
        target_url = media_url_map.get(file.source_url)
        if not target_url:
            why = (refused_media or {}).get(file.source_url)
            loss("media_missing", file.source_url, why or "not on the target")
            continue
        digest, size = _sha256_of(client, target_url)
        if digest != file.sha256:
            loss("media_hash", file.source_url, f"{target_url}: sha256 {digest} != {file.sha256}")
            continue
        counts["media_verified"] += 1
        total_bytes += size
        if target_home and _origin(file.source_url) in origins:  # another host's file had no path here
            lost = lost_media_path(client, target_home, file.source_url, target_url)
            counts["media_same_path"] += int(lost is None)
            if lost:
                path_lost(file.source_url, lost)

    if target_home:
        for problem in text_field_leftovers(client, target_home, origins):
            loss("text_field", problem["where"], problem["detail"])
        counts["text_fields_checked"] = 1

    discussion_warnings = discussion.check(client, target_home, loss) if target_home else []

    # Rows of the report's warnings table: {url, detail}.
    comment_warnings: list[dict[str, str]] = [{"url": "", "detail": comments_note}] if comments_note else []
    if comments is not None and target_home:
        for problem in comment_problems(client, target_home, comments, comments_map or {},
                                        expected_text=expected_text, normalise=normalise, counts=counts):
            if problem["check"] == "comment_warning":
                comment_warnings.append({"url": problem["url"], "detail": problem["detail"]})
            else:
                loss(problem["check"], problem["url"], problem["detail"])

    discovery = dict(discovery or {})
    paths_checked = sum(counts[k] for k in ("same_path", "media_same_path", "path_moved",
                                            f"loss_{_PATH_LOST}"))
    skipped = list(discovery.get("skipped", []))
    notes = list(discovery.get("notes", []))
    sections = {
        "content": _section("Pages and posts at their new URLs (200, same title, same text)",
                            counts["pages_scraped"] + counts["posts_scraped"],
                            [x for x in losses if x["check"] in _CONTENT_CHECKS], not_migratable),
        **({"paths": {**_section("Pages, posts and media answer at the path they had on the source",
                                 paths_checked, [x for x in losses if x["check"] == _PATH_LOST],
                                 moved),
                      "notes": permalink_notes(discovery)}} if target_home else {}),
        "source_links": _section("No link or image in the target content points at the source",
                                 counts["pages_scraped"] + counts["posts_scraped"],
                                 [x for x in losses if x["check"] == "source_links"]),
        **({"text_fields": _section(
            "No term description, media text, menu or header on the target names the source",
            counts["text_fields_checked"], [x for x in losses if x["check"] == "text_field"])}
           if target_home else {}),
        **({"discussion": _section(discussion.title, len(discussion.items),
                                   [x for x in losses if x["check"] in DISCUSSION_CHECKS],
                                   discussion_warnings)} if target_home else {}),
        "media": _section("Media on the target, byte-identical (sha256)", counts["media_expected"],
                          [x for x in losses if x["check"].startswith("media")]),
        **({"comments": _comments_section(counts["comments_expected"],
                                          [x for x in losses if x["check"] in _COMMENT_CHECKS],
                                          comment_warnings)}
           if comments is not None or comments_note else {}),
        "discovery": {"title": "Discovery: what was found, skipped and why",
                      "status": "warn" if skipped or notes else "pass",
                      "checked": sum(int(v) for v in (discovery.get("counts") or {}).values()),
                      "problem_count": 0, "warning_count": len(skipped), "notes": notes,
                      "warnings": skipped[:_MAX_LOSSES], "counts": discovery.get("counts") or {}},
    }
    return {
        "ok": not losses,
        "mode": "scrape_rebuild",
        "old_origins": origins,
        "counts": dict(counts),
        "media_bytes": total_bytes,
        "losses": losses,
        "losses_total": sum(v for k, v in counts.items() if k.startswith("loss_")),
        "sections": sections,
        "items": items,
        "skipped": skipped,
        "limits": discovery.get("limits", {}),
    }


def _same_title(target: str, source: str, site_name: str) -> bool:
    if target == source:
        return True
    # Untitled: no title block, and the document title is the site name alone.
    return not source and bool(site_name) and target == site_name


def _section(title: str, checked: int, problems: list[dict[str, Any]],
             warnings: list[dict[str, str]] | None = None) -> dict[str, Any]:
    status = "fail" if problems else "warn" if warnings else "pass"
    section: dict[str, Any] = {"title": title, "status": status, "checked": checked,
                               "problem_count": len(problems), "problems": problems[:100]}
    if warnings:
        section.update(warning_count=len(warnings), warnings=warnings[:_MAX_LOSSES])
    return section


def permalink_notes(discovery: Mapping[str, Any] | None) -> list[str]:
    """How posts kept their paths: the structure the target was given, or why there was none."""
    learnt = (discovery or {}).get("permalinks") or {}
    if not learnt:
        return []
    if learnt.get("structure"):
        return [f"permalink structure {learnt['structure']} given to the target ({learnt.get('reason')})"]
    return [f"permalink structure not inferred: {learnt.get('reason')}"]


def _comments_section(checked: int, problems: list[dict[str, Any]],
                      warnings: list[dict[str, str]]) -> dict[str, Any]:
    section = _section("Approved comments on their posts, same threading and text", checked, problems)
    if warnings and not problems:
        section["status"] = "warn"  # not read (REST API closed), or on posts not migrated
    return {**section, "warning_count": len(warnings), "warnings": warnings[:100]}


def _sha256_of(client: httpx.Client, url: str) -> tuple[str | None, int]:
    digest = hashlib.sha256()
    size = 0
    with client.stream("GET", url, follow_redirects=True) as response:
        if response.status_code != 200:
            return None, 0
        for chunk in response.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _first_difference(expected: str, actual: str, context: int = 40) -> str:
    for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            start = max(0, index - context)
            end = index + context
            return f"at {index}: source …{expected[start:end]!r} target …{actual[start:end]!r}"
    return f"lengths differ: source {len(expected)} chars, target {len(actual)} chars"


# Public REST collections and the plain-text fields in them the import writes.
_TEXT_FIELDS = {"categories": ("description", "name"), "tags": ("description", "name"),
                "media": ("alt_text", "caption", "title")}


def text_field_leftovers(client: httpx.Client, target_home: str,
                         source_origins: Iterable[str]) -> Iterator[dict[str, str]]:
    """Mentions of a source host outside the pages' main content: term descriptions and
    names, media alt text, captions and titles (the target's public REST API, page by page),
    and the home page's whole HTML (menus, header, footer)."""
    hosts = {urlsplit(o).netloc.lower() for o in source_origins}
    base = target_home.rstrip("/")
    for collection, fields in _TEXT_FIELDS.items():
        page = 1
        while True:
            response = client.get(f"{base}/", params={"rest_route": f"/wp/v2/{collection}", "per_page": 100,
                                                       "page": page, "context": "view"})
            if response.status_code != 200:
                break  # past the last page (400), or the collection is not public
            records = response.json()
            for record in records:
                for field in fields:
                    value = record.get(field)
                    text = str(value.get("rendered", "")) if isinstance(value, dict) else str(value or "")
                    if any(h in text.lower() for h in hosts):
                        yield {"where": str(record.get("link") or f"{collection}/{record.get('id')}"),
                               "detail": f"{collection} {field} names the source: {text[:120]}"}
            if len(records) < 100:
                break
            page += 1
    home = client.get(f"{base}/", follow_redirects=True)
    for url in source_links(home.text, str(home.url), [f"http://{h}" for h in hosts])[:20]:
        yield {"where": str(home.url), "detail": f"the home page (menu, header or footer) links to {url}"}



def comment_problems(client: httpx.Client, target_home: str, comments: Iterable[SourceComment],
                     comments_map: Mapping[str, Any], *, expected_text: Callable[[str], str],
                     normalise: Callable[[str], str], counts: Counter[str]) -> Iterator[dict[str, str]]:
    """Losses (``check``: ``comment_*``) and warnings (``comment_warning``) of the comments.

    Each source comment the import mapped must be listed, approved, on its target post, under
    the target comment its source parent became (top level when that parent is not on the
    target), with the same text. Comments on posts that are not on the target are warnings:
    the post's own loss is reported. The target's other comments (a fresh site's sample
    comment) are warnings too: nothing was lost."""
    ids = {int(k): int(v) for k, v in (comments_map.get("ids") or {}).items()}
    posts = {int(k): int(v) for k, v in (comments_map.get("posts") or {}).items()}
    refused = {int(k): v for k, v in (comments_map.get("refused") or {}).items()}
    # target post -> target comment id -> (source id, expected target parent, expected text)
    expected: dict[int, dict[int, tuple[int, int, str]]] = {}
    for comment in comments:
        counts["comments_expected"] += 1
        where = comment.link or f"comment {comment.source_id}"
        target_post = posts.get(comment.post)
        if comment.source_id in refused:
            yield {"check": "comment_not_migrated", "url": where,
                   "detail": f"comment {comment.source_id} by {comment.author_name!r}: "
                             f"{describe_comment_refusal(refused[comment.source_id])}"}
            continue
        if target_post is None:
            counts["comments_post_not_migrated"] += 1
            yield {"check": "comment_warning", "url": where,
                   "detail": f"{where}: its post (source id {comment.post}) is not on the target"}
            continue
        if comment.source_id not in ids:
            yield {"check": "comment_missing", "url": where,
                   "detail": f"comment {comment.source_id} by {comment.author_name!r} was not imported"}
            continue
        parent = ids.get(comment.parent, 0) if comment.parent else 0
        text = normalise(expected_text(sanitize_html(comment.content_html)[0]))
        expected.setdefault(target_post, {})[ids[comment.source_id]] = (comment.source_id, parent, text)
    base = target_home.rstrip("/")
    for target_post, wanted in expected.items():
        shown = dict(_public_comments(client, base, target_post))
        for target_id, (source_id, parent, text) in wanted.items():
            where = f"{base}/?p={target_post}#comment-{target_id}"
            got = shown.pop(target_id, None)
            if got is None:
                yield {"check": "comment_missing", "url": where,
                       "detail": f"source comment {source_id}: not shown (approved) on target post"
                                 f" {target_post}"}
                continue
            if int(got.get("parent") or 0) != parent:
                yield {"check": "comment_threading", "url": where,
                       "detail": f"source comment {source_id}: parent {got.get('parent')} on the target,"
                                 f" {parent} expected"}
            content = got.get("content")
            rendered = content.get("rendered", "") if isinstance(content, dict) else ""
            if normalise(str(rendered)) != text:
                yield {"check": "comment_text", "url": where,
                       "detail": f"source comment {source_id}: "
                                 f"{_first_difference(text, normalise(str(rendered)))}"}
                continue
            counts["comments_verified"] += 1
        if shown:
            yield {"check": "comment_warning", "url": f"{base}/?p={target_post}",
                   "detail": f"target post {target_post} also shows {len(shown)} comment(s) not from the"
                             f" source (ids {sorted(shown)[:10]})"}


def _public_comments(client: httpx.Client, base: str, post: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """The approved comments a visitor sees on target post ``post`` (public REST API)."""
    page = 1
    while True:
        response = client.get(f"{base}/", params={"rest_route": "/wp/v2/comments", "post": post,
                                                   "per_page": 100, "page": page,
                                                   "_fields": "id,parent,content"})
        if response.status_code != 200:
            return
        records = response.json()
        for record in records:
            yield int(record["id"]), record
        if len(records) < 100:
            return
        page += 1
