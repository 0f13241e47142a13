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

# HTML's spellings of "/" (esc_html-style encoders, page builders): each also makes a
# literal variant, so the report names the spelling found.
SLASH_ENTITIES = ("&#x2f;", "&#47;", "&sol;")
# Every spelling with an escaped character holds one of these (lower-cased text): only a
# value holding one is matched against escaped_origin_pattern(), so plain rows cost a LOCATE.
ESCAPE_MARKERS = ("&#", "%", "&sol;", "&period;")


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
    variants: list[str] = []
    for h in origin_hosts(origin):
        forms = [f"http://{h}", f"https://{h}", f"//{h}"]
        spelled = list(forms)
        spelled += [f.replace("/", "\\/") for f in forms]  # JSON: \/
        spelled += [f.replace("/", "\\u002F") for f in forms]  # JSON: \u002F
        spelled += [f.replace("/", "\\u002f") for f in forms]
        spelled += [f.replace("/", "\\\\\\/") for f in forms]  # JSON in a JSON string: \\\/
        spelled += [f.replace("/", entity) for entity in SLASH_ENTITIES for f in forms]  # HTML: &#47;
        for f in forms:
            encoded = quote_plus(f, safe="")  # PHP urlencode()
            raw = quote(f, safe="")  # PHP rawurlencode()
            spelled += [encoded, _percent_lower(encoded), raw, _percent_lower(raw)]
        for v in spelled:
            if v not in variants:
                variants.append(v)
    return variants


def origin_hosts(origin: str) -> list[str]:
    """The origin's host (lower-case, with its port) with and without ``www.``, and an IDN
    host in Unicode and punycode."""
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
    return hosts


def _char_forms(char: str) -> set[str]:
    """Regex alternatives for one character of lower-cased text, plain or escaped: an HTML
    numeric reference (decimal or hex, leading zeros, ";" optional as browsers read it),
    percent encoding, and for a letter its upper-case code too (lower-casing the text
    leaves "&#79;" as it is)."""
    forms = {re.escape(char)}
    for c in {char, char.upper()}:
        forms.add(f"&#0*{ord(c)};?")
        forms.add(f"&#x0*{ord(c):x};?")
        forms.add("".join(f"%{b:02x}" for b in c.encode("utf-8")))
    return forms


def _one_of(forms: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted(forms)) + ")"


# "/" in any spelling the scan knows: plain, escaped, JSON (\/, \u002f, \\\/), HTML's &sol;.
_SLASH = _one_of(_char_forms("/") | {re.escape(s) for s in ("\\\\\\/", "\\/", "\\u002f", "&sol;")})
_DOT = _one_of(_char_forms(".") | {re.escape("&period;")})


def escaped_origin_pattern(origins: Iterable[str]) -> str:
    """A regex (PCRE and Python alike) for lower-cased text holding ``//`` + an old host in
    any mix of spellings: each slash and each host character plain or escaped
    (``&#47;&#47;old.example``, ``https:&#x2f;&#x2f;old.example``, ``//&#111;ld.example``,
    ``//old&#46;example``, ``//%6fld.example``). The literal variants cannot list every mix."""
    hosts = list(dict.fromkeys(h for origin in origins for h in origin_hosts(origin)))
    if not hosts:
        raise ValueError("no origins")
    host_alts = "|".join("".join(_DOT if c == "." else _one_of(_char_forms(c)) for c in h) for h in hosts)
    return f"{_SLASH}{_SLASH}(?:{host_alts})"


def covering_variants(variants: Iterable[str]) -> list[str]:
    """The smallest subset such that any text containing a variant contains one of these.

    ``https://x`` contains ``//x``, so searching ``//x`` finds both: fewer LOCATE calls.
    """
    unique = list(dict.fromkeys(variants))
    return [v for v in unique if not any(w != v and w in v for w in unique)]
