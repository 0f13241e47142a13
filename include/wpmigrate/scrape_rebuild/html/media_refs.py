"""Media referenced by scraped HTML, and rewriting those references (Mode B).

Crawled copies routinely miss lazy-loaded and responsive images: they hide in
``srcset``/``data-srcset`` candidates, ``data-src``/``data-lazy-src``, ``poster``,
``<source>`` and CSS ``url(...)``. The document is walked with a real HTML parser;
regular expressions only ever see one attribute value or one CSS text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EntitySubstitution
from bs4.element import NavigableString, Stylesheet
from bs4.formatter import HTMLFormatter

from wpmigrate.web.url_keys import canonical_url

_HAS_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_BOOLEAN_ATTRS = frozenset({
    "allowfullscreen", "async", "autofocus", "autoplay", "checked", "controls", "default", "defer",
    "disabled", "download", "hidden", "inert", "ismap", "itemscope", "loop", "multiple", "muted",
    "nomodule", "novalidate", "open", "playsinline", "readonly", "required", "reversed", "selected",
})


class _FragmentFormatter(HTMLFormatter):
    """Serialise like WordPress writes HTML: ``<br>`` not ``<br/>``, UTF-8 characters as
    they are (not ``&eacute;``), only ``& < >`` escaped, attributes in source order (bs4
    sorts them by default). Shared with html_sanitize and content_extract."""

    def attributes(self, tag: Tag) -> Iterable[tuple[str, Any]]:
        # The parser reports ``controls`` and ``alt=""`` alike; only real booleans go bare.
        return [(k, None if v == "" and k in _BOOLEAN_ATTRS else v) for k, v in (tag.attrs or {}).items()]


FRAGMENT_FORMATTER = _FragmentFormatter(
    entity_substitution=EntitySubstitution.substitute_xml,
    void_element_close_prefix="",
    empty_attributes_are_booleans=True,
)

MEDIA_EXTENSIONS = frozenset({
    "jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "bmp", "ico", "tif", "tiff", "heic",
    "mp4", "m4v", "webm", "ogv", "mov", "mp3", "m4a", "ogg", "oga", "wav", "flac",
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "zip",
})
# Lazy-loading plugins' attribute names (a3, WP Rocket, Jetpack, EWWW...).
LAZY_URL_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-bg", "data-orig-file",
                  "data-large-file", "data-full-url")
SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset")
MEDIA_TAGS = frozenset({"img", "source", "video", "audio", "picture", "image"})
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*\)", re.I)
# URL-valued attributes that absolutize_urls resolves (srcset and CSS handled separately).
URL_ATTRS = ("href", "src", "poster", "cite", "data", "xlink:href", *LAZY_URL_ATTRS)


def has_media_extension(url: str) -> bool:
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[-1].lower() in MEDIA_EXTENSIONS


def parse_srcset(value: str) -> list[tuple[str, str]]:
    """``[(url, descriptor)]`` per the HTML srcset algorithm: URLs may contain commas
    (image CDNs), a candidate ends at a comma that follows the URL or its descriptor."""
    out: list[tuple[str, str]] = []
    pos, size = 0, len(value)
    while pos < size:
        while pos < size and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < size and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = pos
            depth = 0
            while pos < size and (value[pos] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[pos], 0)
                pos += 1
            descriptor = value[start:pos].strip()
        if url:
            out.append((url, descriptor))
    return out


def css_urls(css: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(css)]


def _refs(tag: Tag) -> Iterator[tuple[str, str]]:
    """``(kind, value)`` for every media-bearing attribute or text of one element."""
    name = tag.name
    if name in MEDIA_TAGS or name in {"embed", "input", "track"}:
        for attr in ("src", "poster", "href", "xlink:href"):
            if attr in tag.attrs and (name != "input" or str(tag.get("type", "")).lower() == "image"):
                yield "url", str(tag[attr])
    if name == "object" and tag.get("data"):
        yield "url", str(tag["data"])
    for attr in LAZY_URL_ATTRS:
        if attr in tag.attrs:
            yield ("url" if name in MEDIA_TAGS else "url-ext"), str(tag[attr])
    for attr in SRCSET_ATTRS:
        if attr in tag.attrs:
            yield "srcset", str(tag[attr])
    if name == "a" and tag.get("href"):
        yield "url-ext", str(tag["href"])
    if tag.get("style"):
        yield "css", str(tag["style"])
    if name == "style" and tag.string:
        yield "css", str(tag.string)


def media_urls(html: str, base_url: str) -> list[str]:
    """Absolute, deduplicated media URLs referenced by ``html``, in document order
    (canonical form, see ``canonical_url``; the keys ``rewrite_media_urls`` expects)."""
    soup = _parse(html)
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        base_url = urljoin(base_url, str(base_tag["href"]))
    seen: dict[str, None] = {}
    for tag in soup.find_all(True):
        for kind, value in _refs(tag):
            if kind == "srcset":
                candidates = [url for url, _ in parse_srcset(value)]
            elif kind == "css":
                candidates = css_urls(value)
            else:
                candidates = [value]
            for candidate in candidates:
                url = canonical_url(candidate, base_url)
                if url and (kind != "url-ext" or has_media_extension(url)):
                    seen.setdefault(url, None)
    return list(seen)


def _rewrite_css(css: str, lookup: Callable[[str], str | None]) -> str:
    def swap(match: re.Match[str]) -> str:
        old = next(g for g in match.groups() if g is not None)
        new = lookup(old) if old and not old.lower().startswith("data:") else None
        return f'url("{new}")' if new else match.group(0)

    return _CSS_URL.sub(swap, css)


def _rewrite_refs(html: str, lookup: Callable[[str], str | None]) -> str:
    """Apply ``lookup`` (old URL as written -> new URL or None to keep) to every URL
    attribute, srcset candidate and CSS ``url()`` of ``html``."""
    soup = _parse(html)
    for tag in soup.find_all(True):
        for attr in URL_ATTRS:
            if attr in tag.attrs:
                new = lookup(str(tag[attr]))
                if new is not None:
                    tag[attr] = new
        for attr in SRCSET_ATTRS:
            if attr in tag.attrs:
                candidates = parse_srcset(str(tag[attr]))
                swapped = [(lookup(url), url, descriptor) for url, descriptor in candidates]
                if any(new is not None for new, _, _ in swapped):
                    tag[attr] = ", ".join(
                        f"{new if new is not None else url} {descriptor}".strip()
                        for new, url, descriptor in swapped
                    )
        if tag.get("style"):
            tag["style"] = _rewrite_css(str(tag["style"]), lookup)
        # Only a <style>'s .string: bs4 walks single-child chains recursively, so asking
        # every tag of 1,000 nested ones overflows the stack.
        css = tag.string if tag.name == "style" else None
        if isinstance(css, NavigableString) and css:
            css.replace_with(Stylesheet(_rewrite_css(str(css), lookup)))
    return soup.decode(formatter=FRAGMENT_FORMATTER)


def rewrite_media_urls(html: str, mapping: dict[str, str], base_url: str,
                       file_key: Callable[[str], str] | None = None) -> tuple[str, int]:
    """Replace every media reference found in ``mapping`` (keys as ``media_urls`` returns
    them) and return ``(html, replacements)``. Unmapped references are left as they are.

    ``file_key``: the key a reference's file is mapped under when the reference itself is
    not (an upload asked for with a query string, ``upload_urls.file_url``). Its query is
    kept on the new URL: the target serves the same file whatever the query, so nothing
    visible changes, and the markup stays the source's (a hint a plugin reads, Jetpack's
    ``?w=`` or the player counter ``?_=1`` of core's media shortcodes, still reaches it)."""
    count = 0

    def lookup(value: str) -> str | None:
        nonlocal count
        key = canonical_url(value, base_url)
        new = mapping.get(key) if key else None
        if new is None and key and file_key is not None and (file := file_key(key)) != key:
            new = _with_query(mapping.get(file), urlsplit(key).query)
        if new:
            count += 1
        return new or None

    return _rewrite_refs(html, lookup), count


def _with_query(url: str | None, query: str) -> str | None:
    if not url or not query:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"


def absolutize_urls(html: str, base_url: str) -> str:
    """Resolve relative and protocol-relative URLs in ``html`` against ``base_url``.

    Fragment-only links (``#top``) and non-hierarchical URLs (mailto:, tel:, data:) stay
    as written; so does every URL that is already absolute.
    """

    def lookup(value: str) -> str | None:
        value = value.strip()
        if not value or value.startswith("#") or _HAS_SCHEME.match(value):
            return None
        try:
            return urljoin(base_url, value)
        except ValueError:  # unparseable (``//[::1``): leave it as written
            return None

    return _rewrite_refs(html, lookup)


def _parse(html: str) -> BeautifulSoup:
    # multi_valued_attributes=None: class/rel come back exactly as written.
    return BeautifulSoup(html or "", "html.parser", multi_valued_attributes=None)
