"""A page's fields from its rendered HTML alone (Mode B when there is no REST record).

Selectors follow what WordPress core and its default themes print: block themes
(``.wp-block-post-*`` blocks) first, then classic themes (``article .entry-content``,
``.entry-meta``), then generic HTML (``main``, ``article``, Open Graph, JSON-LD) and, for
the content, a text-density heuristic. Each field is taken from inside the entry where
possible, so a sidebar's "Categories" widget or a "recent posts" list cannot leak in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup, Comment, Tag
from bs4.element import AttributeValueList

from wpmigrate.scrape_rebuild.html.media_refs import FRAGMENT_FORMATTER, SRCSET_ATTRS, parse_srcset
from wpmigrate.scrape_rebuild.html.page_markers import attr_values, page_markers
from wpmigrate.scrape_rebuild.records import Term

PageKind = Literal["page", "post", "unknown"]

# Entry content, most specific first: block themes, classic themes, then generic HTML.
CONTENT_SELECTORS = (
    ".wp-block-post-content",
    "article .entry-content",
    ".entry-content",
    ".post-content",
    ".entry-body",
    "#content article",
    "article",
    "main",
    "[role=main]",
    "#content",
    "#main",
)
# What a theme prints around the content inside ``main``/``article``; removed only when
# the content came from one of those broad containers.
CHROME_SELECTORS = (
    "header", "footer", "nav", "aside", "form", "script", "style", "noscript", "template",
    "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=complementary]",
    ".wp-block-post-title", ".wp-block-post-featured-image", ".wp-block-post-date",
    ".wp-block-post-terms", ".wp-block-post-author", ".wp-block-post-author-name",
    ".wp-block-post-navigation-link", ".wp-block-comments", ".wp-block-post-comments",
    ".wp-block-post-comments-form", ".wp-block-template-part", ".wp-block-navigation",
    ".entry-header", ".entry-meta", ".entry-footer", ".entry-title", ".post-thumbnail",
    ".post-navigation", ".navigation", ".nav-links", ".comments-area", "#comments", "#respond",
    ".sharedaddy", ".widget", ".sidebar", "#sidebar", ".screen-reader-text", ".skip-link",
    ".breadcrumbs", ".breadcrumb",
)
# Selectors that find exactly the content; the others find a container to clean up.
_EXACT_CONTENT_RULES = frozenset(CONTENT_SELECTORS[:5])
TITLE_SELECTORS = ("h1.wp-block-post-title", ".wp-block-post-title", "h1.entry-title", ".entry-title",
                   "article h1")
# Places whose links are never the entry's own terms or author.
_NOT_ENTRY = ("nav", "aside", ".widget", ".sidebar", "#sidebar", ".wp-block-navigation",
              ".wp-block-categories", ".wp-block-tag-cloud", ".wp-block-latest-posts",
              ".wp-block-query", ".wp-block-comments", "#comments", ".comments-area")
TERM_LINK_SELECTORS = (".wp-block-post-terms a", "a[rel~=tag]", ".cat-links a", ".tags-links a",
                       ".post-categories a", ".entry-categories a", ".entry-tags a")
AUTHOR_SELECTORS = (".wp-block-post-author__name", ".wp-block-post-author-name", ".entry-meta .author a",
                    ".byline .author", "a[rel~=author]", ".author.vcard", ".entry-author-name")
FEATURED_IMAGE_SELECTORS = (".wp-block-post-featured-image img", ".post-thumbnail img", "img.wp-post-image")
PUBLISHED_SELECTORS = (".wp-block-post-date:not(.wp-block-post-date__modified-date) time[datetime]",
                       "time.entry-date.published[datetime]", "time.published[datetime]",
                       "time.entry-date[datetime]")
# Any date in the entry, when neither the theme's markup nor meta tags named the published one.
_ANY_ENTRY_TIME = "article time[datetime]:not(.updated):not(.wp-block-post-date__modified-date time)"
MODIFIED_SELECTORS = (".wp-block-post-date__modified-date time[datetime]", "time.updated[datetime]")
# Document title separators WordPress and SEO plugins use between title and site name.
_TITLE_SEPARATORS = (" – ", " — ", " | ", " - ", " · ", " » ", " :: ")
_LISTING_CLASSES = frozenset({"home", "blog", "archive", "category", "tag", "tax", "author", "date",
                              "search", "search-results", "error404", "paged"})
_REST_LINK = re.compile(r"/wp/v2/(pages|posts)/(\d+)/?$")
_TERM_PATH = re.compile(r"/(category|tag)/((?:[^/?#]+/)*[^/?#]+)/?$")
_WHITESPACE = re.compile(r"\s+")
# Per-render CSS hooks: their rules lived in this page's <head> and their numbers collide
# with the numbers the target generates for its own blocks.
_RENDER_CLASS = re.compile(r"^(?:wp-container-\d+|wp-elements-[0-9a-f]{32}|wp-block-gallery-\d+"
                           r"|wp-container-core-[a-z-]+-layout-\d+|wp-duotone-[0-9a-f-]+)$")
# Boxes that plugins append to the_content; the same plugin on the target appends them again.
LEFTOVER_SELECTORS = (".sharedaddy", ".sd-sharing-enabled", "#jp-relatedposts", ".jp-relatedposts",
                      ".addtoany_share_save_container", ".a2a_kit", ".yarpp-related", ".crp_related",
                      ".wpcnt", ".post-views", ".wp-block-post-comments", "#comments")
_MORE_SPAN = re.compile(r"^more-\d+$")
# wp_link_pages(): the links between the pages of an entry split by <!--nextpage-->, every one
# (and the current page's number) with this class, in a wrapper the theme chooses
# (p.post-nav-links by default, nav.page-links in Twenty Twenty-One).
_PAGE_LINK_CLASS = "post-page-numbers"


@dataclass
class ExtractedPage:
    """What one rendered page says about its entry; None/"" where it says nothing."""

    url: str  # canonical URL (rel=canonical) when the page names one, else the fetched URL
    kind: PageKind
    source_id: int | None
    title: str
    content_html: str  # inner HTML of the entry content, not yet sanitised
    content_rule: str  # the selector that found it, or "heuristic"/"body"/"none" (worth a look)
    slug: str
    excerpt: str = ""
    date: str | None = None  # site-local ISO 8601 without offset, as the REST API gives it
    date_gmt: str | None = None
    modified: str | None = None
    modified_gmt: str | None = None
    parent_url: str | None = None
    parent_id: int | None = None
    terms: list[Term] = field(default_factory=list)
    featured_image_url: str | None = None
    author_name: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    site_name: str | None = None
    home_url: str | None = None
    # The entry's further pages (<!--nextpage-->), in order: their content belongs to it too.
    page_urls: list[str] = field(default_factory=list)
    post_format: str = "standard"  # a post's format (aside, gallery, quote...), from the body class


def parse_document(html: str) -> BeautifulSoup:
    # html.parser keeps the markup as written (lxml would re-nest or wrap fragments).
    return BeautifulSoup(html or "", "html.parser")


def extract_page(html: str, url: str) -> ExtractedPage:
    """Extract an entry's fields from the full HTML of its page, fetched from ``url``."""
    soup = parse_document(html)
    canonical = _canonical(soup, url)
    kind, source_id, parent_id = detect_kind(soup)
    home = _home_url(soup, url)
    content, rule = find_content(soup)
    html_content = content_html(content, rule) if content is not None else ""
    html_content, page_urls = split_page_links(html_content, canonical)
    if content is not None and rule in _EXACT_CONTENT_RULES:
        # The metadata lives around the content, never in it: searching only the rest of
        # the page is faster on big posts and keeps in-content links and dates out.
        content.extract()
        content = None
    seo_title, seo_description = seo_fields(soup)
    ld = _json_ld_entry(soup)
    published = _published(soup, ld, content)
    modified = _first_datetime(soup, MODIFIED_SELECTORS, "article:modified_time", ld.get("dateModified"))
    site_name = _site_name(soup)
    return ExtractedPage(
        url=canonical,
        kind=kind,
        source_id=source_id,
        title=extract_title(soup, site_name),
        content_html=html_content,
        content_rule=rule,
        slug=slug_from_url(canonical),
        excerpt=_meta(soup, "description") or _meta(soup, "og:description") or "",
        date=_local(published),
        date_gmt=_gmt(published),
        modified=_local(modified),
        modified_gmt=_gmt(modified),
        parent_url=parent_url_from_path(canonical, home) if kind == "page" else None,
        parent_id=parent_id,
        terms=extract_terms(soup, url, content),
        featured_image_url=_featured_image(soup, url),
        author_name=_author(soup, ld),
        seo_title=seo_title,
        seo_description=seo_description,
        site_name=site_name,
        home_url=home,
        page_urls=page_urls,
        post_format=page_markers(soup).post_format,
    )


