"""Table prefixes: which tables belong to a site, and how names and keys map from the
source prefix to the target prefix. Pure functions (no database).

Selection rule (``select_site_tables``): a table belongs to the site of ``prefix`` when
its name starts with ``prefix``, EXCEPT when it belongs to another WordPress install
whose prefix merely starts with ours: ``wp_`` must not take ``wp_source_posts``. Another
install is recognised by its core tables: a longer prefix P (starting with ``prefix``)
for which both ``P + "options"`` and ``P + "posts"`` exist. Multisite subsites
(``{prefix}{n}_``) are part of the site when ``{prefix}blogs`` exists.

Key mapping: WordPress stores the prefix inside data in two places only: the option
``{prefix}user_roles`` and usermeta keys built from ``$wpdb->get_blog_prefix()``
(``{prefix}capabilities``, ``{prefix}user_level``, ``{prefix}user-settings``,
``{prefix}dashboard_quick_press_last_post_id``, plugins' per-site keys...). Only a
leading prefix is replaced; a key that merely contains it elsewhere is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from wpmigrate.full_access.db.sql import quote_ident

CORE_TABLES = (
    "commentmeta", "comments", "links", "options", "postmeta", "posts", "termmeta", "terms",
    "term_relationships", "term_taxonomy", "usermeta", "users",
)
MULTISITE_TABLES = ("blogs", "blogmeta", "site", "sitemeta", "signups", "registration_log",
                    "blog_versions")
# usermeta keys that grant privileges; a stale copy under the target prefix must not
# become live on the target (see map_usermeta_key).
PRIVILEGE_META_SUFFIXES = ("capabilities", "user_level")

_VALID_PREFIX = re.compile(r"^[A-Za-z0-9_]+$")


def validate_prefix(prefix: str) -> str:
    # WordPress itself only allows letters, digits and underscores.
    if not _VALID_PREFIX.match(prefix or ""):
        raise ValueError(f"invalid table prefix {prefix!r}")
    return prefix


def other_install_prefixes(tables: Iterable[str], prefix: str) -> set[str]:
    """Longer prefixes of other WordPress installs that start with ``prefix``."""
    names = set(tables)
    multisite = prefix + "blogs" in names
    found: set[str] = set()
    for name in names:
        if not (name.startswith(prefix) and name.endswith("options")):
            continue
        other = name[: -len("options")]
        if other == prefix or other + "posts" not in names:
            continue
        if multisite and re.fullmatch(re.escape(prefix) + r"\d+_", other):
            continue  # a subsite of our own network
        found.add(other)
    return found


def select_site_tables(tables: Iterable[str], prefix: str) -> list[str]:
    """The tables of the site using ``prefix`` (see the module docstring for the rule)."""
    names = sorted(set(tables))
    others = other_install_prefixes(names, prefix)
    return [
        n for n in names
        if n.startswith(prefix) and not any(n.startswith(o) for o in others)
    ]


def unprefixed(table: str, prefix: str) -> str:
    """``wpsrc_posts`` -> ``posts`` (multisite ``wpsrc_2_posts`` -> ``posts``)."""
    rest = table[len(prefix):] if table.startswith(prefix) else table
    m = re.match(r"\d+_", rest)
    if m and rest[m.end():] in CORE_TABLES:
        return rest[m.end():]
    return rest


def map_table_name(table: str, source_prefix: str, target_prefix: str) -> str:
    if not table.startswith(source_prefix):
        raise ValueError(f"table {table!r} does not start with {source_prefix!r}")
    return target_prefix + table[len(source_prefix):]


_USER_ROLES = re.compile(r"(\d+_)?user_roles")


def map_option_name(name: bytes, source_prefix: str, target_prefix: str) -> bytes | None:
    """Map ``{source}user_roles`` (and multisite ``{source}{n}_user_roles``) to the target
    prefix. Returns None for a stale ``{target}user_roles`` left in the source by an old
    prefix change: it would collide with the mapped one (unique option_name) and is
    not what the source site uses. Every other name is returned unchanged."""
    src, tgt = source_prefix.encode(), target_prefix.encode()
    if src == tgt:
        return name
    if name.startswith(src) and _USER_ROLES.fullmatch(name[len(src):].decode("latin-1")):
        return tgt + name[len(src):]
    if name.startswith(tgt) and _USER_ROLES.fullmatch(name[len(tgt):].decode("latin-1")):
        return None
    return name


def map_usermeta_key(key: bytes, source_prefix: str, target_prefix: str) -> bytes | None:
    """Replace a leading source prefix with the target prefix.

    Returns None for a stale privilege key (``{target}capabilities`` /
    ``{target}user_level``) that the source does not use (its prefix differs): copied
    as is, it would silently grant the old roles on the target. Other keys unchanged.
    """
    src, tgt = source_prefix.encode(), target_prefix.encode()
    if src == tgt:
        return key
    if key.startswith(src):
        return tgt + key[len(src):]
    if key.startswith(tgt):
        rest = key[len(tgt):].decode("latin-1")
        if re.fullmatch(r"(\d+_)?(" + "|".join(PRIVILEGE_META_SUFFIXES) + ")", rest):
            return None
    return key


_CREATE_NAME = re.compile(r"^(\s*CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)`(?:[^`]|``)+`",
                          re.IGNORECASE)
_REFERENCES = re.compile(r"(REFERENCES\s+)`((?:[^`]|``)+)`", re.IGNORECASE)
_FK_LINE = re.compile(r",\s*\n\s*CONSTRAINT\s+`(?:[^`]|``)+`\s+FOREIGN\s+KEY[^\n]*?(?=,?\s*\n)",
                      re.IGNORECASE)


def rename_create_table(sql: str, new_name: str) -> str:
    """Replace the table name of a ``SHOW CREATE TABLE`` statement."""
    out, n = _CREATE_NAME.subn(lambda m: m.group(1) + quote_ident(new_name), sql, count=1)
    if n != 1:
        raise ValueError("not a CREATE TABLE statement")
    return out


def map_references(sql: str, source_prefix: str, target_prefix: str) -> str:
    """Map the tables named in FOREIGN KEY ... REFERENCES clauses to the target prefix."""
    def repl(m: re.Match[str]) -> str:
        name = m.group(2).replace("``", "`")
        if name.startswith(source_prefix):
            name = target_prefix + name[len(source_prefix):]
        return m.group(1) + quote_ident(name)
    return _REFERENCES.sub(repl, sql)


def split_foreign_keys(sql: str) -> tuple[str, list[str]]:
    """Remove ``CONSTRAINT ... FOREIGN KEY`` clauses from a CREATE TABLE; return the
    statement without them and the clauses (to add after the swap: InnoDB foreign keys
    follow RENAME TABLE, so created on the temporary tables they would end up pointing
    at the old tables that the swap drops)."""
    fks: list[str] = []

    def take(m: re.Match[str]) -> str:
        fks.append(m.group(0).lstrip(",").strip())
        return ""
    return _FK_LINE.sub(take, sql), fks
