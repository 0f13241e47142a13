"""Mode B discovery: which public pages, posts and media a source site has.

Three sources, best first: the REST API (complete, with records the scraper can use as
they are), sitemaps (complete on WordPress >= 5.5, kinds known from the sitemap names),
and a bounded crawl from the home page for whatever neither listed. Only published
content is public, so drafts, private, future and non-public post types never show up.
Limits (pages, media) stop discovery with a recorded count instead of a silent cut.

Requests to the source with the REST API open: robots.txt, the home page (once: the
menu, the site's identity and the API's Link header), the API index (name, tagline), and
the list pages of categories, tags, users, pages, posts and media at ``per_page=100``;
the home page and the index not at all when the source probe's are given (``discover``'s
``home_page`` and ``rest_index``), and the home page is kept for match_theme.
The pages' and posts' records carry everything the scraper needs (rendered content,
excerpt, title, slug, parent, menu order, terms, dates, featured media), so no page's
HTML is fetched for them; ``_embed`` (author, terms, featured image) is asked only for
what the lookups cannot resolve (users or terms closed, media not listed). The media an
item's content shows and that are size variants of a listed attachment are noted, so
the media batch downloads them once instead of every batch that shows them. With the API
closed: robots.txt, the home page, the sitemaps, and the bounded crawl; the permalink
structure is then learnt from the posts' pages the crawl read (``html.permalink_sample``)
and checked against every post link found.
"""

from __future__ import annotations

import html
import re
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup

from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild import permalinks
from wpmigrate.scrape_rebuild.html.media_refs import media_urls
from wpmigrate.scrape_rebuild.html.page_markers import attr_values, page_markers
from wpmigrate.scrape_rebuild.html.permalink_sample import sample_from_html
from wpmigrate.scrape_rebuild.html.site_header import extract_nav_menu, site_identity
from wpmigrate.scrape_rebuild.polite_http import FetchResult, PoliteFetcher, SkipUrl, gunzip_capped
from wpmigrate.scrape_rebuild.records import DiscoveredItem, Kind, Skipped, Term
from wpmigrate.scrape_rebuild.sitemaps import iter_sitemap, sitemap_kind
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts
from wpmigrate.web.rest_api_discovery import api_root_from_link_header, is_rest_index
from wpmigrate.web.url_keys import canonical_url, dedupe_key, normalise_url, strip_www

PAGE_FIELDS = ("id", "date", "date_gmt", "modified", "modified_gmt", "slug", "status", "type", "link",
               "title", "content", "excerpt", "author", "featured_media", "parent", "menu_order",
               "categories", "tags", "template", "format", "comment_status", "ping_status")
MEDIA_FIELDS = ("id", "date", "date_gmt", "modified", "slug", "status", "type", "link", "title", "author",
                "caption", "alt_text", "description", "media_type", "mime_type", "source_url", "post",
                "media_details")
REST_PER_PAGE = 100
HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = ("application/xml", "text/xml", "application/x-gzip", "application/gzip",
             "application/octet-stream", "text/plain")
MAX_SITEMAP_FILES = 200
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed file
MAX_HTML_BYTES = 10 * 1024 * 1024
# Memory follows the limits, not the site: past them, counts instead of lists.
MAX_SKIPPED_PER_REASON = 200  # Skipped records kept per reason; the rest counted in a note
MAX_SITEMAP_QUEUE = 4 * MAX_SITEMAP_FILES  # sitemap URLs taken from indexes, in all
MAX_PERMALINK_SAMPLES = 200  # posts whose path is rebuilt from their values; the rest checked by shape

# Query parameters that open endless or useless URL spaces (calendars, comment replies,
# searches, sharing buttons, previews, feeds).
_TRAP_PARAMS = frozenset({"m", "replytocom", "s", "share", "action", "like_comment", "preview", "feed",
                          "ical", "outlook-ical", "tribe-bar-date", "eventdisplay", "calendar", "month",
                          "yr", "date", "doing_wp_cron", "rest_route", "attachment_id", "unapproved",
                          "moderation-hash", "add-to-cart", "orderby", "filter"})
_SKIP_PATH = re.compile(
    r"/(wp-admin|wp-json|wp-includes|wp-content|feed|trackback|embed|comments/feed)(/|$)"
    r"|/(wp-login|xmlrpc|wp-cron|wp-signup|wp-activate|wp-trackback|wp-comments-post)\.php$",
    re.I,
)
_DATE_ARCHIVE = re.compile(r"/\d{4}/(\d{1,2}/(\d{1,2}/)?)?$")  # /2021/, /2021/03/, /2021/03/15/
_PAGINATION = re.compile(r"^(?P<base>.*?/)page/(?P<n>\d+)/?$")
_NON_HTML_EXT = re.compile(
    r"\.(jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|pdf|zip|gz|tgz|rar|7z|css|js|mjs|json|xml|txt|rss|atom"
    r"|mp[34]|m4a|m4v|mov|avi|wmv|webm|ogg|ogv|wav|flac|woff2?|ttf|otf|eot|docx?|xlsx?|pptx?|csv|exe|dmg)$",
    re.I,
)


