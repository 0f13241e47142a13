"""A source's database settings, read from its wp-config.php by parsing it, never executing it.

The `ssh` route has only a login and the WordPress root: the database credentials come
from wp-config.php. Running the file (php -r) would run whatever the source put in it on
our side, so it is tokenized with PHP's lexical rules instead, and only values written as
plain string literals are accepted. Anything PHP would have to evaluate (getenv(), $_ENV,
a constant, a concatenation, another file, a .env loader) is refused with INVALID_CONF and
the way out: name a database connection instead.

No value read from the file ever appears in an error message or a repr: the credentials
can write to the source's database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from wpmigrate.core.errors import ErrorCode, MigrationError

_WAY_OUT = "name a database connection (source_access.db_conn_id) instead"
_PREFIX_WAY_OUT = "set source_access.table_prefix in the conf"
_REQUIRED = ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST")
# WordPress's wpdb::set_prefix refuses anything else; the prefix goes into SQL identifiers.
_VALID_PREFIX = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class WpConfig:
    """The database settings of a wp-config.php. Values are kept out of repr (secrets)."""

    db_name: str = field(repr=False)
    db_user: str = field(repr=False)
    db_password: str = field(repr=False)
    db_host: str = field(repr=False)  # raw DB_HOST; parse_db_host() interprets it
    table_prefix: str
    db_charset: str | None = None

    @property
    def db_password_bytes(self) -> bytes:
        """The password's exact bytes (PyMySQL encodes a str password as latin-1)."""
        return self.db_password.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class DbEndpoint:
    """Where wpdb/mysqli connects for a DB_HOST value."""

    kind: Literal["tcp", "socket"]
    host: str  # bare host or IPv6 address (no brackets); "localhost" for a socket
    port: int | None  # None for a socket (mysqli ignores the port for localhost)
    socket: str | None  # None: the platform's default socket (or, for tcp, none given)


# --------------------------------------------------------------------------- lexer

@dataclass(frozen=True)
class _Tok:
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


class _Unreadable(Exception):
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
            raise _Unreadable("an invalid \\u{} escape")
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
    raise _Unreadable("an unterminated string")


def _tokenize(src: bytes) -> list[_Tok]:
    """PHP's tokens outside comments; text outside <?php ... ?> is inline HTML, skipped."""
    toks: list[_Tok] = []
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
            toks.append(_Tok("op", ";"))  # a closing tag ends a statement
            i, in_php = i + 2, False
        elif src.startswith(b"/*", i):
            end = src.find(b"*/", i + 2)
            if end < 0:
                raise _Unreadable("an unterminated /* comment")
            i = end + 2
        elif c == b"#" or src.startswith(b"//", i):
            # A line comment ends at the line's end or at a closing tag.
            m = _LINE_END.search(src, i)
            i = m.start() if m else n
        elif c in (b"'", b'"'):
            end = _string_end(src, i, src[i])
            body = src[i + 1 : end - 1]
            value = _single_quoted(body) if c == b"'" else _double_quoted(body)
            toks.append(_Tok("str", "", value))
            i = end
        elif c == b"`":  # shell execution: never a literal
            toks.append(_Tok("opaque", "`"))
            i = _string_end(src, i, src[i])
        elif (m := _HEREDOC.match(src, i)) is not None:
            # Heredoc/nowdoc: closing marker on its own line (indented since PHP 7.3).
            close = re.compile(rb"^[ \t]*" + re.escape(m.group(2)) + rb"(?![A-Za-z0-9_\x80-\xff])", re.M)
            end_m = close.search(src, m.end())
            if end_m is None:
                raise _Unreadable("an unterminated heredoc")
            toks.append(_Tok("opaque", "<<<"))
            i = end_m.end()
        elif (m := _VAR.match(src, i)) is not None:
            toks.append(_Tok("var", _decode(m.group())))
            i = m.end()
        elif (m := _IDENT.match(src, i)) is not None:
            toks.append(_Tok("id", _decode(m.group())))
            i = m.end()
        elif (m := _NUM.match(src, i)) is not None:
            toks.append(_Tok("num", _decode(m.group())))
            i = m.end()
        else:
            m = _OPS.match(src, i)
            assert m is not None  # [^\s] matches any non-space byte
            toks.append(_Tok("op", _decode(m.group())))
            i = m.end()
    return toks


