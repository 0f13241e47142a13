"""What a rendered WordPress page says about the object it shows: body classes, shortlink.

``body_class()`` prints ``single-post postid-8`` for a post, ``page page-id-5`` for a page
(``parent-pageid-2`` under a parent), ``home``, ``archive``... for listings; ``wp_shortlink``
prints ``<link rel="shortlink" href="/?p=8">`` (``?page_id=5`` on some sites). The two
classifiers built on these answer different questions and stay with their callers:
``discovery.classify_html`` (is this a single page/post, some other WordPress page, or
no WordPress at all?) and ``extract.detect_kind`` (page, post or unknown, with the parent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup, Tag

_ID_CLASS = re.compile(r"^(page-id|postid|parent-pageid)-(\d+)$")


@dataclass(frozen=True)
class PageMarkers:
    classes: frozenset[str]  # of <body>
    ids: dict[str, int]  # "page-id" / "postid" / "parent-pageid" -> the number in that body class
    shortlink: dict[str, str]  # query of <link rel="shortlink">: {"p": "8"} or {"page_id": "5"}

    @property
    def single_kind(self) -> Literal["page", "post"] | None:
        """``post`` on a single post, ``page`` on a page, else None (body classes only)."""
        if "single-post" in self.classes:
            return "post"
        if "page" in self.classes and "page-id" in self.ids:
            return "page"
        return None

    @property
    def post_format(self) -> str:
        """A single post's format (``single-format-aside``: ``aside``); ``standard`` when the
        page names none (a theme without post formats prints ``single-format-standard``)."""
        for name in self.classes:
            if name.startswith("single-format-") and (fmt := name.removeprefix("single-format-")).isalpha():
                return fmt
        return "standard"


def attr_values(tag: Tag, name: str) -> list[str]:
    """A multi-valued attribute (``class``, ``rel``) as a list, whether or not the parser split it."""
    value = tag.get(name)
    if value is None:
        return []
    return value.split() if isinstance(value, str) else list(value)


def page_markers(soup: BeautifulSoup) -> PageMarkers:
    body = soup.find("body")
    classes = frozenset(attr_values(body, "class")) if isinstance(body, Tag) else frozenset()
    ids = {m.group(1): int(m.group(2)) for c in classes if (m := _ID_CLASS.match(c))}
    link = soup.find("link", rel="shortlink", href=True)
    shortlink = ({k: v[0] for k, v in parse_qs(urlsplit(str(link["href"])).query).items()}
                 if isinstance(link, Tag) else {})
    return PageMarkers(classes, ids, shortlink)
