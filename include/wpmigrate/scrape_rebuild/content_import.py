"""Mode B import: scraped pages, posts, media and terms into the target through its REST
API, with every reference to the source rewritten to the target.

Order: media (their target URLs are needed by the content), terms (categories parent
first), pages (parents before children), then posts. Internal links may point at items
created later, so pages and posts go in two passes: the first only makes sure each item
exists (finding it, or creating it with the links known so far) to learn every target
URL; the second writes the final content. A re-run finds everything in the first pass
and changes nothing in the second, so it adds no rows (not even revisions).

No single item sinks the import: an item the target refuses (a 4xx with WordPress's error
code and message) and a password-protected one (its content never reached the scraper) are
recorded in ``ImportResult.refused_items`` and verification counts them as losses, and so is
one whose content nests too deeply to rewrite. What is
not about one item (the target unreachable, a 5xx, the login refused) still raises, so the
task fails and its retry completes the import.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import IO, Any, Literal
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.element import AttributeValueList

from wpmigrate.core.errors import MigrationError
from wpmigrate.rewrite.url_rewrite import UrlRewriter
from wpmigrate.scrape_rebuild.discussion import SiteDiscussion
from wpmigrate.scrape_rebuild.html.media_refs import rewrite_media_urls
from wpmigrate.scrape_rebuild.html.page_markers import attr_values
from wpmigrate.scrape_rebuild.media_groups import group_media
from wpmigrate.scrape_rebuild.records import (
    NESTED_TOO_DEEP,
    NESTED_TOO_DEEP_DETAIL,
    MediaFile,
    ScrapedItem,
    Term,
)
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts
from wpmigrate.target.wp_rest import WordPressRestTarget, media_slug
from wpmigrate.web.url_keys import canonical_url, url_key

KINDS = ("media", "categories", "tags", "pages", "posts")
_WP_IMAGE_CLASS = re.compile(r"^wp-image-(\d+)$")
_LOCAL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
# Pass 1's content for an item with neither title nor excerpt: WordPress refuses a post whose
# content, title and excerpt are all empty, and pass 2 writes the real content over it.
PLACEHOLDER_CONTENT = "<!-- wpmigrate: content follows -->"
PASSWORD_PROTECTED = "password_protected"
REFUSED_BY_TARGET = "refused_by_target"


@dataclass
class ImportResult:
    """``counts``: kind -> {created, updated, unchanged}; ``url_map``: source URL -> target
    URL of every page and post; ``media_map``: source media URL -> {id, url} (``url`` serves
    the same bytes); ``warnings``: what was imported differently than scraped, and why."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: {"created": 0, "updated": 0, "unchanged": 0} for k in KINDS})
    url_map: dict[str, str] = field(default_factory=dict)
    media_map: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Source media URL -> why the target would not take the file (its upload policy).
    refused_media: dict[str, str] = field(default_factory=dict)
    # Source page/post URL -> why it is not on the target: ``{kind, slug, title, reason,
    # status, code, message}``; ``reason`` is ``refused_by_target`` (``status``, ``code``,
    # ``message``: the target's answer), ``password_protected`` or ``nested_too_deep``.
    refused_items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def refuse(self, item: ScrapedItem, reason: str, *, status: int | None = None, code: str | None = None,
               message: str = "") -> None:
        refused = {"kind": item.kind, "slug": item.slug, "title": item.title, "reason": reason,
                   "status": status, "code": code, "message": message}
        self.refused_items[item.source_url] = refused
        self.url_map.pop(item.source_url, None)
        self.warnings.append(f"{item.source_url}: not imported ({describe_refusal(refused)})")

    def count(self, kind: str, *, created: bool, updated: bool = False) -> None:
        self.counts[kind]["created" if created else "updated" if updated else "unchanged"] += 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class UrlMap:
    """Source URL -> target URL lookups that tolerate scheme, trailing slash and fragment."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._by_key = {url_key(k): v for k, v in (mapping or {}).items()}

    def add(self, source_url: str, target_url: str) -> None:
        self._by_key[url_key(source_url)] = target_url

    def get(self, url: str) -> str | None:
        base, _, fragment = url.partition("#")
        found = self._by_key.get(url_key(base))
        if found is None:
            return None
        return f"{found}#{fragment}" if fragment else found


ScrapedSource = Iterable[ScrapedItem] | Callable[[], Iterable[ScrapedItem]]


def _stream(scraped: ScrapedSource) -> Iterable[ScrapedItem]:
    return scraped() if callable(scraped) else scraped


def import_content(target: WordPressRestTarget, scraped: ScrapedSource,
                   media: Iterable[MediaFile], *, open_media: Callable[[MediaFile], bytes],
                   source_home: str, target_home: str) -> ImportResult:
    """Import everything (idempotently); see the module docstring for the order.

    ``scraped`` is read twice: pass a list, or a callable returning a fresh iterator (the
    DAG streams the artifact files), so only a light index of the items (no content) is
    held in memory, whatever the size of the site.
    """
    result = ImportResult()
    items, has_text = _unique_items(_stream(scraped), result)  # light: no content or excerpt
    site_discussion = SiteDiscussion.of(items)  # comment and ping settings, settled site-wide
    # Plain-text fields (term descriptions, alt text, captions) keep no reference to the source.
    text_rewriter = origin_text_rewriter([source_home], target_home)
    _import_media(target, media, open_media, source_home, result, text_rewriter)
    term_ids = _import_terms(target, items, result, text_rewriter)
    pages, orphans = _pages_parent_first(items, result)
    ordered = pages + [i for i in items if i.kind == "post"]
    rewriter = _Rewriter(source_home, target_home, result)
    ids: dict[str, int] = {}  # url_key(source URL) -> target id

    created: set[str] = set()
    for item in ordered:  # pass 1: every item exists (parents first), every target URL is known
        if item.password_protected:
            result.refuse(item, PASSWORD_PROTECTED, message="password-protected: a visitor cannot see"
                                                            " its content, so it was not scraped")
            continue
        kind = f"{item.kind}s"
        existing = target.find_content(kind, item.slug, parent=_parent_id(item, ids, orphans))
        if existing:
            ids[url_key(item.source_url)], link = int(existing["id"]), existing["link"]
        else:  # created without content; pass 2 writes it with every link resolved
            body = _item_body(item, ids, orphans, term_ids, rewriter, result, final=False)
            if body is None:
                continue
            body.update(site_discussion.settings(item))
            if not body["title"] and not body["content"] and url_key(item.source_url) in has_text:
                body["content"] = PLACEHOLDER_CONTENT
            try:
                written = target.ensure_content(kind, body)
            except MigrationError as err:
                _refused_or_raise(result, item, err)
                continue
            ids[url_key(item.source_url)], link = written["id"], written["link"]
            created.add(item.source_url)
        result.url_map[item.source_url] = link
        rewriter.links.add(item.source_url, link)

    done: set[str] = set()
    for item in _stream(scraped):  # pass 2: final content, streamed again
        key = url_key(item.source_url)
        if key in done or key not in ids:
            continue
        done.add(key)
        body = _item_body(item, ids, orphans, term_ids, rewriter, result, final=True)
        if body is None:  # recorded as refused; what pass 1 found or created stays as it is
            continue
        body.update(site_discussion.settings(item))
        try:
            written = target.ensure_content(f"{item.kind}s", body)
        except MigrationError as err:
            # Pass 1's item stays on the target as it was created (a draft of it, in effect).
            _refused_or_raise(result, item, err)
            continue
        result.url_map[item.source_url] = written["link"]
        result.count(f"{item.kind}s", created=item.source_url in created,
                     updated=written["updated"] and item.source_url not in created)
    return result


def describe_refusal(refused: Mapping[str, Any]) -> str:
    """One line for reports and logs: the target's answer, or why the item cannot move."""
    if refused.get("reason") == PASSWORD_PROTECTED:
        return str(refused.get("message") or "password-protected")
    if refused.get("reason") == NESTED_TOO_DEEP:
        return str(refused.get("message") or NESTED_TOO_DEEP_DETAIL)
    answer = f"HTTP {refused.get('status')}" + (f" {refused['code']}" if refused.get("code") else "")
    return f"the target refused it ({answer}): {refused.get('message') or ''}".rstrip(": ")


