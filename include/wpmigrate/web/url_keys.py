"""URL normal forms and the keys that decide when two URLs mean the same thing.

Each key answers a different question, so they stay separate functions:

- ``normalise_url``: the form discovery keeps a page URL in (case, default port,
  percent-encoding and tracking parameters normalised; still a fetchable URL).
- ``dedupe_key``: the same page for discovery, whatever the form (www. twin, http or
  https, trailing slash).
- ``url_key``: the same page for the import's source -> target URL map. Stricter than
  ``dedupe_key`` (host as written, query kept as is): making it as loose would rewrite
  links the import leaves alone today (a www. twin, a tracking parameter).
- ``canonical_url``: one media file whatever the spelling (relative, ``Café.png`` or
  ``Caf%C3%A9.png``); None for what is not an http(s) URL.
- ``host_key``: the origin (scheme and authority) robots.txt and the rate limits apply
  to (RFC 9309: one robots.txt per scheme, host and port).
- ``origin_of``: the site's base URL that URL rewrites replace; keeps the path of a
  sub-directory install (``/blog``) and the case as written.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

_SESSION_PARAMS = frozenset({"phpsessid", "sid", "sessionid", "session_id", "jsessionid", "fbclid", "gclid",
                             "msclkid", "_ga", "mc_cid", "mc_eid"})
_SAFE_PATH_CHARS = "/:@!$&'()*+,;=-._~%"
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
# Browsers drop these from anywhere in a URL (WHATWG URL parser), so must we.
_URL_STRIPPED = re.compile(r"[\t\n\r]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def normalise_url(url: str) -> str:
    """The URL as we keep it: lower-case scheme/host, default port dropped, no fragment,
    session/tracking parameters dropped, percent-encoding normalised."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in _SESSION_PARAMS and not k.lower().startswith("utm_")]
    return urlunsplit((scheme, netloc, path, urlencode(query, safe="/:"), ""))


def dedupe_key(url: str) -> str:
    """Same page whatever the form: no www., no trailing slash, http and https alike."""
    parts = urlsplit(normalise_url(url))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", strip_www(parts.netloc), path, parts.query, ""))


def url_key(url: str) -> str:
    """Scheme-less and trailing-slash-insensitive: ``http://h/about`` and ``https://h/about/``
    are one page."""
    parts = urlsplit(url.strip())
    key = parts.netloc.lower() + parts.path.rstrip("/")
    return key + (f"?{parts.query}" if parts.query else "")


def canonical_url(url: str, base_url: str) -> str | None:
    """Absolute URL without fragment, non-ASCII percent-encoded (so ``Café.png`` and
    ``Caf%C3%A9.png`` are one item); None for data:, javascript: and other non-http URLs."""
    url = _URL_STRIPPED.sub("", url).strip()
    if not url or url.startswith("#"):
        return None
    try:
        parts = urlsplit(urljoin(base_url, url))
        port = parts.port
    except ValueError:  # malformed host or port: not something we could download anyway
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    netloc = parts.hostname
    if ":" in netloc:
        netloc = f"[{netloc}]"  # IPv6 literal
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        netloc = f"{netloc}:{port}"
    path = _upper_escapes(quote(parts.path or "/", safe=_SAFE_PATH_CHARS))
    query = _upper_escapes(quote(parts.query, safe=_SAFE_PATH_CHARS + "?"))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _upper_escapes(value: str) -> str:
    # %c3%a9 and %C3%A9 are the same octets; RFC 3986 makes upper case canonical.
    return _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), value)


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_of(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash: the form rewrites use."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
