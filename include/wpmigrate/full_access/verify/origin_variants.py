"""The spellings of an old origin that the old-origin scan searches the target for.

Independent on purpose of the rewriter's own variant logic (``rewrite.url_rewrite``):
the scan checks the rewriter's result, so it must not inherit the rewriter's blind
spots. A spelling the rewriter misses shows up here as a hit instead of passing
unnoticed. Keep the two apart; when a new spelling is found in real data, add it to
both (and a test to each).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import quote, urlsplit


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def origin_variants(origin: str) -> list[str]:
    """Every spelling of an origin that real WordPress data holds.

    ``https://old.example`` -> ``http://``, ``https://``, ``//`` (protocol-relative),
    JSON-escaped ``\\/\\/``, urlencoded ``%3A%2F%2F`` (both hex cases), for the host
    with and without ``www.``. A port stays part of the host.
    """
    parts = urlsplit(origin if "//" in origin else "//" + origin)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"no host in origin {origin!r}")
    hosts = [f"[{host}]" if ":" in host else host]
    if not host.isascii():
        hosts.append(host.encode("idna").decode("ascii"))
    if not _is_ip(host):  # www.<IP address> is not a thing
        for h in list(hosts):
            hosts.append(h[4:] if h.startswith("www.") else "www." + h)
    if parts.port:
        hosts = [f"{h}:{parts.port}" for h in hosts]
    variants: list[str] = []
    for h in hosts:
        enc = quote(h, safe="")
        for v in (
            f"http://{h}", f"https://{h}", f"//{h}",
            f"http:\\/\\/{h}", f"https:\\/\\/{h}", f"\\/\\/{h}",
            f"http%3A%2F%2F{enc}", f"https%3A%2F%2F{enc}", f"%2F%2F{enc}",
            f"http%3a%2f%2f{enc.replace('%3A', '%3a')}", f"%2f%2f{enc.replace('%3A', '%3a')}",
        ):
            if v not in variants:
                variants.append(v)
    return variants


def covering_variants(variants: Iterable[str]) -> list[str]:
    """The smallest subset such that any text containing a variant contains one of these.

    ``https://x`` contains ``//x``, so searching ``//x`` finds both: fewer LOCATE calls.
    """
    unique = list(dict.fromkeys(variants))
    return [v for v in unique if not any(w != v and w in v for w in unique)]
