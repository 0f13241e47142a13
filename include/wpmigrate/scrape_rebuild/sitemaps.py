"""Sitemaps: what a sitemap file lists (from its name) and its URLs (from its XML).

WordPress core (>= 5.5) serves ``wp-sitemap.xml`` with one file per post type, taxonomy
and users; Yoast and Rank Math serve ``sitemap_index.xml`` with ``<type>-sitemap<n>.xml``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from lxml import etree

_WP_SITEMAP = re.compile(r"wp-sitemap-(?P<provider>[a-z]+)-(?:(?P<sub>[a-z\d_-]+?)-)?\d+\.xml$")
_PLUGIN_SITEMAP = re.compile(r"(?:^|/)(?P<sub>[a-z\d_-]+?)-sitemap\d*\.xml(\.gz)?$")  # Yoast, Rank Math
_INDEX_NAMES = frozenset({"wp-sitemap.xml", "sitemap_index.xml", "sitemap.xml", "sitemap.xml.gz"})
_TAXONOMY_HINT = re.compile(r"categor|tag|author|user|taxonom|format|topic", re.I)


def sitemap_kind(url: str) -> str | None:
    """What a sitemap file lists, from its name: page/post, "unknown" (an index or a generic
    sitemap), "other:<post type>", or None for taxonomy/user/attachment sitemaps (no items)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    if name in _INDEX_NAMES:
        return "unknown"
    core = _WP_SITEMAP.search(name)  # WordPress core: wp-sitemap-posts-page-1.xml
    if core:
        if core["provider"] != "posts":
            return None  # taxonomies, users
        sub = core["sub"] or ""
        return {"page": "page", "post": "post"}.get(sub, None if sub == "attachment" else f"other:{sub}")
    plugin = _PLUGIN_SITEMAP.search(name)  # Yoast, Rank Math: page-sitemap.xml, post-sitemap2.xml
    if plugin:
        sub = plugin["sub"]
        if sub in ("page", "post"):
            return sub
        if sub == "attachment" or _TAXONOMY_HINT.search(sub):
            return None
        return f"other:{sub}"
    return "unknown"


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """("urlset" | "sitemapindex" | "", locs). No DTD, no entities, no network: XML bombs
    and external entities stay inert."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError):
        return "", []
    tag = etree.QName(root).localname
    locs = []
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname in ("url", "sitemap"):
            loc = child.find("{*}loc")
            if loc is not None and loc.text and loc.text.strip():
                locs.append(loc.text.strip())
    return tag, locs


def iter_sitemap(body: bytes) -> tuple[str, Iterator[str]]:
    """``parse_sitemap`` as a stream: ("urlset" | "sitemapindex" | "", its locs one by one).

    Each entry is dropped from the tree once read, so a 50 MB sitemap is never held as a
    tree or a list; a file that stops being well-formed ends the stream there.
    """
    events = etree.iterparse(io.BytesIO(body), events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False)
    try:
        _, root = next(events)
    except (etree.XMLSyntaxError, StopIteration, ValueError):
        return "", iter(())
    tag = etree.QName(root).localname

    def locs() -> Iterator[str]:
        try:
            for event, element in events:
                if event != "end" or not isinstance(element.tag, str) or element.getparent() is not root:
                    continue
                if etree.QName(element).localname in ("url", "sitemap"):
                    loc = element.find("{*}loc")
                    if loc is not None and loc.text and loc.text.strip():
                        yield loc.text.strip()
                element.clear()
                while element.getprevious() is not None:  # drop what was read, siblings included
                    del root[0]
        except etree.XMLSyntaxError:
            return

    return tag, locs()
