"""What a theme prints around the content about the site itself: its name, tagline and
main navigation (read from the home page by Mode B discovery)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from wpmigrate.scrape_rebuild.html.page_markers import attr_values

_NOT_MAIN_NAV = re.compile(r"pagination|breadcrumb|footer|social|skip|post-navigation|comment", re.I)
# Submenus deeper than this are flattened into the last level's list of links: no theme shows
# more, and a menu nested 1,000 deep (markup gone wrong, or hostile) must not overflow the
# stack of discovery, of the rebuild's navigation blocks or of the site record's JSON.
MAX_MENU_DEPTH = 10


def _main_nav(soup: BeautifulSoup) -> Tag | None:
    selectors = ("header nav.wp-block-navigation", "nav.wp-block-navigation", "#site-navigation",
                 "nav.main-navigation", ".main-navigation", "nav#primary-menu", "ul#primary-menu",
                 "nav.primary-navigation", "ul#menu-main-menu", "header nav", "ul.nav-menu", "ul.menu")
    def is_main(el: Tag) -> bool:
        label = " ".join([*attr_values(el, "class"), str(el.get("aria-label", "")), str(el.get("id", ""))])
        return not _NOT_MAIN_NAV.search(label)

    for selector in selectors:
        for el in soup.select(selector):
            if is_main(el):
                return el
    return next((el for el in soup.find_all("nav") if is_main(el)), None)


def _links(tag: Tag, base: str) -> list[dict[str, Any]]:
    return [{"title": a.get_text(" ", strip=True), "url": urljoin(base, str(a["href"])), "children": []}
            for a in tag.find_all("a", href=True)]


def _menu_items(ul: Tag, base: str, depth: int = 1) -> list[dict[str, Any]]:
    if depth >= MAX_MENU_DEPTH:
        return _links(ul, base)
    items: list[dict[str, Any]] = []
    for li in ul.find_all("li", recursive=False):
        own = next((a for a in li.find_all("a", href=True) if a.find_parent("li") is li), None)
        sub = li.find("ul")
        children = _menu_items(sub, base, depth + 1) if isinstance(sub, Tag) else []
        if own is not None:
            items.append({"title": own.get_text(" ", strip=True), "url": urljoin(base, str(own["href"])),
                          "children": children})
        elif children:  # a heading without a link that opens a submenu
            label = li.find(string=True)
            items.append({"title": str(label or "").strip(), "url": None, "children": children})
    return items


def extract_nav_menu(soup: BeautifulSoup, base: str) -> list[dict[str, Any]]:
    """The home page's main navigation as nested ``{title, url, children}`` (URLs absolute)."""
    nav = _main_nav(soup)
    if nav is None:
        return []
    ul = nav if nav.name == "ul" else nav.find("ul")
    if isinstance(ul, Tag):
        return _menu_items(ul, base)
    return _links(nav, base)


_TITLE_SEPARATORS = (" – ", " — ", " | ", " - ", " · ", " » ")


def site_identity(soup: BeautifulSoup) -> tuple[str, str]:
    """(site name, tagline) as the theme, Open Graph or the document title give them."""
    def text(selector: str) -> str:
        el = soup.select_one(selector)
        return el.get_text(" ", strip=True) if el else ""

    def meta(attr: str, value: str) -> str:
        el = soup.find("meta", attrs={attr: value})
        return str(el.get("content") or "").strip() if isinstance(el, Tag) else ""

    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    head, tail = title, ""
    for sep in _TITLE_SEPARATORS:
        if sep in title:
            head, tail = title.split(sep, 1)
            break
    name = meta("property", "og:site_name") or text(".wp-block-site-title") or text(".site-title") or head
    description = (text(".wp-block-site-tagline") or text(".site-description")
                   or meta("name", "description") or tail)
    return name, description