def split_page_links(fragment: str, url: str) -> tuple[str, list[str]]:
    """``(content without its page links, the other pages' absolute URLs in order)`` for the
    content of one page of an entry split by ``<!--nextpage-->``; content without page links
    comes back unchanged. The links are navigation the target would render again, and the
    other pages hold the rest of the entry."""
    if _PAGE_LINK_CLASS not in fragment:
        return fragment, []
    soup = BeautifulSoup(fragment, "html.parser")
    links = soup.find_all(class_=_PAGE_LINK_CLASS)
    if not links:
        return fragment, []
    here = urlsplit(url)._replace(fragment="").geturl().rstrip("/")
    urls: list[str] = []
    for link in links:
        target = _join(url, link["href"]) if link.name == "a" and link.get("href") else None
        if target and target.rstrip("/") != here and target not in urls:
            urls.append(target)
    holders = {id(link.parent): link.parent for link in links
               if isinstance(link.parent, Tag) and link.parent is not soup}
    for holder in holders.values():
        # The wrapper goes with its label ("Pages:"), unless it holds more than that.
        numbers = sum(len(_collapse(n.get_text())) for n in holder.find_all(class_=_PAGE_LINK_CLASS))
        if len(_collapse(holder.get_text())) - numbers <= 40:
            holder.decompose()
    for link in soup.find_all(class_=_PAGE_LINK_CLASS):
        link.decompose()
    return soup.decode(formatter=FRAGMENT_FORMATTER), urls


