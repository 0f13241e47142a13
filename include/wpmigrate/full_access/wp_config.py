"""A source's database settings, read from its wp-config.php by parsing it, never executing it.

The `ssh` route has only a login and the WordPress root: the database credentials come
from wp-config.php. Running the file (php -r) would run whatever the source put in it on
our side, so it is tokenized with PHP's lexical rules instead, and only values written as
plain string literals are accepted. Anything PHP would have to evaluate (getenv(), $_ENV,
a constant, a concatenation, another file, a .env loader) is refused with INVALID_CONF and
the way out: name a database connection instead. So is a file that could set a value in a
way the parser does not follow (a define() whose name is computed; for $table_prefix:
list()/[...] destructuring, extract(), variable variables, $GLOBALS['table_prefix'], a
reference, a foreach target, an element write): reading past it would give a value PHP
does not use.

No value read from the file ever appears in an error message or a repr: the credentials
can write to the source's database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.php_lexer import Tok as _Tok
from wpmigrate.full_access.php_lexer import Unreadable as _Unreadable
from wpmigrate.full_access.php_lexer import matching_close as _match
from wpmigrate.full_access.php_lexer import tokenize as _tokenize

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


# --------------------------------------------------------------------------- parser

@dataclass(frozen=True)
class _Def:
    pos: int  # token index: the order PHP runs them in (top to bottom)
    value: str | None  # None: not a plain string literal
    why: str  # what it is instead, with no value from the file ("getenv()", "$_ENV")
    conditional: bool  # inside a block or a braceless if/else: may not run
    unmodeled: bool = False  # a write the parser does not follow (its value unknown)


_INCLUDES = {"include", "include_once", "require", "require_once"}
_CONTROL = {"if", "else", "elseif", "while", "for", "foreach", "switch", "case", "default", "do"}
# Alternative syntax: "if (...):" opens a block that "endif;" closes.
_ALT_OPEN = {"if", "while", "for", "foreach", "switch"}
_ALT_END = {"endif", "endwhile", "endfor", "endforeach", "endswitch"}
# Loaders that set values from elsewhere (Bedrock, vlucas/phpdotenv, ini files).
_LOADERS = {"dotenv", "createimmutable", "createunsafeimmutable", "createmutable", "safeload",
            "parse_ini_file", "putenv", "env"}
_ASSIGN = {"=", ".=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "??=", "**=", "<<=", ">>="}
# After these, "[" indexes or calls; elsewhere it opens an array (or a destructuring).
_INDEXABLE = {"var", "id", "str"}
_INDEXED = {")", "]"}
_NOT_A_CALL = {"::", "->", "function"}  # a method, or a declaration
_DYNAMIC_DEFINE = "a define() whose name is not a plain string"
_PREFIX = "$table_prefix"


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
    dynamic_defines: list[int] = field(default_factory=list)  # token indexes


def _after_name(toks: list[_Tok], i: int) -> int:
    """Index just past a variable variable's name (``$$x``, ``${...}``, ``$$$x``) at ``i``."""
    while i < len(toks) and toks[i].kind == "op" and toks[i].text == "$":
        i += 1
    if i < len(toks) and toks[i].text == "{":
        return _match(toks, i) + 1
    return i + 1


def _writes(toks: list[_Tok], i: int) -> bool:
    """Whether what ends before ``i`` is written: an assignment, an element write
    (``x[..] =``, ``x{..} =``) or ++/--."""
    while i < len(toks) and toks[i].text in ("[", "{"):
        i = _match(toks, i) + 1
    return i < len(toks) and (toks[i].text in _ASSIGN or toks[i].text in ("++", "--"))


def _targets_prefix(toks: list[_Tok]) -> bool:
    """Whether assigning to these tokens (a destructuring or foreach target) could set
    $table_prefix: it is named, or a target is $GLOBALS or a variable variable."""
    return any(t.text in (_PREFIX, "$GLOBALS") or (t.kind == "op" and t.text == "$") for t in toks)


