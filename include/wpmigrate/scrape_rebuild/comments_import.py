"""Mode B: the source's approved comments onto the target, threading kept, idempotently.

Each comment is created through ``POST /wp/v2/comments`` as the platform's administrator
(who may set the author, the dates, the parent and ``status: approved``), on the target
post its source post became, under the target comment its source parent became. Comments
come in source id order, so a parent is written before its replies; a reply whose parent
comes later is held back until it is written.

Idempotency key: the comment's ``author_user_agent`` holds ``wpmigrate-comment/<16 hex
digits of the sha256 of the source host>/<source comment id>`` (the host hashed: no field
on the target names the source). A re-run lists the target post's comments (edit context) and
skips every source comment whose marker is there. The marker names the source comment
itself, so it survives what changes the text between runs (the sanitiser, WordPress's
kses and ``rel=ugc`` filters, a target admin's edit) and tells apart two comments that
look alike; the user agent is never shown to visitors, and WordPress core needs no
registered meta (a plugin the platform target may not have) to store it.

The source never shows a commenter's e-mail address, while WordPress requires one by
default (``require_name_email``): each comment gets ``comment-<id>@migrated.invalid``
(the reserved ``.invalid`` domain: nothing is ever delivered), so avatars fall back to
the default picture. An empty author name becomes "Anonymous", as WordPress shows it.

On an item whose comments are closed (on the source, after they were written) WordPress
refuses new comments: the item is opened for them, then closed again (``comments_reopen``).

One comment never sinks the import: one the target refuses (a 4xx with WordPress's code
and message), or whose content nests too deeply to read, is recorded in ``refused`` and
verification counts it as a loss. A comment
whose post is not on the target (not in scope, refused, password-protected) is recorded
in ``not_migrated``, not a loss of its own (the post's loss is reported already).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.comments import SourceComment
from wpmigrate.scrape_rebuild.comments_reopen import COMMENTS_CLOSED, Reopen, reopened_for_comments
from wpmigrate.scrape_rebuild.content_import import ImportResult, UrlMap, _Rewriter
from wpmigrate.scrape_rebuild.html.sanitize import sanitize_html
from wpmigrate.scrape_rebuild.records import NESTED_TOO_DEEP, NESTED_TOO_DEEP_DETAIL, ScrapedItem
from wpmigrate.target.wp_rest import ANY_STATUS, WordPressRestTarget
from wpmigrate.web.url_keys import url_key

MARKER_PREFIX = "wpmigrate-comment/"
PLACEHOLDER_EMAIL = "comment-{id}@migrated.invalid"
ANONYMOUS = "Anonymous"
REFUSED_BY_TARGET = "refused_by_target"
POST_NOT_MIGRATED = "post_not_migrated"
_LOCAL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")

Comments = Iterable[SourceComment] | Callable[[], Iterable[SourceComment]]


@dataclass
class CommentsImport:
    """``ids``: source comment id -> target comment id (created or found again);
    ``posts``: source post id -> target post id; ``refused``: source comment id ->
    ``{post, author_name, reason, status, code, message}``; ``not_migrated``: source
    comment id -> why its post is not on the target."""

    created: int = 0
    unchanged: int = 0
    ids: dict[int, int] = field(default_factory=dict)
    posts: dict[int, int] = field(default_factory=dict)
    refused: dict[int, dict[str, Any]] = field(default_factory=dict)
    not_migrated: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "unchanged": self.unchanged, "ids": self.ids, "posts": self.posts,
                "refused": self.refused, "not_migrated": self.not_migrated}


def comment_marker(source_home: str, source_id: int) -> str:
    """The ``author_user_agent`` that names a source comment on the target."""
    host = (urlsplit(source_home).netloc or source_home).lower().removeprefix("www.")
    return f"{MARKER_PREFIX}{hashlib.sha256(host.encode()).hexdigest()[:16]}/{source_id}"


def commented_posts(comments: Iterable[SourceComment]) -> set[int]:
    """The source post ids that have comments (a light first pass over the artifact)."""
    return {c.post for c in comments}


def target_posts(target: WordPressRestTarget, scraped: Iterable[ScrapedItem], wanted: set[int],
                 url_map: Mapping[str, str], collections: dict[int, str] | None = None) -> dict[int, int]:
    """Source post id -> target post id, for the ``wanted`` posts the content import put on
    the target (``url_map``: source URL -> target URL). Slugs repeat across parents, so the
    target item is the one at the mapped URL. ``collections`` (when given) is filled with
    target post id -> its REST collection (``pages``/``posts``), for ``import_comments``."""
    found: dict[int, int] = {}
    targets = UrlMap(url_map)
    for item in scraped:
        if item.source_id is None or item.source_id not in wanted or item.source_id in found:
            continue
        link = targets.get(item.source_url)
        if link is None:
            continue
        candidates = target.request_json("GET", f"{item.kind}s", what=f"finding {item.kind} {item.slug!r}",
                                         params={"slug": item.slug, "status": ANY_STATUS, "context": "edit",
                                                 "_fields": "id,link"})
        match = [c for c in candidates if url_key(str(c.get("link", ""))) == url_key(link)]
        if match or len(candidates) == 1:
            found[item.source_id] = int((match or candidates)[0]["id"])
            if collections is not None:
                collections[found[item.source_id]] = f"{item.kind}s"
    return found


def import_comments(target: WordPressRestTarget, comments: Comments, *, post_ids: Mapping[int, int],
                    source_home: str, target_home: str, url_map: Mapping[str, str],
                    media_map: Mapping[str, Mapping[str, Any]] | None = None,
                    collections: Mapping[int, str] | None = None) -> CommentsImport:
    """Create every source comment not yet on the target; see the module docstring.
    ``media_map``: the content import's (source media URL -> {id, url}); ``collections``:
    target post id -> ``pages``/``posts`` (``target_posts`` fills it): a post whose comments
    are closed is opened for its comments, then closed again."""
    result = CommentsImport(posts=dict(post_ids))
    with reopened_for_comments(target, collections or {}) as reopen:
        _import_all(target, comments, result, source_home, target_home, url_map, media_map, reopen)
    return result


def _import_all(target: WordPressRestTarget, comments: Comments, result: CommentsImport, source_home: str,
                target_home: str, url_map: Mapping[str, str],
                media_map: Mapping[str, Mapping[str, Any]] | None, reopen: Reopen) -> None:
    media = {k: dict(v) for k, v in (media_map or {}).items()}
    rewriter = _Rewriter(source_home, target_home, ImportResult(media_map=media))
    rewriter.links = UrlMap(url_map)
    existing: dict[int, dict[str, int]] = {}  # target post -> {marker: target comment id}
    held: list[SourceComment] = []  # replies whose parent comes later in id order
    seen: set[int] = set()
    stream = comments() if callable(comments) else comments
    for comment in stream:
        seen.add(comment.source_id)
        if comment.parent and comment.parent > comment.source_id:
            held.append(comment)
            continue
        _one(target, comment, result, rewriter, existing, source_home, reopen)
    while held:  # parents written out of id order; each round places at least one
        ready = [c for c in held if c.parent not in seen or c.parent in result.ids
                 or c.parent in result.refused or c.parent in result.not_migrated]
        ready = ready or held  # a cycle (cannot happen in WordPress): break it at top level
        for comment in sorted(ready, key=lambda c: c.source_id):
            _one(target, comment, result, rewriter, existing, source_home, reopen)
        held = [c for c in held if c not in ready]
    result.warnings += rewriter.result.warnings


def _one(target: WordPressRestTarget, comment: SourceComment, result: CommentsImport, rewriter: _Rewriter,
         existing: dict[int, dict[str, int]], source_home: str, reopen: Reopen) -> None:
    post = result.posts.get(comment.post)
    if post is None:
        result.not_migrated[comment.source_id] = POST_NOT_MIGRATED
        return
    marker = comment_marker(source_home, comment.source_id)
    if post not in existing:
        existing[post] = {str(c.get("author_user_agent") or ""): int(c["id"])
                          for c in target.comments_of(post)}
    if (found := existing[post].get(marker)) is not None:
        result.ids[comment.source_id] = found
        result.unchanged += 1
        return
    parent = result.ids.get(comment.parent, 0) if comment.parent else 0
    if comment.parent and not parent:
        result.warnings.append(f"comment {comment.source_id}: its parent {comment.parent} is not on the"
                               " target, imported at top level")
    try:
        body = _body(comment, post, parent, marker, rewriter)
    except RecursionError:  # this comment's markup: its loss, not the import's
        _refuse(result, comment, {"reason": NESTED_TOO_DEEP, "status": None, "code": None,
                                  "message": NESTED_TOO_DEEP_DETAIL})
        return
    try:
        try:
            created = target.create_comment(body)
        except MigrationError as err:
            if err.details.get("code") != COMMENTS_CLOSED or not reopen(post):
                raise
            created = target.create_comment(body)
    except MigrationError as err:
        status = err.details.get("status")
        if not err.permanent or not isinstance(status, int) or not 400 <= status < 500 or status == 401:
            raise  # not about this comment: the task fails and its retry goes on from here
        _refuse(result, comment, {"reason": REFUSED_BY_TARGET, "status": status,
                                  "code": err.details.get("code"),
                                  "message": str(err.details.get("message") or err.message)})
        return
    result.ids[comment.source_id] = existing[post][marker] = int(created["id"])
    result.created += 1


def _refuse(result: CommentsImport, comment: SourceComment, why: dict[str, Any]) -> None:
    refused = result.refused[comment.source_id] = {"post": comment.post, "author_name": comment.author_name,
                                                    **why}
    result.warnings.append(f"comment {comment.source_id}: {describe_refusal(refused)}")


def _body(comment: SourceComment, post: int, parent: int, marker: str, rewriter: _Rewriter) -> dict[str, Any]:
    clean, _ = sanitize_html(comment.content_html)
    base = comment.link.partition("#")[0] or rewriter.target_home
    body: dict[str, Any] = {
        "post": post, "parent": parent, "status": "approved", "author_user_agent": marker,
        "author_name": comment.author_name.strip() or ANONYMOUS,
        "author_email": PLACEHOLDER_EMAIL.format(id=comment.source_id),
        "author_url": rewriter.rewrite_text(comment.author_url),
        "content": rewriter.rewrite(clean, base, report=True).strip(),
    }
    # Local time, as the source shows it (as the content import does for posts).
    if comment.date and _LOCAL_DATE.match(comment.date):
        body["date"] = comment.date[:19]
    elif comment.date_gmt and _LOCAL_DATE.match(comment.date_gmt):
        body["date_gmt"] = comment.date_gmt[:19]
    return body


def describe_refusal(refused: Mapping[str, Any]) -> str:
    if refused.get("reason") == NESTED_TOO_DEEP:
        return str(refused.get("message") or NESTED_TOO_DEEP_DETAIL)
    answer = f"HTTP {refused.get('status')}" + (f" {refused['code']}" if refused.get("code") else "")
    return f"the target refused it ({answer}): {refused.get('message') or ''}".rstrip(": ")