@dataclass
class DiscoveryLimits:
    max_pages: int
    max_media: int
    pages_limit_hit: bool = False
    media_limit_hit: bool = False
    pages_not_migrated: int = 0  # known lower bound when the crawl stopped early
    media_not_migrated: int = 0
    fetch_budget_hit: bool = False
    pages_count_is_lower_bound: bool = False  # the crawl stopped at the limit: more may exist

    def messages(self) -> list[str]:
        """What the report says about the limits (empty when none was reached)."""
        out = []
        if self.pages_limit_hit:
            more = f"at least {self.pages_not_migrated:,}" if self.pages_count_is_lower_bound else (
                f"{self.pages_not_migrated:,}")
            out.append(f"{self.max_pages:,}-page limit reached: {more} more pages and posts not migrated")
        if self.media_limit_hit:
            out.append(f"{self.max_media:,}-media limit reached: {self.media_not_migrated:,} more media"
                       " files not migrated")
        if self.fetch_budget_hit:
            out.append("crawl request budget reached: the site may have pages discovery did not see")
        return out


@dataclass
class DiscoveryResult:
    """What ``discover`` found. Everything but ``items``/``skipped`` is plain JSON data."""

    items: list[DiscoveredItem]
    skipped: list[Skipped]
    site: dict[str, Any]  # name, description, home, rest_available, rest_base (+ rest_error)
    terms: list[Term]
    menu: list[dict[str, Any]]  # home page main navigation: [{title, url, children: [...]}]
    limits: dict[str, Any]  # DiscoveryLimits as a dict, plus "messages"
    notes: list[str]  # for the report: limits reached, how discovery worked
    # REST ids the scraper resolves: terms_by_id {id: Term dict}, media_by_id {id: url},
    # authors_by_id {id: name}, page_url_by_id {id: url}; and variants_by_id {id: [ref]},
    # the size variants of a listed attachment that some item's content shows (its media
    # batch downloads them). Empty without the REST API.
    lookups: dict[str, dict[int, Any]] = field(default_factory=dict)
    crawl_filtered: dict[str, int] = field(default_factory=dict)  # links the crawl left out, by reason
    requests: int = 0
    # The home page as discovery read it ({url, html}), for match_theme's look: not asked again.
    home_page: dict[str, str] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Items by kind: {"page": n, "post": n, "media": n, "unknown": n}."""
        return dict(Counter(i.kind for i in self.items))

    @property
    def counts_by_via(self) -> dict[str, int]:
        return dict(Counter(i.via for i in self.items))


# ---------------------------------------------------------------------------- discovery

class _Discovery:
    def __init__(self, fetcher: PoliteFetcher, home_url: str, *, include_pages: bool, include_posts: bool,
                 include_media: bool, max_depth: int, max_pages: int, max_media: int,
                 max_fetches: int, max_archive_pages: int, max_query_variants: int) -> None:
        self.fetcher = fetcher
        self.home = normalise_url(home_url)
        self.include = {"page": include_pages, "post": include_posts, "media": include_media,
                        "unknown": include_pages or include_posts}
        self.max_depth = max_depth
        self.max_fetches = max_fetches
        self.max_archive_pages = max_archive_pages
        self.max_query_variants = max_query_variants
        self.items: list[DiscoveredItem] = []
        self.skipped: list[Skipped] = []
        self.skip_counts: Counter[str] = Counter()  # reason -> skipped URLs, listed or not
        self.seen: dict[str, DiscoveredItem] = {}  # dedupe key -> item kept (never past a limit)
        self.limits = DiscoveryLimits(max_pages=max_pages, max_media=max_media)
        self.n_content = 0
        self.n_media = 0
        self.site: dict[str, Any] = {"name": "", "description": "", "home": self.home,
                                     "rest_available": False, "rest_base": None}
        self.terms: list[Term] = []
        self.authors: dict[int, dict[str, str]] = {}
        self.term_ids: dict[int, Term] = {}
        self.menu: list[dict[str, Any]] = []
        self.filtered: Counter[str] = Counter()
        self.rest_complete: set[str] = set()  # kinds the REST API listed completely
        self.content_media: set[str] = set()  # canonical media URLs the REST content shows
        self.embed: list[str] = []  # REST links to embed in page and post records
        self.rest_closed: set[str] = set()  # term and user routes that did not answer a list
        self.notes: list[str] = []
        self.html_samples: list[permalinks.PostSample] = []  # posts' pages the crawl read

    # -------------------------------------------------------------- helpers
    def _same_site(self, url: str) -> bool:
        """Same host (or its www. twin) and port; http and https count as the same site."""
        a, b = urlsplit(normalise_url(url)), urlsplit(self.home)
        return strip_www(a.hostname or "") == strip_www(b.hostname or "") and a.port == b.port

    def _home_scheme(self, url: str) -> str:
        # A same-site link with the other scheme would be a second origin (robots.txt, rate)
        # for the same pages; the site's own scheme is the one that answers.
        return urlunsplit(urlsplit(url)._replace(scheme=urlsplit(self.home).scheme))

    def _skip(self, url: str, reason: str, detail: str = "") -> None:
        self._skipped(Skipped(url=url, reason=reason, detail=detail))

    def _skipped(self, skipped: Skipped) -> None:
        """Keep the first ``MAX_SKIPPED_PER_REASON`` of each reason, count them all."""
        if self.skip_counts[skipped.reason] < MAX_SKIPPED_PER_REASON:
            self.skipped.append(skipped)
        self.skip_counts[skipped.reason] += 1

    def skip_notes(self) -> list[str]:
        return [f"{n - MAX_SKIPPED_PER_REASON:,} more skipped URLs ({reason}) counted, not listed"
                for reason, n in sorted(self.skip_counts.items()) if n > MAX_SKIPPED_PER_REASON]

    def _get(self, url: str, **kw: Any) -> FetchResult | None:
        try:
            return self.fetcher.get(url, **kw)
        except SkipUrl as exc:
            self._skipped(exc.skipped)
        except MigrationError as exc:
            self._skip(url, "fetch_failed", exc.message)
        return None

    def add(self, item: DiscoveredItem) -> bool:
        """Keep ``item`` unless already known, not wanted, or over a limit (then counted).

        Past a limit nothing is recorded, only counted, so memory follows the limits and not
        the sitemaps; a URL listed twice past the limit is counted twice."""
        key = dedupe_key(item.url)
        if key in self.seen or not self.include[item.kind]:
            known = self.seen.get(key)
            if known is not None and known.source_id is None:
                known.source_id = item.source_id  # the crawl learns ids a sitemap does not give
            return False
        if item.kind == "media":
            if self.n_media >= self.limits.max_media:
                self.limits.media_limit_hit = True
                self.limits.media_not_migrated += 1
                return False
            self.n_media += 1
        else:
            if self.n_content >= self.limits.max_pages:
                self.limits.pages_limit_hit = True
                self.limits.pages_not_migrated += 1
                return False
            self.n_content += 1
        self.items.append(item)
        self.seen[key] = item
        return True

    # -------------------------------------------------------------- home page
    def _given_home(self, given: Mapping[str, Any] | None) -> FetchResult | None:
        """The home page the source probe read moments before (``probe_source``'s
        ``home_page``), when it is this site's, HTML, a success, and robots.txt allows it."""
        if not given or not isinstance(given.get("html"), str) or not isinstance(given.get("url"), str):
            return None
        media_type = str(given.get("content_type") or "").split(";", 1)[0].strip().lower()
        if (media_type not in HTML_TYPES or not 200 <= int(given.get("status") or 0) < 300
                or not self._same_site(given["url"]) or not self.fetcher.allowed(given["url"])):
            return None
        headers = httpx.Headers({"content-type": f"{media_type}; charset=utf-8",
                                 "link": str(given.get("link") or "")})
        return FetchResult(given["url"], int(given["status"]), headers, given["html"].encode("utf-8"))

    def fetch_home(self, given: Mapping[str, Any] | None = None) -> FetchResult | None:
        home = self._given_home(given) or self._get(self.home, max_bytes=MAX_HTML_BYTES)
        if home is None or not home.ok:
            if home is not None:
                self._skip(self.home, "http_error", f"HTTP {home.status_code}")
            return None
        final = normalise_url(home.url)
        if self._same_site(final):
            self.home = final  # e.g. http -> https or the www. twin
            self.site["home"] = final
        if home.content_type in HTML_TYPES:
            soup = BeautifulSoup(home.content, "lxml")
            self.site["name"], self.site["description"] = site_identity(soup)
            self.menu = extract_nav_menu(soup, self.home)
        return home

    # -------------------------------------------------------------- REST API
    def _rest_url(self, route: str, params: dict[str, Any] | None = None) -> str:
        base = self.site["rest_base"]
        query = urlencode(params or {})
        if "rest_route=" in base:  # plain permalinks: ?rest_route=/wp/v2/...
            return f"{base.rstrip('/')}/{route}" + (f"&{query}" if query else "")
        return f"{base.rstrip('/')}/{route}" + (f"?{query}" if query else "")

    def probe_rest(self, home: FetchResult | None, given: Mapping[str, Any] | None = None) -> None:
        """The REST API's base and the site's name and tagline from its index; ``given``:
        the index the source probe read (``probe_source``'s ``rest_index``), not asked again."""
        if given and isinstance(given.get("url"), str) and self._same_site(given["url"]):
            self.site.update(rest_available=True, rest_base=given["url"])
            self.site["name"] = _plain(given.get("name")) or self.site["name"]
            self.site["description"] = _plain(given.get("description")) or self.site["description"]
            return
        candidates: list[str] = []
        if home is not None and (announced := api_root_from_link_header(home.headers.get("link", ""),
                                                                        home.url)):
            candidates.append(announced)
        root = self.home.rstrip("/")
        candidates += [f"{root}/wp-json/", f"{root}/?rest_route=/"]
        errors = []
        for base in dict.fromkeys(candidates):
            if not self._same_site(base):
                continue
            result = self._get(base, max_bytes=MAX_HTML_BYTES)
            if result is None:
                continue
            data = _json_or_none(result)
            if result.ok and is_rest_index(data):
                self.site.update(rest_available=True, rest_base=base)
                self.site["name"] = _plain(data.get("name")) or self.site["name"]
                self.site["description"] = _plain(data.get("description")) or self.site["description"]
                return
            code = data.get("code") if isinstance(data, dict) else None
            errors.append(f"{base}: HTTP {result.status_code}" + (f" ({code})" if code else ""))
        self.site["rest_error"] = "; ".join(errors)

    def _rest_page(self, route: str, fields: Iterable[str], page: int,
                   content: bool = True) -> tuple[list[Any], int, int] | None:
        """(records, X-WP-Total, X-WP-TotalPages) of one page of a collection, None on failure
        (a Skipped for content, a note for terms and users, which security plugins often close)."""
        params: dict[str, Any] = {"per_page": REST_PER_PAGE, "page": page, "_fields": ",".join(fields)}
        if content and self.embed and "content" in fields:
            # Embedding needs the links kept by _fields (WordPress >= 5.4).
            params.update(_fields=",".join((*fields, "_links", "_embedded")), _embed=",".join(self.embed))
        url = self._rest_url(route, params)
        result = self._get(url, content_types=("application/json",))
        if result is None:
            return None
        data = _json_or_none(result) if result.ok else None
        if not isinstance(data, list):
            if content:
                self._skip(url, "rest_error", f"HTTP {result.status_code}")
            else:
                self.notes.append(f"REST {route} unavailable (HTTP {result.status_code})")
                self.rest_closed.add(route)
            return None
        # A proxy may strip X-WP-TotalPages: then a full page means there may be another.
        guess = page + 1 if len(data) >= REST_PER_PAGE else page
        headers = result.headers
        pages = _int(headers.get("x-wp-totalpages"), guess)
        return data, _int(headers.get("x-wp-total"), (pages - 1) * REST_PER_PAGE + len(data)), pages

    def _rest_all(self, route: str, fields: Iterable[str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = 1
        while (answer := self._rest_page(route, fields, page, content=False)) is not None:
            data, _, pages = answer
            records += [r for r in data if isinstance(r, dict)]
            if page >= pages or not data:
                break
            page += 1
        return records

    def _rest_items(self, route: str, fields: Iterable[str], kind: Kind) -> None:
        """Items of one collection; paging stops at the limit, X-WP-Total counts the rest."""
        page = 1
        while (answer := self._rest_page(route, fields, page)) is not None:
            data, total, pages = answer
            for record in data:
                if not isinstance(record, dict) or record.get("status") not in ("publish", "inherit", None):
                    continue
                link = record.get("source_url") if kind == "media" else record.get("link")
                if not isinstance(link, str) or not link:
                    continue
                if kind != "media" and not self._same_site(link):
                    self._skip(link, "off_site", f"REST {kind} {record.get('id')} links to another host")
                    continue
                if kind != "media" and isinstance(content := record.get("content"), dict):
                    shown = media_urls(str(content.get("rendered") or ""), link)
                    self.content_media.update(file_url(url, source_hosts(self.home)) for url in shown)
                self.add(DiscoveredItem(url=link, kind=kind, via="rest",
                                        source_id=_int(record.get("id"), None), rest=_slim(record, kind)))
            limit_hit = self.limits.media_limit_hit if kind == "media" else self.limits.pages_limit_hit
            if page >= pages or not data or limit_hit:
                left = max(0, total - page * REST_PER_PAGE) if page < pages else 0
                if kind == "media":
                    self.limits.media_not_migrated += left
                else:
                    self.limits.pages_not_migrated += left
                self.rest_complete.add(kind)
                return
            page += 1
        # A failed page leaves the kind incomplete: sitemaps and the crawl cover it.

    def _term(self, record: dict[str, Any], term: Term) -> None:
        self.terms.append(term)
        if isinstance(record.get("id"), int):
            self.term_ids[record["id"]] = term

    def permalinks(self, max_samples: int = MAX_PERMALINK_SAMPLES) -> dict[str, Any]:
        """The source's permalink structure, from the first posts the REST API listed
        (``permalinks.infer_structure``): ``{structure, samples, agreeing, reason}``."""
        by_slug = {t.slug: t for t in self.term_ids.values() if t.taxonomy == "category"}

        def category_path(term: Term) -> str:
            chain, seen = [term.slug], {term.slug}
            while term.parent_slug and term.parent_slug in by_slug and term.parent_slug not in seen:
                term = by_slug[term.parent_slug]
                chain.append(term.slug)
                seen.add(term.slug)
            return "/".join(reversed(chain))

        samples = []
        for item in self.items:
            if item.kind != "post" or item.via != "rest" or not item.rest:
                continue
            categories = [self.term_ids[c] for c in item.rest.get("categories") or [] if c in self.term_ids]
            sample = permalinks.sample_from_rest(item.rest, [category_path(t) for t in categories])
            if sample:
                samples.append(sample)
            if len(samples) >= max_samples:
                break
        inferred = permalinks.infer_structure(samples, urlsplit(self.home).path or "/")
        return asdict(inferred)

    def _sample(self, soup: BeautifulSoup, url: str) -> None:
        """A post page's permalink sample, once per post (the crawl may reach it twice)."""
        sample = sample_from_html(soup, url)
        if sample and all(s.post_id != sample.post_id for s in self.html_samples):
            self.html_samples.append(sample)

    def permalinks_seen(self) -> dict[str, Any]:
        """The structure from the posts' pages the crawl read (the REST API closed), which
        every post link discovery found (sitemaps, links) must fit too."""
        paths = (p.path + (f"?{p.query}" if p.query else "")
                 for i in self.items if i.kind == "post" for p in [urlsplit(i.url)])
        return asdict(permalinks.infer_structure(self.html_samples, urlsplit(self.home).path or "/", paths))

    def permalink_notes(self) -> list[str]:
        """What the report says when posts may not keep their paths."""
        learnt = self.site.get("permalinks") or {}
        if not learnt or learnt.get("structure") or not any(i.kind == "post" for i in self.items):
            return []
        return [f"permalink structure not inferred ({learnt.get('reason')}): the target keeps its own,"
                " and every post it does not serve at the source's path is a loss"]

    def lookups(self) -> dict[str, dict[int, Any]]:
        rest = [(i.source_id, i) for i in self.items if i.via == "rest" and i.source_id is not None]
        return {
            "terms_by_id": {k: asdict(t) for k, t in self.term_ids.items()},
            "media_by_id": {sid: i.url for sid, i in rest if i.kind == "media"},
            "authors_by_id": {k: a["name"] for k, a in self.authors.items()},
            "page_url_by_id": {sid: i.url for sid, i in rest if i.kind == "page"},
            "variants_by_id": {sid: shown for sid, i in rest if i.kind == "media"
                               and (shown := self._shown_variants(i))},
        }

    def _shown_variants(self, item: DiscoveredItem) -> list[dict[str, Any]]:
        """The attachment's size files (REST ``media_details.sizes``) some content shows, as
        media references: ``{url, attachment_url, size, width, height}``."""
        sizes = ((item.rest or {}).get("media_details") or {}).get("sizes") or {}
        own = canonical_url(item.url, item.url)
        shown: dict[str, dict[str, Any]] = {}
        for name, size in sorted(sizes.items()):
            if not isinstance(size, dict):
                continue
            url = canonical_url(str(size.get("source_url") or ""), item.url)
            if url and url != own and url in self.content_media and url not in shown:
                shown[url] = {"url": url, "attachment_url": own, "size": str(name),
                              "width": _int(size.get("width"), None),
                              "height": _int(size.get("height"), None)}
        return sorted(shown.values(), key=lambda ref: str(ref["url"]))

    def from_rest(self) -> None:
        if self.include["post"]:
            cats = self._rest_all("wp/v2/categories", ("id", "name", "slug", "parent", "description"))
            slug_of = {c.get("id"): c.get("slug") for c in cats}
            for c in cats:
                self._term(c, Term("category", _plain(c.get("name")), str(c.get("slug", "")),
                                   slug_of.get(c.get("parent")) if c.get("parent") else None,
                                   _plain(c.get("description"))))
            for t in self._rest_all("wp/v2/tags", ("id", "name", "slug", "description")):
                self._term(t, Term("post_tag", _plain(t.get("name")), str(t.get("slug", "")), None,
                                   _plain(t.get("description"))))
        if self.include["page"] or self.include["post"]:
            users = self._rest_all("wp/v2/users", ("id", "name", "slug"))
            self.authors = {u["id"]: {"name": _plain(u.get("name")), "slug": str(u.get("slug", ""))}
                            for u in users if isinstance(u.get("id"), int)}
            # What the lookups cannot resolve comes embedded in the records: no request per item.
            terms_closed = bool({"wp/v2/categories", "wp/v2/tags"} & self.rest_closed)
            self.embed = [rel for rel, missing in (
                ("author", not self.authors), ("wp:term", terms_closed),
                ("wp:featuredmedia", not self.include["media"])) if missing]
        collections: tuple[tuple[Kind, str, tuple[str, ...]], ...] = (
            ("page", "wp/v2/pages", PAGE_FIELDS), ("post", "wp/v2/posts", PAGE_FIELDS),
            ("media", "wp/v2/media", MEDIA_FIELDS))
        for kind, route, fields in collections:
            if self.include[kind]:
                self._rest_items(route, fields, kind)

    # -------------------------------------------------------------- sitemaps
    def from_sitemaps(self) -> list[str]:
        """Items from sitemaps; returns same-site URLs of unknown kind for the crawl to classify."""
        root = self.home.rstrip("/")
        candidates = [*self.fetcher.site_maps(self.home), f"{root}/wp-sitemap.xml",
                      f"{root}/sitemap_index.xml", f"{root}/sitemap.xml"]
        queue = deque((url, 0) for url in dict.fromkeys(candidates))
        done: set[str] = set()
        to_classify: list[str] = []  # at most what the crawl may fetch
        files = 0
        enqueued = len(queue)
        while queue:
            url, level = queue.popleft()
            key = dedupe_key(url)
            if key in done:
                continue
            done.add(key)
            if not self._same_site(url):
                self._skip(url, "off_site", "sitemap on another host")
                continue
            kind = sitemap_kind(url)
            if kind is None:
                self.filtered["sitemap_not_content"] += 1  # taxonomies, users: not fetched
                continue
            if kind.startswith("other:"):
                self._skip(url, "unsupported_post_type", kind[6:])
                continue
            if files >= MAX_SITEMAP_FILES:
                self._skip(url, "sitemap_limit", f"more than {MAX_SITEMAP_FILES} sitemap files")
                continue
            files += 1
            result = self._get(url, max_bytes=MAX_SITEMAP_BYTES)
            if result is None or not result.ok:
                if result is not None and result.status_code not in (404, 410):
                    self._skip(url, "http_error", f"HTTP {result.status_code}")
                continue  # the guessed names are often missing: no news
            body = result.content
            try:
                if body[:2] == b"\x1f\x8b":
                    body = gunzip_capped(body, MAX_SITEMAP_BYTES, url)
            except SkipUrl as exc:
                self._skipped(exc.skipped)
                continue
            tag, locs = iter_sitemap(body)
            del result
            if tag == "sitemapindex":
                if level >= 3:
                    self._skip(url, "sitemap_too_deep", "sitemap index nested more than 3 levels")
                    continue
                for loc in locs:
                    if enqueued >= MAX_SITEMAP_QUEUE:
                        self._skip(urljoin(url, loc), "sitemap_limit",
                                   f"more than {MAX_SITEMAP_QUEUE} sitemap files listed")
                        continue
                    enqueued += 1
                    queue.append((urljoin(url, loc), level + 1))
            elif tag == "urlset":
                for loc in locs:
                    loc = urljoin(url, loc)
                    if not self._same_site(loc):
                        self._skip(loc, "off_site", f"listed in {url}")
                    elif kind == "unknown" or dedupe_key(loc) == dedupe_key(self.home):
                        # A blog home is listed in WordPress's page sitemap but is not a page.
                        if len(to_classify) < self.max_fetches:
                            to_classify.append(normalise_url(loc))
                        else:  # more than the crawl may ever fetch
                            self.filtered["crawl_budget"] += 1
                            self.limits.fetch_budget_hit = True
                    else:
                        self.add(DiscoveredItem(url=normalise_url(loc), kind=kind, via="sitemap"))  # type: ignore[arg-type]
        return to_classify

    # -------------------------------------------------------------- crawl
    def _crawl_target(self, link: str, variants: dict[str, set[str]] | None) -> tuple[str, str | None]:
        """(normalised URL, None) when the link is worth fetching, else (url, why not).
        ``variants``: the query strings seen per path (None: the link will not be queued)."""
        parts = urlsplit(link)
        if parts.scheme.lower() not in ("http", "https"):
            return link, "not_http"
        if not self._same_site(link):
            return link, "off_site"
        url = self._home_scheme(normalise_url(link))
        parts = urlsplit(url)
        path = parts.path
        if _SKIP_PATH.search(path):
            return url, "wp_system_path"
        if _NON_HTML_EXT.search(path):
            return url, "non_html"
        if _DATE_ARCHIVE.search(path):
            return url, "date_archive"
        query = parse_qsl(parts.query, keep_blank_values=True)
        keys = {k.lower() for k, _ in query}
        if keys & _TRAP_PARAMS:
            return url, "trap_query"
        pagination = _PAGINATION.match(path)
        paged = dict(query).get("paged")
        page_n = int(pagination["n"]) if pagination else int(paged) if paged and paged.isdigit() else 0
        if page_n > self.max_archive_pages:
            return url, "pagination_cap"
        if parts.query and variants is not None:
            seen = variants.setdefault(path, set())
            if parts.query not in seen and len(seen) >= self.max_query_variants:
                return url, "query_variants"
            seen.add(parts.query)
        return url, None

    def crawl(self, extra: list[str], home: FetchResult | None = None) -> None:
        """Breadth-first from the home page (``home``: already fetched); pagination of a
        listing keeps its depth. ``extra``: URLs to classify, as if linked from the home page."""
        queue: deque[tuple[str, int]] = deque()  # never longer than the fetches left
        queued: set[str] = set()
        for url, depth in [(self.home, 0), *((u, 1) for u in extra[:self.max_fetches])]:
            if dedupe_key(url) not in queued:
                queued.add(dedupe_key(url))
                queue.append((url, depth))
        variants: dict[str, set[str]] = {}
        fetches = 0
        while queue:
            if self.limits.pages_limit_hit:
                self.limits.pages_count_is_lower_bound = True
                break
            if fetches >= self.max_fetches:
                self.limits.fetch_budget_hit = True
                break
            url, depth = queue.popleft()
            if url == self.home and home is not None and home.content_type in HTML_TYPES:
                result: FetchResult | None = home  # no second request for the home page
            else:
                fetches += 1
                result = self._get(url, max_bytes=MAX_HTML_BYTES, content_types=HTML_TYPES)
            if result is None:
                continue
            if not result.ok:
                self._skip(url, "http_error", f"HTTP {result.status_code}")
                continue
            final = normalise_url(result.url)
            if not self._same_site(final):
                self._skip(url, "off_site", f"redirects to {final}")
                continue
            soup = BeautifulSoup(result.content, "lxml")
            kind, source_id, canonical = classify_html(soup, final)
            item_url = canonical if canonical and self._same_site(canonical) else final
            queued.update((dedupe_key(final), dedupe_key(item_url)))
            if kind is not None:
                self.add(DiscoveredItem(url=item_url, kind=kind, via="crawl", source_id=source_id,
                                        depth=depth))
            if kind == "post" and len(self.html_samples) < MAX_PERMALINK_SAMPLES:
                self._sample(soup, item_url)
            if depth >= self.max_depth:
                continue
            for link in _links(soup, final):
                full = len(queue) >= self.max_fetches - fetches  # the rest could never be fetched
                target, why_not = self._crawl_target(link, None if full else variants)
                if why_not:
                    self.filtered[why_not] += 1
                    continue
                key = dedupe_key(target)
                if key in queued:
                    continue
                if full:
                    self.filtered["crawl_budget"] += 1
                    self.limits.fetch_budget_hit = True
                    continue
                queued.add(key)
                is_listing_page = bool(_PAGINATION.match(urlsplit(target).path)) or "paged=" in target
                queue.append((target, depth if is_listing_page else depth + 1))


# ---------------------------------------------------------------------------- parsing

_WP_LISTING_CLASSES = frozenset({"home", "blog", "archive", "search", "error404", "paged", "single",
                                 "attachment", "category", "tag", "author", "date", "search-results",
                                 "search-no-results"})


def classify_html(soup: BeautifulSoup, url: str) -> tuple[Kind | None, int | None, str | None]:
    """(kind, source id, canonical URL) of a fetched page; kind None for WordPress pages that
    are not single content (home blog, archives, search, 404, attachments, other post types)
    and "unknown" when the page carries no WordPress markers at all (e.g. a static site)."""
    markers = page_markers(soup)
    classes = markers.classes
    canonical = None
    for link in soup.find_all("link", href=True):
        if "canonical" in attr_values(link, "rel") and canonical is None:
            canonical = normalise_url(urljoin(url, str(link["href"])))
    source_id = markers.ids.get("page-id", markers.ids.get("postid"))
    if "attachment" in classes or "single-attachment" in classes:
        return None, source_id, canonical
    if any(c.startswith(("single-paged-", "page-paged-")) for c in classes):
        # Page 2+ of an entry split by <!--nextpage-->: part of the entry its links lead back
        # to (the scrape reads the further pages), not an entry of its own.
        return None, source_id, canonical
    if markers.single_kind:
        return markers.single_kind, source_id, canonical
    if classes & _WP_LISTING_CLASSES or any(c.startswith(("wp-", "postid-", "page-template", "post-template"))
                                            for c in classes):
        return None, source_id, canonical
    query = markers.shortlink
    if query.get("page_id", "").isdigit():
        return "page", int(query["page_id"]), canonical
    if query.get("p", "").isdigit():
        return "post", int(query["p"]), canonical
    return "unknown", None, canonical


def _links(soup: BeautifulSoup, base: str) -> list[str]:
    out = []
    for a in soup.find_all(["a", "area"], href=True):
        href = str(a["href"]).strip()
        if href and not href.startswith("#"):
            out.append(urljoin(base, href))
    return out


# ---------------------------------------------------------------------------- small helpers

def _int(value: Any, default: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _plain(value: Any) -> str:
    """REST gives term and user names HTML-escaped ("Reisen &amp; Café"); keep the text."""
    return html.unescape(str(value or ""))


def _json_or_none(result: FetchResult) -> Any:
    try:
        return result.json()
    except ValueError:
        return None


_SIZE_KEYS = ("file", "width", "height", "mime_type", "source_url")


def _slim(record: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """The REST record without what the scraper never needs (image EXIF, file sizes...)."""
    if kind != "media":
        return {k: v for k, v in record.items() if k != "_links"}  # embedding's, never read
    slim = dict(record)
    details = record.get("media_details")
    if isinstance(details, dict):
        raw_sizes = details.get("sizes")
        sizes = raw_sizes if isinstance(raw_sizes, dict) else {}
        slim["media_details"] = {
            **{k: details[k] for k in ("width", "height", "file", "filesize") if k in details},
            "sizes": {name: {k: s[k] for k in _SIZE_KEYS if k in s}
                      for name, s in sizes.items() if isinstance(s, dict)},
        }
    return slim


def discover(
    fetcher: PoliteFetcher,
    home_url: str,
    *,
    include_pages: bool,
    include_posts: bool,
    include_media: bool,
    max_depth: int,
    max_pages: int = 1000,
    max_media: int = 10_000,
    max_fetches: int | None = None,
    max_archive_pages: int = 50,
    max_query_variants: int = 5,
    crawl: bool | None = None,
    home_page: Mapping[str, Any] | None = None,
    rest_index: Mapping[str, Any] | None = None,
) -> DiscoveryResult:
    """Find the public pages, posts and media of the site at ``home_url``.

    REST API first (when open: /wp-json/ or ?rest_route=), then sitemaps and a bounded
    crawl for the kinds the API did not list completely (``crawl=None``: only then;
    True/False forces it). ``max_pages`` caps pages and posts together, ``max_media`` the
    media; what lies beyond is counted in ``limits``. ``max_fetches`` bounds the crawl's
    requests (default 2 * max_pages + 100). ``home_page``/``rest_index``: what the source
    probe read (``probe_source``), used instead of asking the source again. The scope
    (``include_*``, ``max_depth``) has no default here: it is the conf's, whose schema
    holds the defaults.
    """
    d = _Discovery(
        fetcher, home_url, include_pages=include_pages, include_posts=include_posts,
        include_media=include_media, max_depth=max_depth, max_pages=max_pages, max_media=max_media,
        max_fetches=max_fetches if max_fetches is not None else 2 * max_pages + 100,
        max_archive_pages=max_archive_pages, max_query_variants=max_query_variants,
    )
    home = d.fetch_home(home_page)
    d.probe_rest(home, rest_index)
    if d.site["rest_available"]:
        d.from_rest()
        d.site["permalinks"] = d.permalinks()
    missing = {k for k in ("page", "post") if d.include[k]} - d.rest_complete
    to_classify = d.from_sitemaps() if missing else []
    if crawl or (crawl is None and missing):
        d.crawl(to_classify, home)
    if d.include["post"] and not (d.site.get("permalinks") or {}).get("samples"):
        d.site["permalinks"] = d.permalinks_seen()
    notes = d.limits.messages() + d.notes + d.skip_notes() + d.permalink_notes()
    if not d.site["rest_available"]:
        notes.append("REST API not available (" + (d.site.get("rest_error") or "no answer")
                     + "): pages and posts found through sitemaps and a crawl; media only from content")
    elif missing:
        notes.append(f"REST API did not list every {' and '.join(sorted(missing))}: sitemaps and a crawl"
                     " completed discovery")
    return DiscoveryResult(
        items=d.items, skipped=d.skipped, site=d.site, terms=d.terms, menu=d.menu,
        limits={**asdict(d.limits), "messages": d.limits.messages()}, notes=notes, lookups=d.lookups(),
        crawl_filtered=dict(d.filtered), requests=fetcher.request_count,
        home_page={"url": home.url, "html": home.text}
        if home is not None and home.ok and home.content_type in HTML_TYPES else None,
    )