def _refused_or_raise(result: ImportResult, item: ScrapedItem, err: MigrationError) -> None:
    """Record the target's refusal of this one item; re-raise what is not about it (transient
    errors, a login the target no longer accepts) so the task fails and is retried."""
    status = err.details.get("status")
    if not err.permanent or not isinstance(status, int) or not 400 <= status < 500 or status == 401:
        raise err
    result.refuse(item, REFUSED_BY_TARGET, status=status, code=err.details.get("code"),
                  message=str(err.details.get("message") or err.message))


def _unique_items(scraped: Iterable[ScrapedItem], result: ImportResult) -> tuple[list[ScrapedItem], set[str]]:
    """The items without their content (which pass 2 reads again from the stream), and the
    keys of those with content or an excerpt to write."""
    seen: dict[str, ScrapedItem] = {}
    has_text: set[str] = set()
    for item in scraped:
        key = url_key(item.source_url)
        if key in seen:
            result.warnings.append(f"{item.source_url}: scraped twice, first copy kept")
            continue
        seen[key] = replace(item, content_html="", excerpt="", media_urls=[], removed={})
        if item.content_html.strip() or item.excerpt.strip():
            has_text.add(key)
    return list(seen.values()), has_text


def _import_media(target: WordPressRestTarget, media: Iterable[MediaFile],
                  open_media: Callable[[MediaFile], bytes], source_home: str, result: ImportResult,
                  rewrite_text: Callable[[str], str]) -> None:
    """One attachment per source attachment (``media_groups``): its file at the source's
    upload path, and each size file the source showed stored beside it as that size, so
    every media URL the source used answers at the same path with the same bytes. A size
    the target will not store as one becomes an attachment of its own (same bytes, another
    path: the redirect map carries it)."""
    for group in group_media(media, source_hosts(source_home)):
        main = group.main
        slug = media_slug(group.upload_path) if group.upload_path else media_slug(main.sha256)
        info = target.find_media_by_slug(slug)  # a re-run reads no file
        if info is None:
            try:
                # The REST API gives title and caption rendered (HTML, entities): as text here.
                info = target.upload_media(
                    content=_read(main, open_media, result), filename=main.filename, mime=main.mime,
                    path=group.upload_path, slug=slug,
                    title=as_text(rewrite_text(html_text(main.title) or main.filename)),
                    alt_text=as_text(rewrite_text(main.alt)),
                    caption=as_text(rewrite_text(html_text(main.caption))))
            except MigrationError as err:
                if "refused_file" not in err.details:
                    raise
                # The rest of the site goes on; verification reports the files as missing
                # with this reason, and a re-run after the policy changes completes them.
                for file in group.files:
                    result.refused_media[file.source_url] = err.message
                result.warnings.append(f"{main.source_url}: {err.message}")
                continue
        result.media_map[_media_key(main, source_home)] = {"id": info["id"], "url": info["file_url"]}
        result.count("media", created=info["created"])
        stored = {unquote(v["file"]): v["url"] for v in info["sizes"].values()}
        for size in group.sizes:
            file = size.file
            url = stored.get(file.filename)
            media_id = info["id"]
            if url is None:
                try:
                    added = target.add_image_size(info["id"], content=_read(file, open_media, result),
                                                  filename=file.filename, mime=file.mime, size=size.name,
                                                  width=size.width, height=size.height)
                    url = added["sizes"].get(size.name, {}).get("url")
                except MigrationError as err:
                    if not err.permanent or err.details.get("status") == 401:
                        raise
                    result.warnings.append(f"{file.source_url}: the target did not store it as size"
                                           f" {size.name!r} of its image ({err.message}); uploaded alone")
                if url is None:
                    title = as_text(rewrite_text(html_text(main.title) or file.filename))
                    alone = target.ensure_media(content=_read(file, open_media, result), title=title,
                                                filename=file.filename, mime=file.mime, sha256=file.sha256)
                    media_id, url = alone["id"], alone["file_url"]
            result.media_map[_media_key(file, source_home)] = {"id": media_id, "url": url}