# --------------------------------------------------------------------------- parser

@dataclass(frozen=True)
class _Def:
    pos: int  # token index: the order PHP runs them in (top to bottom)
    value: str | None  # None: not a plain string literal
    why: str  # what it is instead, with no value from the file ("getenv()", "$_ENV")
    conditional: bool  # inside a block or a braceless if/else: may not run


_INCLUDES = {"include", "include_once", "require", "require_once"}
_CONTROL = {"if", "else", "elseif", "while", "for", "foreach", "switch", "case", "default", "do"}
# Alternative syntax: "if (...):" opens a block that "endif;" closes.
_ALT_OPEN = {"if", "while", "for", "foreach", "switch"}
_ALT_END = {"endif", "endwhile", "endfor", "endforeach", "endswitch"}
# Loaders that set values from elsewhere (Bedrock, vlucas/phpdotenv, ini files).
_LOADERS = {"dotenv", "createimmutable", "createunsafeimmutable", "createmutable", "safeload",
            "parse_ini_file", "putenv", "env"}


def _describe(toks: list[_Tok]) -> str:
    """What a non-literal value is, in words that carry nothing from the file but code."""
    if not toks:
        return "empty"
    first = toks[0]
    if len(toks) > 1 and first.kind == "str":
        return "an expression (a concatenation?)"
    if first.kind == "var":
        return f"taken from {first.text}"
    if first.kind == "id":
        if len(toks) > 1 and toks[1].text == "(":
            return f"taken from {first.text}()"
        if len(toks) > 1 and toks[1].text == "::":
            return f"taken from {first.text}::..."
        return f"the constant {first.text}"
    if first.kind == "str":
        return "a double-quoted string with a $variable in it"
    return "an expression"


def _until_close(toks: list[_Tok], i: int) -> int:
    """Index of the ')' or ',' that ends the argument starting at ``i``."""
    depth = 0
    while i < len(toks):
        t = toks[i].text
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            if depth == 0:
                return i
            depth -= 1
        elif t in (",", ";") and depth == 0:
            return i
        i += 1
    return i


@dataclass
class _Scan:
    defines: dict[str, list[_Def]]
    prefix: list[_Def]
    external: list[tuple[int, str]]  # (token index, what) for includes and env loaders


def _literal(value_toks: list[_Tok]) -> str | None:
    only = value_toks[0] if len(value_toks) == 1 else None
    return only.value if only is not None and only.kind == "str" else None


