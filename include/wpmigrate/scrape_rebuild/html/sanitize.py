"""Allow-list sanitiser for scraped WordPress content (Mode B).

Scraped HTML is imported into the target as post content, so anything executable in it
(scripts, event handlers, ``javascript:`` URLs, CSS expressions, plugins, foreign
iframes) would become stored XSS on the new site. Only elements and attributes that
WordPress content actually uses survive; everything else is dropped or unwrapped.

Safety comes from re-serialising a parsed tree that contains nothing but allowed,
non-raw-text elements: text is always escaped on output, so a parser disagreement about
where a tag starts cannot smuggle markup through. ``html.parser`` is used rather than
lxml because lxml wraps bare fragment text in ``<p>`` and hoists leading ``<style>`` or
``<meta>`` into a ``<head>``, which would change the content's meaning.
"""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import CData, ProcessingInstruction

from wpmigrate.scrape_rebuild.html.media_refs import FRAGMENT_FORMATTER, SRCSET_ATTRS, parse_srcset

# Kept, with their allowed children.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "address", "article", "aside", "audio", "b", "bdi", "bdo", "blockquote", "br",
    "caption", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "iframe", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "s", "samp", "section", "small",
    "source", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "time", "tr", "track", "u", "ul", "var", "video", "wbr",
})
# Dropped together with everything inside them: executable, raw-text or foreign content
# whose children are not meaningful text in the page.
DROP_WITH_CONTENT = frozenset({
    "script", "style", "noscript", "template", "object", "embed", "applet", "frame", "frameset",
    "noframes", "noembed", "xmp", "plaintext", "svg", "math", "head", "title", "meta", "link",
    "base", "textarea", "select", "input", "param", "portal", "dialog", "iframe",
})
# Anything else (form, font, center, label, button, custom elements, html/body...) is
# unwrapped: its text stays, the tag goes.

GLOBAL_ATTRS = frozenset({"class", "id", "title", "lang", "dir", "style", "role", "hidden"})
TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "target", "rel", "name", "hreflang", "download"}),
    "img": frozenset({"src", "srcset", "sizes", "alt", "width", "height", "loading", "decoding"}),
    "source": frozenset({"src", "srcset", "sizes", "type", "media"}),
    "video": frozenset({"src", "poster", "controls", "width", "height", "autoplay", "loop", "muted",
                        "playsinline", "preload"}),
    "audio": frozenset({"src", "controls", "autoplay", "loop", "muted", "preload"}),
    "track": frozenset({"src", "kind", "srclang", "label", "default"}),
    "iframe": frozenset({"src", "width", "height", "allow", "allowfullscreen", "frameborder",
                         "loading", "referrerpolicy"}),
    "td": frozenset({"colspan", "rowspan", "headers", "scope"}),
    "th": frozenset({"colspan", "rowspan", "headers", "scope", "abbr"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "li": frozenset({"value"}),
    "time": frozenset({"datetime"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "del": frozenset({"cite", "datetime"}),
    "ins": frozenset({"cite", "datetime"}),
    "details": frozenset({"open"}),
}
# Attributes whose value is a URL (or a list of them) a browser may load or navigate to.
URL_ATTRS = frozenset({"href", "src", "poster", "cite", "action", "formaction", "xlink:href",
                       "background", "data-src", "data-href", "data-url", "data-lazy-src",
                       "data-original", "data-bg"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
SAFE_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpe?g|gif|webp|avif|bmp);", re.I)
# https only (or protocol-relative): an http embed would be mixed content on the target.
IFRAME_HOSTS = frozenset({
    "www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "youtube-nocookie.com",
    "player.vimeo.com", "www.dailymotion.com", "geo.dailymotion.com", "fast.wistia.net",
    "w.soundcloud.com", "open.spotify.com", "embed.ted.com",
})

# Browsers ignore ASCII whitespace/control characters inside a URL's scheme; invisible
# Unicode format characters are stripped too so they cannot hide a scheme from the check.
_URL_JUNK = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff]")
# data-*/aria-* names are free-form; only plain ones are kept (no quotes, slashes, "<").
_CUSTOM_ATTR = re.compile(r"^(?:data|aria)-[a-z0-9_.:-]+$")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)]*))\s*\)", re.I)
_CSS_DANGER = re.compile(r"expression\s*\(|javascript:|vbscript:|livescript:|-moz-binding|behavior\s*:"
                         r"|@import", re.I)

_NON_CONTENT = (Comment, CData, ProcessingInstruction, Declaration, Doctype)

COUNT_KEYS = ("scripts", "styles", "embeds", "iframes", "other_elements", "unwrapped_elements",
              "comments", "event_handlers", "unsafe_urls", "unsafe_styles", "other_attributes")


def _decode_fully(value: str) -> str:
    # Attribute values arrive entity-decoded once; decoding again until stable also
    # catches double-encoded payloads (``&amp;#x6A;avascript:``) a later consumer might decode.
    for _ in range(5):
        decoded = html_lib.unescape(value)
        if decoded == value:
            break
        value = decoded
    return value


def is_safe_url(value: str, *, allow_data_image: bool = False) -> bool:
    """True for relative URLs and http(s)/mailto/tel; ``data:image/*`` only when allowed."""
    cleaned = _URL_JUNK.sub("", _decode_fully(value)).lower()
    # A backslash is a slash to browsers: ``\\evil`` must not be read as a path.
    cleaned = cleaned.replace("\\", "/")
    match = _SCHEME.match(cleaned)
    if not match:
        return True
    scheme = match.group(1)
    if scheme == "data":
        return allow_data_image and bool(SAFE_DATA_IMAGE.match(cleaned))
    return scheme in SAFE_SCHEMES