def _media_key(file: MediaFile, source_home: str) -> str:
    return canonical_url(file.source_url, source_home) or file.source_url


def _read(file: MediaFile, open_media: Callable[[MediaFile], bytes], result: ImportResult) -> bytes:
    content = open_media(file)
    if hashlib.sha256(content).hexdigest() != file.sha256:
        result.warnings.append(f"{file.source_url}: stored file does not match its recorded sha256")
    return content


def _import_terms(target: WordPressRestTarget, items: list[ScrapedItem], result: ImportResult,
                  rewrite_text: Callable[[str], str]) -> dict[tuple[str, str], int]:
    terms: dict[tuple[str, str], Term] = {}
    for item in items:
        for term in item.terms:
            terms.setdefault((term.taxonomy, term.slug), term)
    ids: dict[tuple[str, str], int] = {}
    # Parents first. Each term's chain of ancestors not yet created is walked up in a loop,
    # then created top-down: a category nested 1,000 deep is no recursion.
    for term in terms.values():
        chain: list[tuple[Term, bool]] = []  # (term, imported at top level), child first
        on_chain: set[str] = set()
        current: Term | None = term
        while current is not None and (current.taxonomy, current.slug) not in ids:
            on_chain.add(current.slug)
            parent_slug = current.parent_slug if current.taxonomy == "category" else None
            parent_term = (terms.get(("category", parent_slug))
                           if parent_slug and parent_slug not in on_chain else None)
            if parent_slug and parent_term is None:  # not scraped, or its own descendant
                result.warnings.append(f"category {current.slug!r}: parent {parent_slug!r} not scraped,"
                                       " imported at top level")
            chain.append((current, parent_term is None))
            current = parent_term
        for one, top in reversed(chain):
            collection = "categories" if one.taxonomy == "category" else "tags"
            parent = 0 if top else ids[("category", str(one.parent_slug))]
            done = target.ensure_term_info(collection, name=as_text(one.name), slug=one.slug, parent=parent,
                                           description=rewrite_text(one.description))
            ids[(one.taxonomy, one.slug)] = done["id"]
            result.count(collection, created=done["created"])
    return ids


