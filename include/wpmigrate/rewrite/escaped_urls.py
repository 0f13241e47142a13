"""Old URLs spelled with HTML character references or percent-encoding.

Two kinds, handled differently:

* ``/`` spelled as an HTML reference (``https:&#x2F;&#x2F;old.example``,
  ``&#47;&#47;old.example``, ``&sol;``): the host is plain, so these are more spellings
  of the whole URL, rewritten like the JSON ones into the same spelling of the new URL
  (``SLASH_ENTITY_ENCODINGS``, used by ``UrlRewriter.for_migration``).
* A host with escaped characters (``//&#111;ld.example``, ``//old&#46;example``,
  ``//%6Fld.example``), or slashes spelled in a mix: not rewritten. Where such a
  spelling sits (an obfuscated e-mail link, an attribute a plugin decodes once or twice)
  decides what a faithful replacement is, and a wrong guess damages the value. They are
  found (``EscapedUrlFinder``) and reported, and the verifier's scan fails on them.

Cost: a value without ``%`` or ``&`` is ruled out by two ``bytes in`` tests (nearly every
row), one without ``&#``, ``%``, ``&sol;`` or ``&period;`` by four (``&amp;`` and
``&nbsp;`` cost nothing more); only the rest is searched with the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["ESCAPE_BYTES", "ESCAPE_MARKERS", "SLASH_ENTITY_ENCODINGS", "EscapedUrlFinder"]

# Every escaped spelling holds one of these bytes (the caller's cheapest pre-check), and
# one of the markers (numeric references in either case, percent-encoding, named ones).
ESCAPE_BYTES = (b"%", b"&")
ESCAPE_MARKERS = (b"&#", b"%", b"&sol;", b"&period;")
_BOUNDARY = rb"(?![A-Za-z0-9_\-]|\.[A-Za-z0-9_\-]|:[0-9])"
# HTML's references for "/": hex (both cases), decimal, and HTML5's named one.
_SLASH_ENTITIES = ("&#x2F;", "&#x2f;", "&#47;", "&sol;")


def _slash_as(entity: str) -> Callable[[str], bytes]:
    return lambda s: s.replace("/", entity).encode("utf-8")


# A site URL with every "/" spelled as one HTML reference.
SLASH_ENTITY_ENCODINGS: tuple[Callable[[str], bytes], ...] = tuple(_slash_as(e) for e in _SLASH_ENTITIES)


def _char(char: str) -> bytes:
    """A regex for one URL character, plain or escaped: a decimal or hex HTML reference
    (leading zeros, ';' optional, as browsers read them), percent-encoding, and for "/" and
    "." the named references. Letter case is the pattern's (IGNORECASE) business."""
    forms = [re.escape(char)]
    code = ord(char)
    forms += [f"&#0*{code};?", f"&#x0*{code:x};?", "".join(f"%{b:02x}" for b in char.encode("utf-8"))]
    if char.isalpha() and char.isascii():  # "&#79;" is "O": a host matches in any case
        forms += [f"&#0*{ord(char.upper())};?", f"&#x0*{ord(char.upper()):x};?", f"%{ord(char.upper()):02x}"]
    named = {"/": ["&sol;", r"\\/", r"\\u002f"], ".": ["&period;"]}
    forms += named.get(char, [])
    return ("(?:" + "|".join(dict.fromkeys(forms)) + ")").encode("utf-8")


class EscapedUrlFinder:
    """Finds ``//`` + an old host where a slash or a host character is escaped (HTML
    reference or percent-encoding), in any mix and letter case."""

    def __init__(self, hosts: Iterable[str]) -> None:
        """``hosts``: the old hosts as they follow ``//`` (lower-case, with a port if any)."""
        names = sorted(dict.fromkeys(hosts), key=len, reverse=True)
        if not names:
            raise ValueError("no hosts")
        slash = _char("/")
        alternatives = b"|".join(b"".join(_char(c) for c in name) for name in names)
        # Not followed by more host or port: //old.example leaves //old.example.com alone.
        self._regex = re.compile(slash + slash + b"(?:" + alternatives + b")" + _BOUNDARY, re.IGNORECASE)

    def find(self, value: bytes) -> bytes | None:
        """The first escaped old URL head in ``value`` (for a report), or None. A match
        without any escape (a plain ``//old.example`` the rewriter kept on purpose, such
        as an array key) is not one."""
        for marker in ESCAPE_MARKERS:  # a plain loop: this runs for every value with "&" or "%"
            if marker in value:
                break
        else:
            return None
        for m in self._regex.finditer(value):
            text = m.group()
            if b"%" in text or b"&" in text:
                return text
        return None
