"""Mode B: which URLs name a file in the source's uploads folder, and that file's one URL.

Content often points at an upload with a query string: a resize hint of Jetpack or
WordPress.com (``photo.jpg?w=604``, ``?resize=300,200``, ``?fit=``), the player counter
core's ``[audio]``/``[video]`` shortcodes add (``song.mp3?_=1``), a cache buster
(``?ver=2``). A web server hands out a file of the folder whatever the query, so such a
URL is the file without it: downloaded once, one attachment at the source's upload path.
A name without a media extension under the folder may be a script (``download.php?f=x``):
its query matters, and it is not an upload.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from wpmigrate.scrape_rebuild.html.media_refs import has_media_extension

UPLOADS = "/wp-content/uploads/"
_WWW = "www."


def source_hosts(source_home: str) -> list[str]:
    """The source's host with and without ``www.`` (both serve its uploads)."""
    bare = (urlsplit(source_home).hostname or "").lower().removeprefix(_WWW)
    return [bare, f"{_WWW}{bare}"]


def upload_path(url: str, hosts: Iterable[str]) -> str | None:
    """The path under the source's uploads folder of a file URL on a source host
    (``http://old/wp-content/uploads/2008/06/x.jpg?w=604`` -> ``2008/06/x.jpg``), decoded;
    None for anything else (another host, a theme's file, a script under the folder)."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in {h.lower() for h in hosts}:
        return None
    if parts.query and not has_media_extension(url):
        return None
    path = unquote(parts.path)
    at = path.find(UPLOADS)
    if at < 0:
        return None
    relative = path[at + len(UPLOADS):]
    segments = relative.split("/")
    if not relative or any(s in {"", ".", ".."} or "\\" in s or "\x00" in s for s in segments):
        return None
    return relative


def file_url(url: str, hosts: Iterable[str]) -> str:
    """``url`` without its query when it names an upload of the source (the one URL the
    file is downloaded, grouped and mapped under); any other URL as it is."""
    parts = urlsplit(url)
    if not parts.query or upload_path(url, hosts) is None:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