def _pages_parent_first(items: list[ScrapedItem], result: ImportResult) -> tuple[list[ScrapedItem], set[str]]:
    """Pages with parents before children, and the keys of pages imported at top level
    because their parent was not scraped (or is their own descendant)."""
    pages = {url_key(i.source_url): i for i in items if i.kind == "page"}
    ordered: list[ScrapedItem] = []
    placed: set[str] = set()
    orphans: set[str] = set()

    # Each page's ancestors not yet placed are walked up in a loop, then placed top-down:
    # pages nested 1,000 deep are no recursion.
    for start in pages:
        chain: list[str] = []  # child first
        chain_set: set[str] = set()
        key = start
        while key not in placed:
            chain.append(key)
            chain_set.add(key)
            page = pages[key]
            parent = url_key(page.parent_url) if page.parent_url else None
            if parent is not None and parent in pages and parent not in chain_set:
                key = parent
                continue
            if parent is not None:  # not scraped, or its own descendant
                result.warnings.append(f"{page.source_url}: parent page {page.parent_url} not scraped,"
                                       " imported at top level")
                orphans.add(key)
            break
        for key in reversed(chain):
            placed.add(key)
            ordered.append(pages[key])
    return ordered, orphans


def _parent_id(item: ScrapedItem, ids: Mapping[str, int], orphans: set[str]) -> int:
    if item.kind != "page" or not item.parent_url or url_key(item.source_url) in orphans:
        return 0
    return ids.get(url_key(item.parent_url), 0)


def _item_body(item: ScrapedItem, ids: Mapping[str, int], orphans: set[str],
               term_ids: Mapping[tuple[str, str], int], rewriter: _Rewriter, result: ImportResult, *,
               final: bool) -> dict[str, Any] | None:
    """``_body``, or None when the item's content nests too deeply to rewrite: recorded as
    that item's refusal, so the rest of the import goes on."""
    try:
        return _body(item, ids, orphans, term_ids, rewriter, result, final=final)
    except RecursionError:
        result.refuse(item, NESTED_TOO_DEEP, message=NESTED_TOO_DEEP_DETAIL)
        return None