def _scan(toks: list[_Tok]) -> _Scan:
    out = _Scan({}, [], [])
    depth = 0
    stmt_start = 0  # token index where the current statement began
    for i, t in enumerate(toks):
        prev = toks[i - 1].text if i else ""
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        if t.kind == "op" and t.text in ("{", "}", ";"):
            depth = max(0, depth + {"{": 1, "}": -1}.get(t.text, 0))
            stmt_start = i + 1
            continue
        head = toks[stmt_start].text.lower()
        if t.text == ":" and head in _CONTROL and prev in (")", "else"):
            depth += head in _ALT_OPEN  # "else:"/"elseif (...):" stay in the open block
            stmt_start = i + 1
            continue
        if t.kind == "id" and t.text.lower() in _ALT_END:
            depth = max(0, depth - 1)
        # In a block, or a braceless if/else: may not run. "defined(X) || define(X, v)" too.
        cond = (depth > 0 or head in _CONTROL
                or prev in ("?", ":", "&&", "||", "and", "or", "??"))
        name = t.text.lower().split("\\")[-1] if t.kind == "id" else ""
        if name in _INCLUDES:
            end = next((k for k in range(i + 1, len(toks)) if toks[k].text == ";"), len(toks))
            if any((x.value or "").endswith("wp-settings.php") for x in toks[i + 1 : end] if x.kind == "str"):
                break  # WordPress connects here; anything later is too late to matter
            out.external.append((i, "another file it loads (include/require)"))
        elif name in _LOADERS and nxt in ("(", "::"):
            out.external.append((i, "a .env file it loads"))
        elif name == "define" and nxt == "(" and i + 3 < len(toks) and toks[i + 3].text == ",":
            key = toks[i + 2].value if toks[i + 2].kind == "str" else None
            if key is None:
                continue
            value_toks = toks[i + 4 : _until_close(toks, i + 4)]
            if prev in ("::", "->"):  # Bedrock's Config::define(): applied later, from .env
                out.external.append((i, "a framework's config (Config::define)"))
                out.defines.setdefault(key, []).append(
                    _Def(i, None, "set through a framework's define()", cond))
            else:
                out.defines.setdefault(key, []).append(
                    _Def(i, _literal(value_toks), _describe(value_toks), cond))
        elif name == "const" and depth == 0 and i + 2 < len(toks) and toks[i + 2].text == "=":
            value_toks = toks[i + 3 : _until_close(toks, i + 3)]
            out.defines.setdefault(toks[i + 1].text, []).append(
                _Def(i, _literal(value_toks), _describe(value_toks), cond))
        elif t.kind == "var" and t.text == "$table_prefix" and prev != "::" \
                and nxt in ("=", ".=", "??=", "+="):
            value_toks = toks[i + 2 : _until_close(toks, i + 2)]
            plain = nxt == "="
            out.prefix.append(_Def(i, _literal(value_toks) if plain else None,
                                   _describe(value_toks) if plain else "built up", cond))
    return out


def _invalid(message: str) -> MigrationError:
    return MigrationError(ErrorCode.INVALID_CONF, message, permanent=True)


def _resolve_constant(key: str, scan: _Scan, required: bool) -> str | None:
    """PHP keeps a constant's first value; refuse when the first one cannot be known."""
    defs = scan.defines.get(key, [])
    first_external = min((pos for pos, _ in scan.external), default=None)
    if not defs:
        if not required:
            return None
        if first_external is not None:
            what = next(w for p, w in scan.external if p == first_external)
            raise _invalid(f"{key} is not in wp-config.php: it may come from {what}; {_WAY_OUT}")
        raise _invalid(f"wp-config.php does not define {key}; {_WAY_OUT}")
    first = defs[0]
    if first_external is not None and first_external < first.pos:
        what = next(w for p, w in scan.external if p == first_external)
        raise _invalid(f"{key} in wp-config.php may be set first by {what}, before the "
                       f"file's own definition; {_WAY_OUT}")
    if first.value is None:
        raise _invalid(f"{key} in wp-config.php is not a plain string ({first.why}); {_WAY_OUT}")
    if first.conditional:
        # Several branches (if/else): which one runs is the server's business.
        others = [d for d in defs[1:] if d.value != first.value]
        if others:
            raise _invalid(f"{key} in wp-config.php is defined differently in branches that "
                           f"depend on the server; {_WAY_OUT}")
    return first.value


def _resolve_prefix(scan: _Scan) -> str | None:
    """A variable keeps its last value: from the last unconditional assignment on, every
    assignment must be the same literal. Includes are not held against it: the caller
    checks that the prefix's tables exist."""
    defs = scan.prefix
    if not defs:
        return None
    start = max((k for k, d in enumerate(defs) if not d.conditional), default=0)
    window = defs[start:]
    if any(d.value is None for d in window):
        bad = next(d for d in window if d.value is None)
        raise _invalid(f"$table_prefix in wp-config.php is not a plain string ({bad.why}); {_PREFIX_WAY_OUT}")
    if len({d.value for d in window}) > 1:
        raise _invalid(f"$table_prefix in wp-config.php is set differently in branches that depend "
                       f"on the server; {_PREFIX_WAY_OUT}")
    value = window[-1].value
    if value is None or not _VALID_PREFIX.fullmatch(value):
        raise _invalid(f"$table_prefix in wp-config.php has characters WordPress refuses; {_PREFIX_WAY_OUT}")
    return value