def extract_main(html: str, url: str) -> tuple[str, str]:
    """``(title, content_html)`` of a rendered page, for comparing source and target (the
    verification's extractor). Rendering leftovers are removed as ``scrape`` removes them."""
    soup = parse_document(html)
    del url  # selectors need no base; kept for the Extractor signature
    content, rule = find_content(soup)
    if content is None:
        return extract_title(soup, _site_name(soup)), ""
    fragment = BeautifulSoup(content_html(content, rule), "html.parser")
    remove_render_leftovers(fragment)
    return extract_title(soup, _site_name(soup)), fragment.decode(formatter=FRAGMENT_FORMATTER)


# ---------------------------------------------------------------------------- kind, URLs


def detect_kind(soup: BeautifulSoup) -> tuple[PageKind, int | None, int | None]:
    """``(kind, source_id, parent_id)`` from body classes, the REST alternate link and the
    shortlink. Listings (home, archives, search) and custom post types are ``unknown``."""
    markers = page_markers(soup)
    ids, shortlink = markers.ids, markers.shortlink
    kind: PageKind = "unknown"
    source_id: int | None = None
    if markers.single_kind == "post":
        kind, source_id = "post", ids.get("postid")
    elif markers.single_kind == "page":
        kind, source_id = "page", ids["page-id"]
    elif "postid" in ids:
        source_id = ids["postid"]  # attachment or custom post type: not ours to classify
        return kind, source_id, None
    listing = bool(markers.classes & _LISTING_CLASSES)
    if kind == "unknown" and not listing:
        link = soup.find("link", rel="alternate", type="application/json", href=True)
        match = _REST_LINK.search(str(link["href"])) if isinstance(link, Tag) else None
        if match:
            kind, source_id = ("page" if match.group(1) == "pages" else "post"), int(match.group(2))
    if source_id is None and kind != "unknown":
        source_id = _int(shortlink.get("p") or shortlink.get("page_id"))
    if kind == "unknown" and not listing and "page_id" in shortlink:
        kind, source_id = "page", _int(shortlink["page_id"])
    return kind, source_id, ids.get("parent-pageid")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _join(base: str, href: Any) -> str | None:
    """``urljoin`` that returns None for a URL it cannot parse (``http://[::1``)."""
    try:
        joined = urljoin(base, str(href).strip())
        urlsplit(joined).port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return joined