def _body(item: ScrapedItem, ids: Mapping[str, int], orphans: set[str],
          term_ids: Mapping[tuple[str, str], int], rewriter: _Rewriter, result: ImportResult, *,
          final: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": item.slug, "title": as_text(item.title.strip()), "status": item.status,
        "content": rewriter.rewrite(item.content_html, item.source_url, report=final),
    }
    # ``date`` wins over ``date_gmt`` in WordPress (the GMT one is derived from it with the
    # target's timezone), so sending both would only make every re-run look changed.
    if item.date and _LOCAL_DATE.match(item.date):
        body["date"] = item.date[:19]
    elif item.date_gmt and _LOCAL_DATE.match(item.date_gmt):
        body["date_gmt"] = item.date_gmt[:19]
    if item.kind == "page":
        body["parent"] = _parent_id(item, ids, orphans)
        body["menu_order"] = item.menu_order
    else:
        if item.excerpt.strip():
            body["excerpt"] = rewriter.rewrite_text(as_text(item.excerpt))
        categories = [term_ids[("category", t.slug)] for t in item.terms if t.taxonomy == "category"]
        if categories:  # none: WordPress files the post under its default category, every time
            body["categories"] = categories
        body["tags"] = [term_ids[("post_tag", t.slug)] for t in item.terms if t.taxonomy == "post_tag"]
        body["format"] = item.post_format
    if item.featured_image_url:
        key = canonical_url(item.featured_image_url, item.source_url) or ""
        hosts = source_hosts(item.source_url)
        featured = result.media_map.get(key) or result.media_map.get(file_url(key, hosts))
        if featured:
            body["featured_media"] = featured["id"]
        elif final:
            result.warnings.append(
                f"{item.source_url}: featured image {item.featured_image_url} not downloaded")
    return body


def html_text(fragment: str) -> str:
    """The text a browser shows for an HTML fragment (tags dropped, entities decoded)."""
    if "<" not in fragment and "&" not in fragment:
        return fragment.strip()
    return BeautifulSoup(fragment, "html.parser").get_text().strip()


def as_text(text: str) -> str:
    """Plain text as WordPress stores a plain-text field (title, excerpt, term name, alt
    text): HTML-escaped. WordPress prints titles unescaped and keeps their markup for a user
    with ``unfiltered_html``, so a scraped ``<img onerror=...>`` (decoded from the source's
    ``&lt;img ...&gt;``) sent raw would be stored XSS; escaped, it shows as the same text."""
    return html.escape(text, quote=False)


def origin_text_rewriter(source_origins: Iterable[str], target_home: str) -> Callable[[str], str]:
    """Text -> text with every variant of the source origins (``http``/``https``, ``//``,
    JSON-escaped, urlencoded) replaced by the target's: what the import does to content
    after links and media, and what verification expects to find."""
    rewriter = UrlRewriter.for_migration([o.rstrip("/") for o in source_origins], target_home.rstrip("/"))
    return lambda text: rewriter.rewrite_plain(text.encode("utf-8")).decode("utf-8")