def _destructures(toks: list[_Tok], i: int) -> bool:
    """Whether the bracket at ``i`` is assigned to (``[..] =``) with a target that could
    set $table_prefix."""
    close = _match(toks, i)
    return close + 1 < len(toks) and toks[close + 1].text == "=" and _targets_prefix(toks[i + 1 : close])


def _prefix_writer(toks: list[_Tok], i: int) -> str | None:
    """What, starting at token ``i``, could set $table_prefix in a way the parser does not
    follow; None for anything else (plain assignments are read by the caller)."""
    t = toks[i]
    prev = toks[i - 1].text if i else ""
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    if t.kind == "op" and t.text == "$":
        if prev == "$":  # the inner "$" of "$$$x": judged with the first one
            return None
        end = _after_name(toks, i)
        if prev == "&" or _writes(toks, end):
            return "a variable variable ($$name or ${...})"
    elif t.kind == "var" and t.text == _PREFIX and prev not in ("::", "->"):
        if prev in ("&", "++", "--") or nxt in ("++", "--"):
            return "a reference or an increment"
        if nxt in ("[", "{") and _writes(toks, i + 1):
            return "a write to one of its characters"
    elif t.kind == "var" and t.text == "$GLOBALS" and nxt == "[":
        close = _match(toks, i + 1)
        key = toks[i + 2 : close]
        named = len(key) == 1 and key[0].kind == "str" and key[0].value is not None
        if (prev == "&" or _writes(toks, close + 1)) and (
                not named or key[0].value == _PREFIX[1:]):
            return "$GLOBALS['table_prefix']"
    elif t.kind == "id" and t.text.lower() == "extract" and nxt == "(" and prev not in _NOT_A_CALL:
        return "extract()"
    elif t.kind == "id" and t.text.lower() == "list" and nxt == "(" and _destructures(toks, i + 1):
        return "list() destructuring"
    elif t.kind == "op" and t.text == "[" and _destructures(toks, i) and not (
            i and (toks[i - 1].kind in _INDEXABLE or prev in _INDEXED)):
        return "[...] destructuring"
    elif t.kind == "id" and t.text.lower() == "foreach" and nxt == "(":
        close = _match(toks, i + 1)
        head = toks[i + 2 : close]
        as_at = next((k for k, x in enumerate(head) if x.kind == "id" and x.text.lower() == "as"), None)
        if as_at is not None and _targets_prefix(head[as_at + 1 :]):
            return "a foreach loop"
    return None


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
        elif name == "define" and nxt == "(" and prev != "function" and not (
                i + 3 < len(toks) and toks[i + 2].kind == "str" and toks[i + 2].value is not None
                and toks[i + 3].text == ","):
            # define($x, ..), define('DB_' . 'NAME', ..), define(constant(..), ..): could
            # define any of the values.
            out.external.append((i, _DYNAMIC_DEFINE))
            out.dynamic_defines.append(i)
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
        elif t.kind == "var" and t.text == _PREFIX and prev not in ("::", "->") and nxt in _ASSIGN:
            value_toks = toks[i + 2 : _until_close(toks, i + 2)]
            plain = nxt == "="
            out.prefix.append(_Def(i, _literal(value_toks) if plain else None,
                                   _describe(value_toks) if plain else "built up", cond))
        elif (writer := _prefix_writer(toks, i)) is not None:
            out.prefix.append(_Def(i, None, writer, cond, unmodeled=True))
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
    if first.conditional and scan.dynamic_defines:
        # The branch may not run, and then the computed define() may be the one that does.
        raise _invalid(f"{key} in wp-config.php may be set by {_DYNAMIC_DEFINE} when its own "
                       f"definition does not run; {_WAY_OUT}")
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
        if bad.unmodeled:
            raise _invalid(f"$table_prefix in wp-config.php may be set by {bad.why}, which is not read; "
                           f"{_PREFIX_WAY_OUT}")
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