def _canonical(soup: BeautifulSoup, url: str) -> str:
    # Only a same-host canonical: a cross-domain one (syndication) names another site's page.
    link = soup.find("link", rel="canonical", href=True)
    canonical = _join(url, link["href"]) if isinstance(link, Tag) else None
    if canonical and urlsplit(canonical).hostname == urlsplit(url).hostname:
        return canonical
    return url


def _home_url(soup: BeautifulSoup, url: str) -> str | None:
    for tag in soup.select(".wp-block-site-title a[href], .site-title a[href], a[rel~=home][href]"):
        return _join(url, tag["href"])
    return None


def slug_from_url(url: str) -> str:
    """The last path segment, percent-decoded (``/東京/`` and ``/%E6%9D%B1%E4%BA%AC/`` alike)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def parent_url_from_path(url: str, home_url: str | None = None) -> str | None:
    """``/about-us/our-team/`` -> ``/about-us/`` (absolute); None for a top-level page.

    With ``home_url`` (WordPress in a sub-directory) the home itself is never a parent.
    """
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    home_depth = len([s for s in urlsplit(home_url).path.split("/") if s]) if home_url else 0
    if len(segments) - home_depth < 2:
        return None
    path = "/" + "/".join(segments[:-1]) + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


# ---------------------------------------------------------------------------- title, SEO


def _meta(soup: BeautifulSoup, name: str) -> str | None:
    for attr in ("property", "name", "itemprop"):
        tag = soup.find("meta", attrs={attr: name, "content": True})
        if isinstance(tag, Tag):
            value = _collapse(str(tag["content"]))
            if value:
                return value
    return None


def seo_fields(soup_or_html: BeautifulSoup | str) -> tuple[str | None, str | None]:
    """``(seo_title, seo_description)``: the document ``<title>`` as is (site name included)
    and meta description, else og:description."""
    soup = parse_document(soup_or_html) if isinstance(soup_or_html, str) else soup_or_html
    title_tag = soup.select_one("head > title") or soup.find("title")  # not an <svg><title>
    title = _collapse(title_tag.get_text()) if isinstance(title_tag, Tag) else ""
    description = _meta(soup, "description") or _meta(soup, "og:description")
    return title or None, description


def _site_name(soup: BeautifulSoup) -> str | None:
    name = _meta(soup, "og:site_name")
    if name:
        return name
    tag = soup.select_one(".wp-block-site-title, .site-title")
    return _collapse(tag.get_text()) or None if tag else None


def extract_title(soup: BeautifulSoup, site_name: str | None = None) -> str:
    """Entry title block/heading, else og:title, else ``<title>`` without the site name."""
    for selector in TITLE_SELECTORS:
        tag = _first_outside(soup, selector, _NOT_ENTRY)
        if tag is not None and (text := _collapse(tag.get_text())):
            return text
    og = _meta(soup, "og:title")
    if og:
        return og
    title, _ = seo_fields(soup)
    if title:
        if site_name and title == site_name:
            return ""  # WordPress's document title for an untitled entry: the site name alone
        return strip_site_name(title, site_name)
    h1 = soup.find("h1")
    return _collapse(h1.get_text()) if isinstance(h1, Tag) else ""


def strip_site_name(title: str, site_name: str | None) -> str:
    """``"About – My Site"`` -> ``"About"``; with a known site name only that suffix goes."""
    for sep in _TITLE_SEPARATORS:
        if site_name and title.endswith(sep + site_name):
            return title[: -len(sep + site_name)].strip()
    if site_name:
        return title
    for sep in _TITLE_SEPARATORS:
        if sep in title:
            return title.rsplit(sep, 1)[0].strip()
    return title


# ---------------------------------------------------------------------------- content


def find_content(soup: BeautifulSoup) -> tuple[Tag | None, str]:
    """The element holding the entry content and the rule that found it: a CSS selector,
    ``"heuristic"`` (text density), ``"body"`` (nothing better) or ``"none"`` (no body)."""
    for selector in CONTENT_SELECTORS:
        tag = _first_outside(soup, selector, (".wp-block-query", ".widget"))
        if tag is not None:
            return tag, selector
    tag = _densest_block(soup)
    if tag is not None:
        return tag, "heuristic"
    body = soup.find("body")
    return (body, "body") if isinstance(body, Tag) else (None, "none")


def content_html(tag: Tag, rule: str) -> str:
    """Inner HTML of the content element; for broad containers (``main``, ``article``,
    heuristic) without the theme's chrome (header, title, meta, comments, navigation)."""
    if rule in _EXACT_CONTENT_RULES:
        return tag.decode_contents(formatter=FRAGMENT_FORMATTER)
    copy = BeautifulSoup(tag.decode_contents(formatter=FRAGMENT_FORMATTER), "html.parser")
    for selector in CHROME_SELECTORS:
        for node in copy.select(selector):
            node.decompose()
    return copy.decode(formatter=FRAGMENT_FORMATTER)


