"""A walker over PHP's ``serialize()`` format that never builds PHP values.

Why not unserialize into Python objects: WordPress data holds objects of classes
that are not loaded here (nor, often, on the target), strings that are not valid
UTF-8, and serialized strings nested inside serialized strings. Working on the raw
bytes with offsets keeps every byte we do not mean to change exactly as it was; only
the ``s:N:"...";`` tokens whose payload changes are re-emitted, with N recomputed
in BYTES (PHP's ``strlen``).

Grammar and limits follow PHP 8's ``ext/standard/var_unserializer.re``:

* scalars ``N;`` ``b:0;`` ``b:1;`` ``i:[+-]digits;`` ``d:`` (decimal, exponent,
  ``NAN``, ``INF``, ``-INF``), strings ``s:len:"bytes";`` and the old escaped
  ``S:len:"\\xx";`` form;
* ``a:n:{key value ...}`` with ``i:``/``s:``/``S:`` keys, ``O:len:"Class":n:{...}``
  (any valid class name; the class is never needed), ``C:len:"Class":len:{payload}``
  (``Serializable``), ``E:len:"Enum:Case";``;
* references ``R:n;`` / ``r:n;`` numbered over the value slots PHP's ``var_push``
  creates (every non-key value except ``R:``); ``r:`` must point at an object;
* PHP's ``unserialize_max_depth`` (default 4096) and its fake-element-count guard.

Decisions:

* ``C:`` payloads are opaque: their format belongs to the class's ``unserialize()``
  and their declared length must stay right, so they are never rewritten. The
  transformer reports them through ``on_skip`` so a caller can say so when one holds
  something it wanted to change. After a ``C:`` value reference numbers cannot be
  checked (a real class may push slots of its own), so they are accepted.
* Array keys are left alone unless ``keys=True``; object property names never change
  (they are identifiers, and private/protected ones carry NUL bytes: ``\\0*\\0prop``).
* Trailing bytes after the value are an error (PHP < 8.3 ignores them silently, 8.3
  warns): such a value is not what it looks like, so nobody should rewrite it.
* Known gaps, all pathological: duplicate keys whose slot is later targeted by
  ``R:`` (PHP refuses), and ``s:`` lengths beyond 2**64 (PHP wraps around).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "PHP_TRIM_CHARS",
    "SerializedFormatError",
    "is_serialized",
    "transform_strings",
    "validate",
]

# PHP's default unserialize_max_depth.
DEFAULT_MAX_DEPTH = 4096
# Nested serialized-inside-string levels we follow; real sites have 2 or 3.
MAX_NESTED_LEVELS = 16
# What PHP's trim() strips; WordPress trims before is_serialized()/unserialize().
PHP_TRIM_CHARS = b" \t\n\r\x0b\x00"

_INT = re.compile(rb"i:[+-]?[0-9]+;")
_DOUBLE = re.compile(rb"d:(?:NAN|-?INF|[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?);")
# Lengths and counts: leading zeros are legal; more than 19 significant digits can
# never fit the data (and would make int() refuse the string).
_STR = re.compile(rb's:0*([0-9]{1,19}):"')
_ESC_STR = re.compile(rb'S:0*([0-9]{1,19}):"')
_ARRAY = re.compile(rb"a:0*([0-9]{1,19}):\{")
_OBJECT = re.compile(rb'([OC]):0*([0-9]{1,19}):"')
_ENUM = re.compile(rb'E:0*([0-9]{1,19}):"')
_REF = re.compile(rb"[rR]:0*([0-9]{1,19});")
# parse_iv2(): optional sign, zero or more digits (PHP reads "" as 0), then ":{".
_COUNT = re.compile(rb"([+-]?)([0-9]*):\{")
_CLASS_NAME = re.compile(rb"[A-Za-z0-9_\\\x80-\xff]+")
_HEX = b"0123456789abcdefABCDEF"
_WP_SCALAR = re.compile(rb"[bid]:[0-9.E+-]+;")
_WP_COMPOUND = re.compile(rb"[saOE]:[0-9]+:")

_LONG_MAX = 2**63 - 1

# Byte values, named for readability in the hot loop.
_s, _S, _i, _d, _b, _N, _a, _O, _C, _E, _r, _R = b"sSidbNaOCErR"
_RBRACE = ord("}")


class SerializedFormatError(ValueError):
    """The bytes are not one well-formed PHP serialized value."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


# --------------------------------------------------------------------------- checks


