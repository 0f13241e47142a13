"""Whether a source's public path still reaches its item on the target, as a visitor (a
bookmark, a search result, an inbound link) would follow it after the DNS switch.

The source's path and query, asked of the target's origin, must answer 200 on the item's
target URL: directly, or through redirects the target serves itself (every hop on the
target's origin: a redirect elsewhere is not the target serving the item). Anything else
is a lost public path, and a loss: the redirect map is an artifact nobody may install.
URLs that differ only in how the path is spelt (percent-encoding, its case) are the same
to a visitor.
"""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import httpx

OK = 200
MAX_REDIRECTS = 5  # a trailing slash, a canonical redirect, an old slug: a few hops at most


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_place(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (_origin(a) == _origin(b) and unquote(pa.path) == unquote(pb.path)
            and unquote(pa.query) == unquote(pb.query))


def source_path_on_target(target_home: str, source_url: str) -> str:
    """The source URL's path and query on the target's origin."""
    source = urlsplit(source_url)
    return _origin(target_home) + source.path + (f"?{source.query}" if source.query else "")


def lost_path(client: httpx.Client, target_home: str, source_url: str, item_url: str) -> str | None:
    """None when the source's path reaches ``item_url`` on the target (see the module
    docstring), else what a visitor gets there instead."""
    if _same_place(source_path_on_target(target_home, source_url), item_url):
        return None  # the item already answers there (its own check fetched it)
    asked = url = source_path_on_target(target_home, source_url)
    for _ in range(MAX_REDIRECTS + 1):
        try:  # hop by hop: a redirect off the target is never followed
            answer = client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            return f"{asked} did not answer ({type(exc).__name__}); the item is at {item_url}"
        if not answer.is_redirect:
            break
        url = urljoin(url, answer.headers.get("location", ""))
        if _origin(url) != _origin(target_home):
            return f"{asked} redirects off the target ({url}); the item is at {item_url}"
    else:
        return f"{asked} redirects more than {MAX_REDIRECTS} times; the item is at {item_url}"
    if answer.status_code != OK:
        return f"{asked} answers {answer.status_code}; the item is at {item_url}"
    if not _same_place(url, item_url):
        return f"{asked} shows {url}, not the item at {item_url}"
    return None


def lost_media_path(client: httpx.Client, target_home: str, source_url: str, file_url: str) -> str | None:
    """``lost_path`` for a media file: its path is the file (a query string such as a resize
    hint, ``?w=604``, names no other file), so the paths are compared without it."""
    return lost_path(client, target_home, _without_query(source_url), _without_query(file_url))


def _without_query(url: str) -> str:
    return urlsplit(url)._replace(query="", fragment="").geturl()