def _densest_block(soup: BeautifulSoup) -> Tag | None:
    # Readability's idea: paragraphs vote for their parent (and half for the grandparent);
    # text that is mostly links (menus, tag clouds) votes little.
    scores: dict[int, float] = {}
    tags: dict[int, Tag] = {}
    body = soup.find("body") or soup
    for para in body.find_all(["p", "pre", "blockquote", "td"]):
        if para.find_parent(["nav", "header", "footer", "aside", "form"]):
            continue
        text = _collapse(para.get_text())
        if len(text) < 25:
            continue
        score = 1 + text.count(",") + min(len(text) / 100, 3)
        for weight, ancestor in zip((1.0, 0.5), para.parents, strict=False):
            if not isinstance(ancestor, Tag) or ancestor.name in {"body", "html", "[document]"}:
                break
            scores[id(ancestor)] = scores.get(id(ancestor), 0) + score * weight
            tags[id(ancestor)] = ancestor
    best, best_score = None, 0.0
    for key, score in scores.items():
        tag = tags[key]
        text_len = len(_collapse(tag.get_text())) or 1
        link_len = sum(len(_collapse(a.get_text())) for a in tag.find_all("a"))
        adjusted = score * (1 - link_len / text_len)
        if adjusted > best_score:
            best, best_score = tag, adjusted
    return best


def remove_render_leftovers(soup: BeautifulSoup) -> int:
    """Undo what WordPress's (and common plugins') rendering adds and would add again on the
    target: plugin share/related boxes, per-render CSS classes, emoji images (back to the
    character), the ``<span id="more-N">`` marker (back to ``<!--more-->``). In place; returns
    how many things were changed."""
    changed = 0
    for selector in LEFTOVER_SELECTORS:
        for node in soup.select(selector):
            node.decompose()
            changed += 1
    for img in soup.find_all("img"):
        classes = attr_values(img, "class")
        if {"wp-smiley", "emoji"} & set(classes) and img.get("alt"):
            img.replace_with(str(img["alt"]))
            changed += 1
    for span in soup.find_all("span", id=_MORE_SPAN):
        if span.get_text(strip=True):
            continue
        parent = span.parent
        holder = parent if isinstance(parent, Tag) and parent.name == "p" and not _collapse(
            parent.get_text()) and len(parent.find_all(True)) == 1 else span
        holder.replace_with(Comment("more"))
        changed += 1
    for tag in soup.find_all(class_=True):
        classes = attr_values(tag, "class")
        kept = [c for c in classes if not _RENDER_CLASS.match(c)]
        if len(kept) != len(classes):
            changed += 1
            if kept:
                tag["class"] = AttributeValueList(kept) if isinstance(tag["class"], list) else " ".join(kept)
            else:
                del tag["class"]
    return changed