class _Rewriter:
    """Source references in content -> target ones: media URLs, attachment ids in
    ``wp-image-N`` classes, and links to imported pages and posts."""

    def __init__(self, source_home: str, target_home: str, result: ImportResult) -> None:
        host = urlsplit(source_home).netloc.lower()
        bare = host.removeprefix("www.")
        self.source_hosts = {bare, f"www.{bare}"}
        self.upload_hosts = source_hosts(source_home)  # host names, as upload URLs are matched
        self.target_home = target_home.rstrip("/")
        self.result = result
        self.links = UrlMap()
        # Media are all imported before any content is written.
        self.media = {k: v["url"] for k, v in result.media_map.items()}
        self.ids_by_url = {v["url"]: v["id"] for v in result.media_map.values()}
        # What is left after links and media: the origin written out as text (a JSON
        # sample, "visit http://old.example"), in every variant Mode A rewrites.
        self.rewrite_text = origin_text_rewriter([source_home], self.target_home)

    def rewrite(self, html: str, base_url: str, *, report: bool) -> str:
        hosts = self.upload_hosts
        html, _ = rewrite_media_urls(html, self.media, base_url, file_key=lambda url: file_url(url, hosts))
        soup = BeautifulSoup(html, "html.parser")
        for img in soup.find_all("img"):
            self._attachment_class(img, self.ids_by_url)
        for anchor in soup.find_all("a", href=True):
            self._link(anchor, base_url, report)
        out = self.rewrite_text(str(soup))
        if report and (left := sorted(h for h in self.source_hosts if h in out)):
            self.result.warnings.append(f"{base_url}: content still mentions the source ({', '.join(left)})")
        return out

    @staticmethod
    def _attachment_class(img: Tag, ids_by_url: Mapping[str, int]) -> None:
        # WordPress reads the attachment id from this class (srcset, sizes, lazy loading):
        # a source id would name an unrelated attachment on the target.
        classes = img.get("class")
        if not isinstance(classes, list) or not any(_WP_IMAGE_CLASS.match(c) for c in classes):
            return
        src = urlsplit(str(img.get("src", "")))
        # An upload shown with a query (``?w=604``) is its file's attachment all the same.
        target_id = ids_by_url.get(src.geturl()) or ids_by_url.get(src._replace(query="").geturl())
        kept = [c for c in classes if not _WP_IMAGE_CLASS.match(c)]
        if target_id:
            kept.append(f"wp-image-{target_id}")
        img["class"] = AttributeValueList(kept)
        if not kept:
            del img["class"]

    def _link(self, anchor: Tag, base_url: str, report: bool) -> None:
        href = str(anchor["href"])
        absolute = urljoin(base_url, href.strip())
        parts = urlsplit(absolute)
        if parts.scheme in {"http", "https"} and parts.netloc.lower() in self.source_hosts:
            mapped = self.links.get(absolute)
            if mapped is None:
                # Not imported (archives, the home page, files): same path on the target.
                mapped = self.target_home + absolute[len(f"{parts.scheme}://{parts.netloc}"):]
                if report:
                    self.result.warnings.append(f"{base_url}: link to {absolute} not imported, kept its path")
            anchor["href"] = mapped
        if anchor.get("target"):
            # WordPress adds this on save; adding it first keeps stored content equal to what
            # the next run computes.
            rel = attr_values(anchor, "rel")
            if "noopener" not in rel:
                anchor["rel"] = AttributeValueList([*rel, "noopener"])


# --- redirect map ---------------------------------------------------------------------------

REDIRECT_FIELDS = ("kind", "from_path", "from_url", "to_url", "status", "same_path")


def redirect_map(url_map: Mapping[str, str], media_map: Mapping[str, str] | None = None
                 ) -> list[dict[str, Any]]:
    """One entry per source URL: ``{"kind", "from_path", "from_url", "to_url", "status": 301,
    "same_path"}``; ``kind`` is ``content`` (pages and posts) or ``media`` (``media_map``:
    source file URL -> target file URL, at the same path unless the target could not keep it).

    ``from_path`` (path and query, as requested on the migrated domain) is what the platform
    matches once the domain points at the new site; ``from_url`` keeps the old host for a
    platform that serves the old domain separately. Every source URL is listed, so the map
    is also the record of where each page went; ``same_path`` marks the entries a
    domain-level rule already covers (the platform may skip them).
    """
    entries = []
    for kind, mapping in (("content", url_map), ("media", media_map or {})):
        for source, target in sorted(mapping.items()):
            src, dst = urlsplit(source), urlsplit(target)
            from_path = (src.path or "/") + (f"?{src.query}" if src.query else "")
            to_path = (dst.path or "/") + (f"?{dst.query}" if dst.query else "")
            entries.append({"kind": kind, "from_path": from_path, "from_url": source, "to_url": target,
                            "status": 301, "same_path": from_path.rstrip("/") == to_path.rstrip("/")})
    return entries


def write_redirect_map(stream: IO[str], entries: Iterable[Mapping[str, Any]],
                       fmt: Literal["csv", "json"] = "csv") -> int:
    """The artifact the platform loads: CSV with header
    ``kind,from_path,from_url,to_url,status,same_path`` (one line per source URL), or JSON
    ``{"version": 1, "redirects": [entry, ...]}``. Returns the number of entries."""
    rows = [{k: e.get(k, "content") if k == "kind" else e[k] for k in REDIRECT_FIELDS} for e in entries]
    if fmt == "json":
        json.dump({"version": 1, "redirects": rows}, stream, ensure_ascii=False, indent=1)
    else:
        writer = csv.DictWriter(stream, fieldnames=list(REDIRECT_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
