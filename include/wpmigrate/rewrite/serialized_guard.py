"""Whether rewriting bytes as text turned them into serialized data PHP would accept.

A value that looks serialized but does not parse is rewritten as plain text (the old
URL must not survive). That is only safe while the result stays unparseable: a wrong
``s:N:`` length can match the NEW URL's length, and the rewritten bytes then
unserialize, possibly into an object (``O:8:"stdClass":...``) nobody ever stored. So
the rewriter keeps such a value unchanged and reports it instead.
"""

from __future__ import annotations

from wpmigrate.rewrite.php_serialized import PHP_TRIM_CHARS, validate

__all__ = ["becomes_unserializable", "unserializable"]

# First bytes of a value PHP's unserialize() can accept (a lone "N;" aside).
_TOKENS = frozenset(b"sSaOCEbidrR")
# Enough leading bytes to see past WordPress's trim() in any real value.
_HEAD = 16


def unserializable(value: bytes) -> bool:
    """Whether PHP's ``unserialize()`` accepts ``value`` after WordPress's ``trim()``,
    trailing bytes ignored as PHP before 8.3 does. Cheap for ordinary text: a value
    whose second byte is not ':' is never parsed."""
    head = value[:_HEAD].lstrip(PHP_TRIM_CHARS)
    if head.startswith(b"N;"):
        return True
    if len(head) < 2 or head[1] != 0x3A or head[0] not in _TOKENS:  # ':'
        return False
    return validate(value.strip(PHP_TRIM_CHARS), trailing=True)


def becomes_unserializable(old: bytes, new: bytes) -> bool:
    """Whether ``new`` (``old`` rewritten as text) is data PHP accepts while ``old`` is not."""
    return new is not old and unserializable(new) and not unserializable(old)