# ---------------------------------------------------------------------------- dates


def _json_ld_entry(soup: BeautifulSoup) -> dict[str, Any]:
    """The JSON-LD node describing the entry (Article/BlogPosting/WebPage), or {}."""
    best: dict[str, Any] = {}
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except (json.JSONDecodeError, TypeError, RecursionError):  # nested too deep: unreadable too
            continue
        for node in _ld_nodes(data):
            types = node.get("@type")
            types = types if isinstance(types, list) else [types]
            if any(t in {"Article", "BlogPosting", "NewsArticle", "TechArticle"} for t in types):
                return node
            if not best and ("datePublished" in node or "WebPage" in types):
                best = node
    return best


def _ld_nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON-LD value, in document order (lists and ``@graph`` entered),
    walked with a stack: a page's nesting never reaches the recursion limit."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            yield node
            if "@graph" in node:
                stack.append(node["@graph"])


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None


def _first_datetime(
    soup: BeautifulSoup, selectors: tuple[str, ...], meta: str, ld_value: Any, exclude: Tag | None = None
) -> datetime | None:
    for selector in selectors:
        for tag in soup.select(selector):
            if _inside(tag, _NOT_ENTRY) or any(parent is exclude for parent in tag.parents):
                continue
            if parsed := _parse_datetime(tag.get("datetime")):
                return parsed
    return (_parse_datetime(_meta(soup, meta)) if meta else None) or _parse_datetime(ld_value)


def _published(soup: BeautifulSoup, ld: Mapping[str, Any], exclude: Tag | None = None) -> datetime | None:
    return (_first_datetime(soup, PUBLISHED_SELECTORS, "article:published_time", ld.get("datePublished"))
            or _first_datetime(soup, (_ANY_ENTRY_TIME,), "", None, exclude=exclude))


def published_date(soup: BeautifulSoup) -> str | None:
    """The entry's publication date as the scrape gives it to the target (site-local ISO
    8601), for whoever must agree with the target's posts (the permalink samples)."""
    return _local(_published(soup, _json_ld_entry(soup)))


def _local(value: datetime | None) -> str | None:
    # The offset WordPress prints is the site's own, so the wall-clock part is its local time.
    return value.replace(tzinfo=None).isoformat(timespec="seconds") if value else None


def _gmt(value: datetime | None) -> str | None:
    if value is None or value.tzinfo is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- terms etc.