def _scan_text(text: bytes | str) -> _Scan:
    src = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    try:
        return _scan(_tokenize(src))
    except _Unreadable as err:
        raise _invalid(f"wp-config.php could not be read: it has {err}; {_WAY_OUT}") from None


def parse_wp_config(text: bytes | str) -> WpConfig:
    """DB_NAME, DB_USER, DB_PASSWORD, DB_HOST, DB_CHARSET and $table_prefix of a wp-config.php.

    Raises MigrationError(INVALID_CONF, permanent) naming the value that could not be read
    and the way out; the message never holds a value from the file.
    """
    scan = _scan_text(text)
    values = {key: _resolve_constant(key, scan, required=True) for key in _REQUIRED}
    charset = _resolve_constant("DB_CHARSET", scan, required=False)
    prefix = _resolve_prefix(scan)
    if prefix is None:
        raise _invalid(f"wp-config.php does not set $table_prefix; {_PREFIX_WAY_OUT}")
    return WpConfig(
        db_name=values["DB_NAME"] or "",
        db_user=values["DB_USER"] or "",
        db_password=values["DB_PASSWORD"] or "",
        db_host=values["DB_HOST"] or "",
        table_prefix=prefix,
        db_charset=charset or None,
    )


def parse_table_prefix(wp_config: bytes) -> str:
    """$table_prefix alone (the `sftp_db` route); NOT_WORDPRESS when it cannot be read."""
    try:
        prefix = _resolve_prefix(_scan_text(wp_config))
    except MigrationError as err:
        raise MigrationError(ErrorCode.NOT_WORDPRESS, err.message) from None
    if prefix is None:
        raise MigrationError(ErrorCode.NOT_WORDPRESS, "wp-config.php has no $table_prefix")
    return prefix


# --------------------------------------------------------------------------- DB_HOST

# wpdb::parse_db_host (wp-includes/class-wpdb.php, WordPress 4.9+), pattern for pattern.
_WPDB_IPV6 = re.compile(r"^(?:\[)?(?P<host>[0-9a-fA-F:]+)(?:\]:(?P<port>[\d]+))?")
_WPDB_IPV4 = re.compile(r"^(?P<host>[^:/]*)(?::(?P<port>[\d]+))?")
_DEFAULT_PORT = 3306


def parse_db_host(db_host: str) -> DbEndpoint:
    """Where WordPress connects for a DB_HOST value, as wpdb::parse_db_host and mysqli do.

    wpdb peels a socket off at the first ":/", then reads host and port. mysqli then uses
    the unix socket for the host "localhost" (or an empty one), ignoring any port, and TCP
    for everything else, ignoring any socket.
    """
    host, socket = db_host, None
    socket_pos = host.find(":/")
    if socket_pos >= 0:
        host, socket = host[:socket_pos], host[socket_pos + 1 :]
    pattern = _WPDB_IPV6 if host.count(":") > 1 else _WPDB_IPV4
    m = pattern.match(host)
    if m is None:
        # wpdb would hand the raw value to mysqli, which cannot connect to it either.
        raise _invalid(f"DB_HOST in wp-config.php is not a host, host:port or socket; {_WAY_OUT}")
    name = m.group("host") or ""
    # PHP's empty(): "0" and "" are no port.
    port = int(m.group("port")) if m.group("port") and m.group("port") != "0" else None
    if port is not None and port > 65535:
        raise _invalid(f"DB_HOST in wp-config.php has a port out of range; {_WAY_OUT}")
    # mysqlnd compares "localhost" case-insensitively; an empty host means localhost.
    if name == "" or name.lower() == "localhost":
        return DbEndpoint(kind="socket", host="localhost", port=None, socket=socket)
    return DbEndpoint(kind="tcp", host=name, port=port or _DEFAULT_PORT, socket=socket)