def is_serialized(value: bytes, strict: bool = True) -> bool:
    """WordPress's ``is_serialized()``: a cheap shape check, not a parse.

    Same answers as the PHP function (``wp-includes/functions.php``), which is what
    decides whether WordPress will ``unserialize()`` a stored value.
    """
    data = value.strip(PHP_TRIM_CHARS)
    if data == b"N;":
        return True
    if len(data) < 4 or data[1] != 0x3A:  # ':'
        return False
    if strict:
        if data[-1] not in b";}":
            return False
    else:
        semicolon = data.find(b";")
        brace = data.find(b"}")
        if semicolon == -1 and brace == -1:
            return False
        if semicolon != -1 and semicolon < 3:
            return False
        if brace != -1 and brace < 4:
            return False
    token = data[0]
    if token == _s:
        if strict:
            if data[-2] != 0x22:  # '"'
                return False
        elif b'"' not in data:
            return False
    if token in b"saOE":
        return _WP_COMPOUND.match(data) is not None
    if token in b"bid":
        m = _WP_SCALAR.match(data)
        return m is not None and (not strict or m.end() == len(data))
    return False


def validate(value: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, trailing: bool = False) -> bool:
    """True iff ``value`` is exactly one value PHP's ``unserialize()`` accepts.

    "Modulo classes": any syntactically valid class name is accepted as PHP does for
    an unknown class (``__PHP_Incomplete_Class``); enums are accepted by shape.
    ``trailing``: bytes after the value are accepted, as PHP before 8.3 does.
    """
    try:
        end = _walk(value, 0, len(value), None, max_depth, 0)[0]
    except SerializedFormatError:
        return False
    return trailing or end == len(value)