def term_from_url(href: str, name: str, taxonomy_hint: str | None = None) -> Term | None:
    """A category/tag from its archive link: ``/category/guides/advanced/`` is category
    ``advanced`` under ``guides``; ``?tag=x`` and ``?cat=`` forms only with a slug."""
    parts = urlsplit(href)
    match = _TERM_PATH.search(parts.path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    taxonomy: str | None = taxonomy_hint
    slugs: list[str] = []
    if match:
        taxonomy = taxonomy or ("category" if match.group(1) == "category" else "post_tag")
        slugs = [unquote(s) for s in match.group(2).split("/")]
    elif "tag" in query:
        taxonomy, slugs = taxonomy or "post_tag", [query["tag"]]
    elif taxonomy:
        # Custom base (``/topics/news/``): the container told us the taxonomy.
        slugs = [unquote(s) for s in parts.path.split("/") if s][-2:]
    if taxonomy not in {"category", "post_tag"} or not slugs or not name:
        return None
    parent = slugs[-2] if taxonomy == "category" and len(slugs) > 1 and match else None
    return Term(taxonomy=taxonomy, name=name, slug=slugs[-1], parent_slug=parent)  # type: ignore[arg-type]


def _is_term_href(value: str | None) -> bool:
    return bool(value) and bool(_TERM_PATH.search(urlsplit(value or "").path))


def extract_terms(soup: BeautifulSoup, url: str, content: Tag | None = None) -> list[Term]:
    """The entry's categories and tags, from term blocks, ``rel="tag"`` links and, inside
    the entry only, links to ``/category/...`` and ``/tag/...`` archives."""
    found: dict[tuple[str, str], Term] = {}
    content_ids = {id(t) for t in content.find_all("a")} if content is not None else set()
    links = [a for sel in TERM_LINK_SELECTORS for a in soup.select(sel)]
    # A theme's term list is the entry's own even where the content rule took a wide element
    # (an entry with no body falls back to the page's body): only other links inside the
    # content are the author's text.
    blocks = {id(a) for sel in TERM_LINK_SELECTORS if sel != "a[rel~=tag]" for a in soup.select(sel)}
    content_ids -= blocks
    scope = soup.select_one("article") or soup.select_one("main")
    if scope is not None:
        links += scope.find_all("a", href=_is_term_href)
    for link in links:
        if id(link) in content_ids or not link.get("href") or _inside(link, _NOT_ENTRY):
            continue
        hint = None
        container = link.find_parent(class_=re.compile(r"^taxonomy-"))
        if container is not None:
            hint = next((c.removeprefix("taxonomy-") for c in attr_values(container, "class")
                         if c.startswith("taxonomy-")), None)
        elif "category" in str(link.get("rel") or "").split() or link.find_parent(class_="cat-links"):
            hint = "category"
        href = _join(url, link["href"])
        term = term_from_url(href, _collapse(link.get_text()), hint) if href else None
        if term is not None:
            found.setdefault((term.taxonomy, term.slug), term)
    return list(found.values())


def _featured_image(soup: BeautifulSoup, url: str) -> str | None:
    for selector in FEATURED_IMAGE_SELECTORS:
        img = _first_outside(soup, selector, _NOT_ENTRY)
        if img is None:
            continue
        # The largest srcset candidate is usually the original upload; src is a resized copy.
        best: tuple[float, str] | None = None
        for attr in SRCSET_ATTRS:
            for candidate, descriptor in parse_srcset(str(img.get(attr) or "")):
                digits = descriptor[:-1]
                width = float(digits) if descriptor.endswith("w") and digits.isdigit() else 0
                if best is None or width > best[0]:
                    best = (width, candidate)
        src = best[1] if best else img.get("data-src") or img.get("data-lazy-src") or img.get("src")
        if src:
            return _join(url, src)
    og = _meta(soup, "og:image")
    return _join(url, og) if og else None


def _author(soup: BeautifulSoup, ld: dict[str, Any]) -> str | None:
    for selector in AUTHOR_SELECTORS:
        tag = _first_outside(soup, selector, ("nav", ".widget", ".wp-block-comments", "#comments",
                                              ".comments-area"))
        if tag is not None and (text := _collapse(tag.get_text())):
            return text
    meta = _meta(soup, "author")
    if meta:
        return meta
    author = ld.get("author")
    author = author[0] if isinstance(author, list) and author else author
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        return author["name"]
    return author if isinstance(author, str) else None


# ---------------------------------------------------------------------------- helpers


def _inside(tag: Tag, selectors: tuple[str, ...]) -> bool:
    return any(parent.css.match(sel) for parent in tag.parents if isinstance(parent, Tag)
               and parent.name != "[document]" for sel in selectors)


def _first_outside(soup: BeautifulSoup, selector: str, excluded: tuple[str, ...]) -> Tag | None:
    for tag in soup.css.iselect(selector):
        if not _inside(tag, excluded):
            return tag
    return None


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()