def _decode_css(value: str) -> str:
    value = _CSS_COMMENT.sub("", _decode_fully(value))

    def unescape(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code < 0x110000 else ""
        return match.group(2)

    return _CSS_ESCAPE.sub(unescape, value)


def is_safe_style(value: str) -> bool:
    css = _decode_css(value)
    if _CSS_DANGER.search(_URL_JUNK.sub("", css)):
        return False
    for match in _CSS_URL.finditer(css):
        url = next(group for group in match.groups() if group is not None)
        if not is_safe_url(url, allow_data_image=True):
            return False
    return True


def _iframe_allowed(src: str | None) -> bool:
    if not src:
        return False
    src = _URL_JUNK.sub("", _decode_fully(src))
    # Browsers read "\\" as "/" and stop the host at it, urlsplit does not: reject rather
    # than let ``https://evil.test\\@www.youtube.com/`` pass as YouTube. Userinfo likewise.
    if "\\" in src or "@" in src.split("?", 1)[0].split("#", 1)[0]:
        return False
    if src.startswith("//"):
        src = "https:" + src
    parts = urlsplit(src)
    return parts.scheme.lower() == "https" and (parts.hostname or "") in IFRAME_HOSTS


def _clean_attrs(tag: Tag, counts: Counter[str]) -> None:
    allowed = GLOBAL_ATTRS | TAG_ATTRS.get(tag.name, frozenset())
    for name in list(tag.attrs):
        value = tag.attrs[name]
        text = " ".join(value) if isinstance(value, list) else str(value)
        lname = name.lower()
        if lname.startswith("on"):
            counts["event_handlers"] += 1
            del tag.attrs[name]
        elif (lname in URL_ATTRS and not is_safe_url(text, allow_data_image=tag.name == "img")) or (
            lname in SRCSET_ATTRS and not all(is_safe_url(url) for url, _ in parse_srcset(text))
        ):
            counts["unsafe_urls"] += 1
            del tag.attrs[name]
        elif lname == "style" and not is_safe_style(text):
            counts["unsafe_styles"] += 1
            del tag.attrs[name]
        elif lname in allowed or lname in SRCSET_ATTRS or _CUSTOM_ATTR.match(lname):
            # data-* is kept for block front-ends (data-id, data-align); values that look
            # like URLs were checked above, others are inert without a script to read them.
            if lname.startswith("data-") and not is_safe_url(text):
                counts["unsafe_urls"] += 1
                del tag.attrs[name]
        else:
            counts["other_attributes"] += 1
            del tag.attrs[name]
    if tag.name == "a" and str(tag.get("target", "")).lower() == "_blank":
        # A new window must not get a handle on the opener (reverse tabnabbing).
        rel = str(tag.get("rel") or "").split()
        missing = [token for token in ("noopener", "noreferrer") if token not in (t.lower() for t in rel)]
        if missing:
            tag["rel"] = " ".join([*rel, *missing])


def _drop_count_key(name: str) -> str:
    if name == "script":
        return "scripts"
    if name == "style":
        return "styles"
    if name in {"object", "embed", "applet", "param"}:
        return "embeds"
    if name == "iframe":
        return "iframes"
    return "other_elements"


def sanitize_html(html: str, base_url: str | None = None) -> tuple[str, dict[str, int]]:
    """Return ``(clean_html, removed_counts)`` with every key of ``COUNT_KEYS`` in the counts.

    ``base_url`` (the page's URL) is accepted for a uniform call site but not used: URLs are
    left as written; ``media_refs.absolutize_urls`` makes them absolute when wanted.
    Comments are removed too, so block markup comments do not survive: pass rendered HTML.
    """
    del base_url
    counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
    # multi_valued_attributes=None keeps class="a  b" etc. as written instead of re-joined.
    soup = BeautifulSoup(html or "", "html.parser", multi_valued_attributes=None)
    # Materialise first: the tree is mutated while walking it.
    for node in list(soup.descendants):
        if isinstance(node, Tag):
            if node.parent is None and node is not soup:
                continue  # inside something already decomposed
            if _detached(node, soup):
                continue
            name = (node.name or "").lower()
            if name == "iframe" and _iframe_allowed(node.get("src")):  # type: ignore[arg-type]
                node.clear()  # iframe children are raw text to a browser: never useful
                _clean_attrs(node, counts)
            elif name in DROP_WITH_CONTENT:
                counts[_drop_count_key(name)] += 1
                node.extract()
            elif name not in ALLOWED_TAGS:
                counts["unwrapped_elements"] += 1
                node.unwrap()
            else:
                _clean_attrs(node, counts)
        elif isinstance(node, _NON_CONTENT) and not _detached(node, soup):
            counts["comments"] += 1
            node.extract()
    return soup.decode(formatter=FRAGMENT_FORMATTER), dict(counts)


def _detached(node: Tag | NavigableString, root: BeautifulSoup) -> bool:
    # decompose()/extract() of an ancestor leaves descendants reachable from our snapshot.
    parent = node.parent
    while parent is not None:
        if parent is root:
            return False
        parent = parent.parent
    return True
