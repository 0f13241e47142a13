"""Turn one discovered URL into a ``ScrapedItem`` (Mode B, "scrape and rebuild").

With a REST record the fields come from it (exact dates, IDs, parent, terms) and the page's
HTML only adds what REST does not have (SEO title and description, and the author or
featured image when the caller could not map their IDs). Without one, everything comes
from the rendered page (``content_extract``). Either way the content goes through the same
pipeline: sanitise, drop rendering leftovers, make URLs absolute, list its media.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import unquote

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag
from bs4.element import PreformattedString

from wpmigrate.scrape_rebuild import discussion
from wpmigrate.scrape_rebuild.html.extract import (
    ExtractedPage,
    extract_page,
    remove_render_leftovers,
    seo_fields,
)
from wpmigrate.scrape_rebuild.html.media_refs import FRAGMENT_FORMATTER, absolutize_urls, media_urls
from wpmigrate.scrape_rebuild.html.sanitize import sanitize_html
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem, Term
from wpmigrate.web.url_keys import canonical_url

# Elements whose boundaries separate words in rendered text.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "ul", "img", "iframe", "video", "audio",
})
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})
# What wptexturize (and typists) write for the same plain ASCII punctuation.
_TEXTURE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u00d7": "x", "\u2122": "(tm)", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
})
_DASH_RUN = re.compile(r"-{2,}")
_WHITESPACE = re.compile(r"\s+")
# WordPress's auto-excerpt ends in "[…]" (or a theme's "Continue reading" link).
_AUTO_EXCERPT_TAIL = re.compile(r"\s*(\[(?:…|\.\.\.|&hellip;)\]|…|\.\.\.)\s*$")


def normalised_text(html: str) -> str:
    """The visible text of an HTML fragment, comparable across renderings.

    Entities decoded, NFC, whitespace collapsed, wptexturize's typography (curly quotes,
    en/em dashes, ``…``, ``×``) mapped back to ASCII and dash runs collapsed, so the source's
    rendered text equals the target's after a re-render of the same content.
    """
    text = html_lib.unescape(_visible_text(html))  # again: double-encoded text shows decoded once
    text = unicodedata.normalize("NFC", text).translate(_TEXTURE).replace("\u2026", "...")
    text = _DASH_RUN.sub("-", text)
    return _WHITESPACE.sub(" ", text).strip()


def _visible_text(html: str) -> str:
    # Iterative walk (deeply nested markup would overflow recursion); block elements and
    # <br> separate words, inline ones do not ("wo<b>rd</b>" is one word).
    soup = BeautifulSoup(html or "", "html.parser")
    parts: list[str] = []
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(soup.children), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                parts.append(" ")
        elif isinstance(child, Tag):
            if child.name in _INVISIBLE_TAGS:
                continue
            block = child.name in _BLOCK_TAGS
            if block:
                parts.append(" ")
            stack.append((iter(child.children), block))
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            parts.append(str(child))
    return "".join(parts)


def html_to_text(html: str) -> str:
    """Plain text of a short rendered fragment (a title or an excerpt), entities decoded."""
    text = BeautifulSoup(html or "", "html.parser").get_text(" ")
    return _WHITESPACE.sub(" ", text).strip()


def scrape_item(
    item: DiscoveredItem,
    html: str | None,
    *,
    terms_by_id: dict[int, Term] | None = None,
    media_by_id: dict[int, str] | None = None,
    authors_by_id: dict[int, str] | None = None,
    page_url_by_id: dict[int, str] | None = None,
    further_page: Callable[[str], str | None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ScrapedItem:
    """Build the ``ScrapedItem`` for ``item`` from its REST record and/or page ``html``.
    Without a REST record, the further pages of an entry split by ``<!--nextpage-->`` are
    read through ``further_page`` (URL -> HTML, None when it cannot be had) and their content
    appended (a REST record's rendered content holds every page already).
    ``headers``: the page's response headers (its pingback announcement, ``discussion``).

    Raises ValueError when there is neither a REST record nor HTML.
    """
    page = extract_page(html, item.url) if html else None
    if item.rest is not None:
        scraped = _from_rest(item, item.rest, terms_by_id or {}, media_by_id or {}, authors_by_id or {},
                             page_url_by_id or {})
        if page is not None:
            scraped.seo_title, scraped.seo_description = page.seo_title, page.seo_description
            scraped.author_name = scraped.author_name or page.author_name
            if scraped.featured_image_url is None and int(item.rest.get("featured_media") or 0):
                scraped.featured_image_url = page.featured_image_url
        elif html:
            scraped.seo_title, scraped.seo_description = seo_fields(html)
    elif page is not None:
        for url in page.page_urls:
            more = further_page(url) if further_page is not None else None
            if more:
                page.content_html += "\n" + extract_page(more, url).content_html
        scraped = _from_page(item, page)
        scraped.comment_status, scraped.ping_status = discussion.from_page(html or "", headers)
    else:
        raise ValueError(f"{item.url}: neither a REST record nor HTML to scrape")
    base = scraped.source_url or item.url
    scraped.password_protected = scraped.password_protected or _shows_password_form(scraped.content_html)
    scraped.content_html, scraped.removed = clean_content(scraped.content_html, base)
    media = media_urls(scraped.content_html, base)
    if scraped.featured_image_url:
        featured = canonical_url(scraped.featured_image_url, base)
        if featured and featured not in media:
            media.append(featured)
    scraped.media_urls = media
    return scraped


def clean_content(html: str, base_url: str) -> tuple[str, dict[str, int]]:
    """Sanitise, drop WordPress rendering leftovers, make URLs absolute; with the counts
    (sanitiser's keys plus ``render_leftovers``)."""
    clean, removed = sanitize_html(html, base_url)
    soup = BeautifulSoup(clean, "html.parser", multi_valued_attributes=None)
    removed["render_leftovers"] = remove_render_leftovers(soup)
    return absolutize_urls(soup.decode(formatter=FRAGMENT_FORMATTER), base_url).strip(), removed


def _shows_password_form(html: str) -> bool:
    # What WordPress prints instead of a password-protected entry's content.
    return "post-password-form" in html or "action=postpass" in html


# ---------------------------------------------------------------------------- REST


def _rendered(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, dict):
        return str(value.get("rendered") or "")
    return str(value or "")


def _from_rest(
    item: DiscoveredItem,
    rest: dict[str, Any],
    terms_by_id: dict[int, Term],
    media_by_id: dict[int, str],
    authors_by_id: dict[int, str],
    page_url_by_id: dict[int, str],
) -> ScrapedItem:
    kind: Literal["page", "post"] = "page" if rest.get("type") == "page" or item.kind == "page" else "post"
    content = _rendered(rest, "content")
    embedded = rest.get("_embedded") or {}
    terms = [_clean_term(terms_by_id[i]) for key in ("categories", "tags") for i in rest.get(key) or []
             if i in terms_by_id]
    if not terms:
        terms = _embedded_terms(embedded)
    parent = int(rest.get("parent") or 0)
    featured = int(rest.get("featured_media") or 0)
    author = int(rest.get("author") or 0)
    comments, pings = discussion.from_rest(rest)
    return ScrapedItem(
        kind=kind,
        source_url=str(rest.get("link") or item.url),
        title=html_to_text(_rendered(rest, "title")),
        content_html=content,
        slug=unquote(str(rest.get("slug") or "")),
        excerpt=_manual_excerpt(_excerpt_text(_rendered(rest, "excerpt")), content),
        date=rest.get("date"),
        date_gmt=rest.get("date_gmt"),
        modified=rest.get("modified"),
        status=str(rest.get("status") or "publish"),
        parent_url=page_url_by_id.get(parent) if parent else None,
        menu_order=int(rest.get("menu_order") or 0),
        terms=terms,
        featured_image_url=media_by_id.get(featured) or _embedded_media(embedded, featured),
        author_name=authors_by_id.get(author) or _embedded_author(embedded),
        source_id=rest.get("id") if isinstance(rest.get("id"), int) else item.source_id,
        password_protected=bool((rest.get("content") or {}).get("protected"))
        if isinstance(rest.get("content"), dict) else False,
        post_format=_post_format(rest.get("format")) if kind == "post" else "standard",
        comment_status=comments,
        ping_status=pings,
    )


def _post_format(value: Any) -> str:
    return value if isinstance(value, str) and value.isalpha() and value.islower() else "standard"


def _excerpt_text(excerpt_html: str) -> str:
    soup = BeautifulSoup(excerpt_html or "", "html.parser")
    for link in soup.select("a.more-link, .more-link"):  # a theme's "Continue reading"
        link.decompose()
    return html_to_text(str(soup))


def _manual_excerpt(excerpt: str, content_html: str) -> str:
    # REST gives an excerpt even when none was written (the first 55 words of the content);
    # importing that would freeze it as a manual excerpt on the target. WordPress strips
    # tags without adding spaces, so compare without whitespace.
    if not excerpt:
        return ""
    stem = _WHITESPACE.sub("", normalised_text(_AUTO_EXCERPT_TAIL.sub("", excerpt)))
    body = _WHITESPACE.sub("", normalised_text(content_html))
    return "" if not stem or body.startswith(stem) else excerpt


def _clean_term(term: Term) -> Term:
    # REST names are HTML-escaped ("Reisen &amp; Café") and slugs percent-encoded; the
    # HTML path yields decoded forms, and the target re-encodes slugs itself.
    return Term(taxonomy=term.taxonomy, name=html_lib.unescape(term.name), slug=unquote(term.slug),
                parent_slug=unquote(term.parent_slug) if term.parent_slug else None,
                description=term.description)


def _embedded_terms(embedded: dict[str, Any]) -> list[Term]:
    terms = []
    for group in embedded.get("wp:term") or []:
        for raw in group or []:
            if isinstance(raw, dict) and raw.get("taxonomy") in {"category", "post_tag"}:
                terms.append(_clean_term(Term(taxonomy=raw["taxonomy"], name=str(raw.get("name") or ""),
                                              slug=str(raw.get("slug") or ""))))
    return terms


def _embedded_media(embedded: dict[str, Any], media_id: int) -> str | None:
    for media in embedded.get("wp:featuredmedia") or []:
        if isinstance(media, dict) and media.get("id") == media_id and media.get("source_url"):
            return str(media["source_url"])
    return None


def _embedded_author(embedded: dict[str, Any]) -> str | None:
    for author in embedded.get("author") or []:
        if isinstance(author, dict) and author.get("name"):
            return html_lib.unescape(str(author["name"]))
    return None


# ---------------------------------------------------------------------------- HTML only


def _from_page(item: DiscoveredItem, page: ExtractedPage) -> ScrapedItem:
    # A page the HTML cannot classify (not WordPress, or a custom post type) becomes a page:
    # pages keep their URL hierarchy, posts would be dated into the blog.
    kind = page.kind if page.kind != "unknown" else "post" if item.kind == "post" else "page"
    return ScrapedItem(
        kind=kind,
        source_url=page.url or item.url,
        title=page.title,
        content_html=page.content_html,
        slug=page.slug,
        excerpt=_manual_excerpt(page.excerpt, page.content_html),
        date=page.date,
        date_gmt=page.date_gmt,
        modified=page.modified,
        parent_url=page.parent_url if kind == "page" else None,
        terms=[_clean_term(t) for t in page.terms] if kind == "post" else [],
        featured_image_url=page.featured_image_url,
        author_name=page.author_name,
        seo_title=page.seo_title,
        seo_description=page.seo_description,
        source_id=page.source_id if page.source_id is not None else item.source_id,
        post_format=page.post_format if kind == "post" else "standard",
    )