def transform_strings(
    value: bytes,
    fn: Callable[[bytes], bytes],
    *,
    keys: bool = False,
    nested: bool = True,
    visit: Callable[[bytes], bool] | None = None,
    on_skip: Callable[[str, bytes], None] | None = None,
    on_key: Callable[[bytes], None] | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> bytes:
    """Rebuild ``value`` with ``fn`` applied to every string payload.

    * ``s:N`` is recomputed for each changed string; untouched bytes are copied as-is
      and, when nothing changes, ``value`` itself is returned.
    * A payload that is itself serialized (WordPress double-serializes) is walked
      recursively when ``nested``; both levels' lengths come out right. A nested one
      that does not parse is left as it was and reported as ``on_skip("nested_malformed",
      payload)``, since rewriting it as text could make a repairable value worse.
    * ``visit(payload)`` False skips a string cheaply (e.g. no search term in it).
    * ``on_skip("custom_object", payload)`` for each opaque ``C:`` payload.
    * ``on_key(payload)`` for each non-empty string key of an array that is left as it
      is (``keys`` False) and that ``visit`` accepts: who asks can say where a search
      term stayed.
    * Surrounding PHP whitespace is kept (WordPress trims before unserializing).

    Raises ``SerializedFormatError`` when ``value`` is not well-formed; nothing is
    returned half-transformed.
    """
    new = _transform(value, _Ctx(fn, visit, on_skip, keys, nested, max_depth, on_key), 0)
    return value if new is None else new


# --------------------------------------------------------------------------- walker


@dataclass(slots=True)
class _Ctx:
    """What a transform asked for, shared by the walks of nested strings."""

    fn: Callable[[bytes], bytes]
    visit: Callable[[bytes], bool] | None
    on_skip: Callable[[str, bytes], None] | None
    keys: bool
    nested: bool
    max_depth: int
    on_key: Callable[[bytes], None] | None = None


def _transform(value: bytes, ctx: _Ctx, level: int) -> bytes | None:
    """Walk the one serialized value in ``value`` (PHP whitespace around it is kept):
    the rebuilt bytes, or None when no string changed."""
    start = len(value) - len(value.lstrip(PHP_TRIM_CHARS))
    stop = max(start, len(value.rstrip(PHP_TRIM_CHARS)))
    end, rebuilt = _walk(value, start, stop, ctx, ctx.max_depth, level)
    if end != stop:
        raise SerializedFormatError("trailing bytes after the serialized value", end)
    if rebuilt is None:
        return None
    return value[:start] + rebuilt + value[stop:]


def _new_payload(ctx: _Ctx, payload: bytes, level: int) -> bytes | None:
    """The new payload of one non-empty string (key or value), None when unchanged."""
    if ctx.visit is not None and not ctx.visit(payload):
        return None
    if ctx.nested and len(payload) >= 4 and is_serialized(payload):
        if level + 1 >= MAX_NESTED_LEVELS:
            if ctx.on_skip is not None:
                ctx.on_skip("nested_too_deep", payload)
            return None
        try:
            new = _transform(payload, ctx, level + 1)
        except SerializedFormatError:
            if ctx.on_skip is not None:
                ctx.on_skip("nested_malformed", payload)
            return None
    else:
        new = ctx.fn(payload)
    return None if new is None or new == payload else new


def _splice(data: bytes, start: int, stop: int, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data[start:stop]`` with each (token start, token end, payload) written as a
    plain ``s:`` token (which every PHP reads the same, also in place of ``S:``)."""
    pieces: list[bytes] = []
    copied = start
    for token_start, token_end, payload in edits:
        pieces += (data[copied:token_start], b's:%d:"' % len(payload), payload, b'";')
        copied = token_end
    pieces.append(data[copied:stop])
    return b"".join(pieces)


def _escaped_string(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """Parse an ``S:len:"..";`` token (``\\xx`` hex escapes) at ``pos``: returns
    (decoded payload, position after the token)."""
    m = _ESC_STR.match(data, pos, end)
    if m is None:
        raise SerializedFormatError("bad S: string", pos)
    length = int(m[1])
    if length > end - m.end():
        raise SerializedFormatError("S: string longer than the data", pos)
    pos = m.end()
    out = bytearray()
    for _ in range(length):
        if pos >= end:
            raise SerializedFormatError("S: string runs past the end", pos)
        c = data[pos]
        if c == 0x5C:  # backslash
            h = data[pos + 1 : pos + 3]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX or pos + 3 > end:
                raise SerializedFormatError("bad escape in S: string", pos)
            out.append(int(h, 16))
            pos += 3
        else:
            out.append(c)
            pos += 1
    if not data.startswith(b'";', pos, end):
        raise SerializedFormatError("bad S: string terminator", pos)
    return bytes(out), pos + 2


def _count(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """parse_iv2() + ":{" for object counts and C: lengths; returns (n, pos after '{')."""
    m = _COUNT.match(data, pos, end)
    if m is None:
        raise SerializedFormatError("expected count and ':{'", pos)
    digits = m.group(2).lstrip(b"0")
    if len(digits) > 19:
        return _LONG_MAX, m.end()  # PHP clamps (with a warning); the length checks then fail
    n = int(digits) if digits else 0
    if n > _LONG_MAX + (m.group(1) == b"-"):
        n = _LONG_MAX
    elif m.group(1) == b"-":
        n = -n
    return n, m.end()


def _walk(
    data: bytes,
    pos: int,
    end: int,
    ctx: _Ctx | None,
    max_depth: int,
    level: int,
) -> tuple[int, bytes | None]:
    """Parse one value in ``data[pos:end]``; returns (end offset, rebuilt bytes or None).

    Iterative: containers are an explicit stack, so nesting depth costs no Python
    recursion. ``ctx`` None means validate only. Changed strings are collected as
    edits and spliced in once at the end. One loop turn handles a whole element (key
    and value): this is the hot loop, so the common tokens (``s:``, ``i:``) are parsed
    inline, not by a function per token.
    """
    keys = ctx is not None and ctx.keys
    on_key = ctx.on_key if ctx is not None and not keys else None
    edits: list[tuple[int, int, bytes]] = []
    start = pos
    # Reference slots PHP would push (1 = holds an object, a valid r: target);
    # only needed when the bytes hold a reference token at all.
    track = b"R:" in data or b"r:" in data
    slots = bytearray()
    refs_unchecked = False
    # Open containers: elements left, and whether it is an object (property names).
    rem: list[int] = []
    is_obj: list[bool] = []
    depth = 0
    str_match = _STR.match
    int_match = _INT.match
    while True:
        if rem:
            left = rem[-1]
            if left == 0:
                if pos >= end or data[pos] != _RBRACE:
                    raise SerializedFormatError("expected '}'", pos)
                pos += 1
                rem.pop()
                is_obj.pop()
                depth -= 1
                if not rem:
                    break
                continue
            rem[-1] = left - 1
            # The key: i:, s: or S: only (PHP parses keys without var_hash: no slot).
            if pos >= end:
                raise SerializedFormatError("unexpected end in key", pos)
            c = data[pos]
            if c == _s:
                # The value's s: parse below, repeated on purpose: a helper call per
                # string token costs the walker about 7%.
                m = str_match(data, pos, end)
                if m is None:
                    raise SerializedFormatError("bad string key", pos)
                p0 = m.end()
                p1 = p0 + int(m[1])
                if not data.startswith(b'";', p1, end):
                    raise SerializedFormatError("bad string key length", pos)
                if keys and ctx is not None and not is_obj[-1] and p1 > p0:
                    new = _new_payload(ctx, data[p0:p1], level)
                    if new is not None:
                        edits.append((pos, p1 + 2, new))
                elif on_key is not None and ctx is not None and not is_obj[-1] and p1 > p0:
                    key = data[p0:p1]
                    if ctx.visit is None or ctx.visit(key):
                        on_key(key)
                pos = p1 + 2
            elif c == _i:
                m = int_match(data, pos, end)
                if m is None:
                    raise SerializedFormatError("bad integer key", pos)
                pos = m.end()
            elif c == _S:
                pos = _escaped_string(data, pos, end)[1]
            else:
                raise SerializedFormatError("array/object key must be i: or s:", pos)

        # The value.
        if pos >= end:
            raise SerializedFormatError("unexpected end of data", pos)
        c = data[pos]
        if c == _s:
            m = str_match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad string header", pos)
            p0 = m.end()
            p1 = p0 + int(m[1])
            if not data.startswith(b'";', p1, end):
                raise SerializedFormatError("string length does not match its delimiters", pos)
            if track:
                slots.append(0)
            if ctx is not None and p1 > p0:
                new = _new_payload(ctx, data[p0:p1], level)
                if new is not None:
                    edits.append((pos, p1 + 2, new))
            pos = p1 + 2
        elif c == _i:
            m = int_match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad integer", pos)
            if track:
                slots.append(0)
            pos = m.end()
        elif c == _a:
            m = _ARRAY.match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad array header", pos)
            n = int(m[1])
            pos = m.end()
            if n > (end - pos) // 2:
                raise SerializedFormatError("array element count larger than the data", pos)
            if track:
                slots.append(0)
            if n == 0:
                # PHP returns before its depth check for empty arrays.
                if pos >= end or data[pos] != _RBRACE:
                    raise SerializedFormatError("expected '}'", pos)
                pos += 1
            else:
                if 0 < max_depth <= depth:
                    raise SerializedFormatError("maximum depth exceeded", pos)
                depth += 1
                rem.append(n)
                is_obj.append(False)
                continue
        elif c == _b:
            if pos + 4 > end or data[pos : pos + 4] not in (b"b:0;", b"b:1;"):
                raise SerializedFormatError("bad boolean", pos)
            if track:
                slots.append(0)
            pos += 4
        elif c == _N:
            if pos + 2 > end or data[pos + 1] != 0x3B:
                raise SerializedFormatError("bad null", pos)
            if track:
                slots.append(0)
            pos += 2
        elif c == _d:
            m = _DOUBLE.match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad float", pos)
            if track:
                slots.append(0)
            pos = m.end()
        elif c in (_O, _C):
            m = _OBJECT.match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad object header", pos)
            n0 = m.end()
            q = n0 + int(m[2])
            if q == n0 or not data.startswith(b'":', q, end):
                raise SerializedFormatError("bad class name length", pos)
            if data[n0] == 0 or data[n0] == 0x5C or _CLASS_NAME.fullmatch(data, n0, q) is None:
                raise SerializedFormatError("invalid class name", n0)
            if track:
                slots.append(1)
            if c == _C:
                datalen, p = _count(data, q + 2, end)
                if datalen < 0 or end - p <= datalen or data[p + datalen] != _RBRACE:
                    raise SerializedFormatError("custom object payload length mismatch", p)
                if ctx is not None and ctx.on_skip is not None and datalen:
                    ctx.on_skip("custom_object", data[p : p + datalen])
                refs_unchecked = True
                pos = p + datalen + 1
            else:
                if q >= end - 2:
                    raise SerializedFormatError("bad object data", q)
                n, p = _count(data, q + 2, end)
                if n < 0 or n > (end - q) // 2:
                    raise SerializedFormatError("object property count larger than the data", q)
                if 0 < max_depth <= depth:
                    raise SerializedFormatError("maximum depth exceeded", p)
                depth += 1
                pos = p
                rem.append(n)
                is_obj.append(True)
                continue
        elif c in (_r, _R):
            m = _REF.match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad reference", pos)
            ref = int(m[1])
            if c == _r:
                slots.append(0)
            if ref == 0:
                raise SerializedFormatError("reference to slot 0", pos)
            if not refs_unchecked:
                if ref > len(slots):
                    raise SerializedFormatError("reference to an unknown slot", pos)
                if c == _r:
                    if not slots[ref - 1]:
                        raise SerializedFormatError("r: reference to a non-object", pos)
                    slots[-1] = 1
            pos = m.end()
        elif c == _S:
            decoded, after = _escaped_string(data, pos, end)
            if track:
                slots.append(0)
            if ctx is not None and decoded:
                new = _new_payload(ctx, decoded, level)
                if new is not None:
                    edits.append((pos, after, new))
            pos = after
        elif c == _E:
            m = _ENUM.match(data, pos, end)
            if m is None:
                raise SerializedFormatError("bad enum", pos)
            n0 = m.end()
            q = n0 + int(m[1])
            if q == n0 or not data.startswith(b'";', q, end):
                raise SerializedFormatError("bad enum length", pos)
            colon = data.find(b":", n0, q)
            if colon <= n0 or _CLASS_NAME.fullmatch(data, n0, colon) is None:
                raise SerializedFormatError("bad enum name", n0)
            if track:
                slots.append(1)
            pos = q + 2
        else:
            raise SerializedFormatError(f"unexpected byte {bytes([c])!r}", pos)

        if not rem:
            break

    if not edits:
        return pos, None
    return pos, _splice(data, start, pos, edits)
