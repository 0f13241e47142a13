"""The spellings of an old origin that the old-origin scan searches the target for.

Independent on purpose of the rewriter's own variant logic (``rewrite.url_rewrite``):
the scan checks the rewriter's result, so it must not inherit the rewriter's blind
spots. A spelling the rewriter misses shows up here as a hit instead of passing
unnoticed. Keep the two apart; when a new spelling is found in real data, add it to
both (and a test to each).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _idn_forms(host: str) -> list[str]:
    """The host, and its other IDN form (punycode <-> Unicode) when it has one."""
    forms = [host]
    try:
        if not host.isascii():
            forms.append(host.encode("idna").decode("ascii"))
        elif "xn--" in host:
            forms.append(host.encode("ascii").decode("idna"))
    except (UnicodeError, ValueError):
        pass
    return list(dict.fromkeys(forms))


def _percent_lower(text: str) -> str:
    """``%3A`` -> ``%3a``: the lower-case hex some encoders write."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def origin_variants(origin: str) -> list[str]:
    """Every spelling of an origin that real WordPress data holds.

    ``https://old.example`` -> ``http://``, ``https://``, ``//`` (protocol-relative), each
    plain, JSON-escaped ``\\/\\/``, JSON-escaped as ``\\u002F`` and ``\\u002f``, JSON
    in JSON (``\\\\\\/``), urlencoded and rawurlencoded ``%3A%2F%2F`` (both hex cases), for the
    host with and without ``www.`` and an IDN host in Unicode and punycode. A port stays
    part of the host. Letter case (``HTTP://OLD.EXAMPLE``) is left to the search, which
    compares lower-cased text.
    """
    parts = urlsplit(origin if "//" in origin else "//" + origin)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"no host in origin {origin!r}")
    hosts = [f"[{host}]" if ":" in host else host]
    if not _is_ip(host):
        hosts = _idn_forms(host)
        for h in list(hosts):  # www.<IP address> is not a thing
            hosts.append(h[4:] if h.startswith("www.") else "www." + h)
    if parts.port:
        hosts = [f"{h}:{parts.port}" for h in hosts]
    variants: list[str] = []
    for h in hosts:
        forms = [f"http://{h}", f"https://{h}", f"//{h}"]
        spelled = list(forms)
        spelled += [f.replace("/", "\\/") for f in forms]  # JSON: \/
        spelled += [f.replace("/", "\\u002F") for f in forms]  # JSON: \u002F
        spelled += [f.replace("/", "\\u002f") for f in forms]
        spelled += [f.replace("/", "\\\\\\/") for f in forms]  # JSON in a JSON string: \\\/
        for f in forms:
            encoded = quote_plus(f, safe="")  # PHP urlencode()
            raw = quote(f, safe="")  # PHP rawurlencode()
            spelled += [encoded, _percent_lower(encoded), raw, _percent_lower(raw)]
        for v in spelled:
            if v not in variants:
                variants.append(v)
    return variants


def covering_variants(variants: Iterable[str]) -> list[str]:
    """The smallest subset such that any text containing a variant contains one of these.

    ``https://x`` contains ``//x``, so searching ``//x`` finds both: fewer LOCATE calls.
    """
    unique = list(dict.fromkeys(variants))
    return [v for v in unique if not any(w != v and w in v for w in unique)]
