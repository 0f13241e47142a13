"""PHP's lexical rules, enough to read a wp-config.php without running it.

Tokens outside comments, with string literals decoded as PHP would (single- and
double-quoted; a double-quoted one that interpolates has no value). Text outside
``<?php ... ?>`` is inline HTML and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Tok", "Unreadable", "matching_close", "tokenize"]

_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Tok:
    kind: Literal["str", "id", "var", "num", "op", "opaque"]
    text: str  # identifier/variable name/operator; "" for strings
    value: str | None = None  # a string literal's value; None if it interpolates


_OPEN_TAG = re.compile(rb"<\?(?:php(?=\s|$)|=)?", re.I)
_WS = re.compile(rb"\s+")
_LINE_END = re.compile(rb"\r\n|\n|\r|\?>")
_NAME = rb"[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*"
_IDENT = re.compile(rb"\\?" + _NAME + rb"(?:\\" + _NAME + rb")*")  # with a namespace
_VAR = re.compile(rb"\$" + _NAME)
_NUM = re.compile(rb"\.?[0-9][0-9A-Za-z_.]*")
_OPS = re.compile(
    rb"<<<|\?\?=|===|!==|\*\*=|<=>|\.\.\.|::|->|\?->|=>|==|!=|<>|<=|>=|&&|\|\||\?\?|\+\+|--|"
    rb"[.+\-*/%&|^]=|<<=|>>=|<<|>>|[^\s]"
)
_HEREDOC = re.compile(rb"<<<[ \t]*(['\"]?)(" + _NAME + rb")\1\r?\n")
_SQ_ESCAPE = re.compile(rb"\\([\\'])")
_DQ_ESCAPE = re.compile(
    rb"\\(?:([nrtvef\\$\"])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u\{([0-9A-Fa-f]+)\})"
)
_DQ_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v", b"e": b"\x1b", b"f": b"\f",
              b"\\": b"\\", b"$": b"$", b'"': b'"'}
# "$name" and "${" interpolate unless the "$" is escaped; "{$" always does.
_INTERPOLATION = re.compile(rb"(?<!\\)(?:\\\\)*\$[A-Za-z_\x80-\xff{]|\{\$")


class Unreadable(Exception):
    """wp-config.php is not valid PHP as far as the lexer can tell (carries no value)."""


def _decode(raw: bytes) -> str:
    # PHP strings are bytes; surrogateescape keeps a non-UTF-8 password's exact bytes.
    return raw.decode("utf-8", "surrogateescape")


def _single_quoted(body: bytes) -> str:
    return _decode(_SQ_ESCAPE.sub(rb"\1", body))


def _double_quoted(body: bytes) -> str | None:
    if _INTERPOLATION.search(body):
        return None

    def escape(m: re.Match[bytes]) -> bytes:
        simple, octal, hexa, uni = m.groups()
        if simple:
            return _DQ_SIMPLE[simple]
        if octal:
            return bytes([int(octal, 8) & 0xFF])  # PHP wraps "\400" to "\000"
        if hexa:
            return bytes([int(hexa, 16)])
        if int(uni, 16) > 0x10FFFF:
            raise Unreadable("an invalid \\u{} escape")
        return chr(int(uni, 16)).encode("utf-8", "surrogatepass")

    # Unknown escapes ("\q") stay as written, backslash included, as in PHP.
    return _decode(_DQ_ESCAPE.sub(escape, body))


def _string_end(src: bytes, start: int, quote: int) -> int:
    """Index just past the closing quote of a string opened at ``start``."""
    i = start + 1
    while i < len(src):
        c = src[i]
        if c == 0x5C:  # backslash: skip the escaped byte
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    raise Unreadable("an unterminated string")


def tokenize(src: bytes) -> list[Tok]:
    """PHP's tokens outside comments; text outside <?php ... ?> is inline HTML, skipped."""
    toks: list[Tok] = []
    i, n = 0, len(src)
    in_php = False
    while i < n:
        if not in_php:
            m = _OPEN_TAG.search(src, i)
            if not m:
                break
            i, in_php = m.end(), True
            continue
        c = src[i : i + 1]
        if (m := _WS.match(src, i)) is not None:
            i = m.end()
        elif src.startswith(b"?>", i):
            toks.append(Tok("op", ";"))  # a closing tag ends a statement
            i, in_php = i + 2, False
        elif src.startswith(b"/*", i):
            end = src.find(b"*/", i + 2)
            if end < 0:
                raise Unreadable("an unterminated /* comment")
            i = end + 2
        elif c == b"#" or src.startswith(b"//", i):
            # A line comment ends at the line's end or at a closing tag.
            m = _LINE_END.search(src, i)
            i = m.start() if m else n
        elif c in (b"'", b'"'):
            end = _string_end(src, i, src[i])
            body = src[i + 1 : end - 1]
            value = _single_quoted(body) if c == b"'" else _double_quoted(body)
            toks.append(Tok("str", "", value))
            i = end
        elif c == b"`":  # shell execution: never a literal
            toks.append(Tok("opaque", "`"))
            i = _string_end(src, i, src[i])
        elif (m := _HEREDOC.match(src, i)) is not None:
            # Heredoc/nowdoc: closing marker on its own line (indented since PHP 7.3).
            close = re.compile(rb"^[ \t]*" + re.escape(m.group(2)) + rb"(?![A-Za-z0-9_\x80-\xff])", re.M)
            end_m = close.search(src, m.end())
            if end_m is None:
                raise Unreadable("an unterminated heredoc")
            toks.append(Tok("opaque", "<<<"))
            i = end_m.end()
        elif (m := _VAR.match(src, i)) is not None:
            toks.append(Tok("var", _decode(m.group())))
            i = m.end()
        elif (m := _IDENT.match(src, i)) is not None:
            toks.append(Tok("id", _decode(m.group())))
            i = m.end()
        elif (m := _NUM.match(src, i)) is not None:
            toks.append(Tok("num", _decode(m.group())))
            i = m.end()
        else:
            m = _OPS.match(src, i)
            assert m is not None  # [^\s] matches any non-space byte
            toks.append(Tok("op", _decode(m.group())))
            i = m.end()
    return toks


def matching_close(toks: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at ``i`` (len(toks) when unbalanced)."""
    want, depth = _CLOSE[toks[i].text], 0
    for k in range(i, len(toks)):
        t = toks[k].text
        if toks[k].kind != "op":
            continue
        if t in _CLOSE:
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return k if t == want else len(toks)
    return len(toks)
