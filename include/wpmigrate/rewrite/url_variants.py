"""The spellings of a site URL that the rewriter searches for (``UrlRewriter.for_migration``).

Kept apart on purpose from the verifier's own list (``full_access.verify.origin_variants``):
the scan checks the rewriter's result, so it must not share its blind spots.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, urlsplit

from wpmigrate.rewrite.escaped_urls import SLASH_ENTITY_ENCODINGS

__all__ = ["PATH_ENCODINGS", "URL_ENCODINGS", "SiteUrl"]

_PCT = re.compile(rb"%[0-9A-F]{2}")


def _plain(s: str) -> bytes:
    return s.encode("utf-8")


def _json_escaped(s: str) -> bytes:
    return s.replace("/", "\\/").encode("utf-8")


def _json_u002f_upper(s: str) -> bytes:
    # "\u002F" is a legal JSON escape of "/" that some encoders emit (and "\u002f").
    return s.replace("/", "\\u002F").encode("utf-8")


def _json_u002f_lower(s: str) -> bytes:
    return s.replace("/", "\\u002f").encode("utf-8")


def _json_escaped_twice(s: str) -> bytes:
    # JSON inside a JSON string (page builders): "/" -> "\/" -> "\\\/".
    return s.replace("/", "\\\\\\/").encode("utf-8")


def _urlencoded(s: str) -> bytes:
    return quote_plus(s, safe="").encode("ascii")  # PHP urlencode()


def _rawurlencoded(s: str) -> bytes:
    return quote(s, safe="").encode("ascii")  # PHP rawurlencode(): keeps ~


def _lower_hex(b: bytes) -> bytes:
    return _PCT.sub(lambda m: m.group().lower(), b)


URL_ENCODINGS: tuple[Callable[[str], bytes], ...] = (
    _plain,
    _json_escaped,
    _json_u002f_upper,
    _json_u002f_lower,
    _json_escaped_twice,
    _urlencoded,
    lambda s: _lower_hex(_urlencoded(s)),
    _rawurlencoded,
    lambda s: _lower_hex(_rawurlencoded(s)),
    *SLASH_ENTITY_ENCODINGS,
)
# A filesystem path: plain and JSON-escaped (both ways, and JSON in JSON).
PATH_ENCODINGS: tuple[Callable[[str], bytes], ...] = (
    _plain, _json_escaped, _json_u002f_upper, _json_u002f_lower, _json_escaped_twice)


@dataclass(frozen=True)
class SiteUrl:
    scheme: str
    netloc: str  # host[:port], as written (lower-cased host)
    path: str  # "" or "/sub", no trailing slash

    @classmethod
    def parse(cls, url: str) -> SiteUrl:
        url = url.strip()
        if "://" not in url:
            url = "http://" + url.lstrip("/")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) site URL: {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"a site URL has no query or fragment: {url!r}")
        host = parts.hostname  # lower-cased, IPv6 without brackets
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
        return cls(parts.scheme.lower(), netloc, parts.path.rstrip("/"))

    def host_variants(self) -> list[str]:
        """The netloc with and without ``www.`` (not for IPs or single-label hosts), an
        IDN host both in Unicode and in punycode (``xn--``)."""
        host, _, port = self.netloc.partition(":") if not self.netloc.startswith("[") else (
            self.netloc, "", "")
        suffix = f":{port}" if port else ""
        try:
            ipaddress.ip_address(host.strip("[]"))
            return [self.netloc]
        except ValueError:
            pass
        names = [host]
        other = _idn_other_form(host)
        if other and other != host:
            names.append(other)
        out: list[str] = []
        for name in names:
            out.append(name + suffix)
            if name.startswith("www."):
                out.append(name[4:] + suffix)
            elif "." in name:
                out.append("www." + name + suffix)
        return list(dict.fromkeys(out))


def _idn_other_form(host: str) -> str | None:
    """``bücher.example`` <-> ``xn--bcher-kva.example`` (IDNA 2003, Python's codec);
    None when the name has no other form or is not a valid IDN."""
    try:
        if not host.isascii():
            return host.encode("idna").decode("ascii")
        if "xn--" in host:
            return host.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return None
    return None
