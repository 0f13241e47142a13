"""Site statistics in the portal's shape (seed 000, ``MigrationStats``).

Counts come from the WordPress database (one small query each), the size from
``information_schema`` plus, when given, the bytes under ``wp-content``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wpmigrate.core.contracts import MigrationStats
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.db.row_stream import RowReader
from wpmigrate.full_access.db.sql import Connection, quote_ident, scalar
from wpmigrate.full_access.files.manifest import read_json

# 'a:3:{i:0;s:19:"akismet/akismet.php";...}': the element count comes first, and each
# plugin is a string value; we count string values as a cross-check on odd arrays.
_ARRAY_HEAD = re.compile(rb"^a:(\d+):\{")
_STRING_VALUE = re.compile(rb'i:\d+;s:\d+:"')


def _option(conn: Connection, prefix: str, name: str) -> bytes | None:
    sql = f"SELECT option_value FROM {quote_ident(prefix + 'options')} WHERE option_name = %s"
    value = scalar(conn, sql, (name,))
    if isinstance(value, str):
        value = value.encode("utf-8")
    return value


def count_serialized_array(value: bytes | None) -> int:
    """Number of elements of a PHP serialized array (0 for anything else)."""
    if not value:
        return 0
    m = _ARRAY_HEAD.match(value)
    if not m:
        return 0
    declared = int(m.group(1))
    # A list of plugin files: trust the declared count only if the body agrees.
    found = len(_STRING_VALUE.findall(value))
    return declared if found in (0, declared) else min(declared, found)


def _table_exists(conn: Connection, table: str) -> bool:
    return bool(scalar(
        conn,
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    ))


def tree_bytes(root: str | os.PathLike[str]) -> int:
    """Bytes of regular files under ``root``; symlinks are not followed (they may leave the tree)."""
    total = 0
    stack = [os.fspath(root)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue  # vanished or unreadable: a size estimate, not an audit
        except OSError:
            continue
    return total


def site_stats(
    conn: Connection, prefix: str, wp_content_path: str | os.PathLike[str] | None = None
) -> MigrationStats:
    """``{pagesCount, postsCount, mediaCount, usersCount, pluginsCount, totalSizeMb}``.

    Pages and posts count published items (what a visitor sees); media counts every
    attachment; plugins are the active ones (``active_plugins``, plus network-active
    ones on multisite).
    """
    posts = quote_ident(prefix + "posts")

    def count(sql: str) -> int:
        return int(scalar(conn, sql) or 0)

    pages = count(f"SELECT COUNT(*) FROM {posts} WHERE post_type = 'page' AND post_status = 'publish'")
    posts_n = count(f"SELECT COUNT(*) FROM {posts} WHERE post_type = 'post' AND post_status = 'publish'")
    media = count(f"SELECT COUNT(*) FROM {posts} WHERE post_type = 'attachment'")
    users = count(f"SELECT COUNT(*) FROM {quote_ident(prefix + 'users')}")
    plugins = count_serialized_array(_option(conn, prefix, "active_plugins"))
    if _table_exists(conn, prefix + "sitemeta"):
        network = scalar(
            conn,
            f"SELECT meta_value FROM {quote_ident(prefix + 'sitemeta')} "
            "WHERE meta_key = 'active_sitewide_plugins' LIMIT 1",
        )
        plugins += count_serialized_array(network.encode() if isinstance(network, str) else network)

    # information_schema sizes are InnoDB estimates (pages), good enough for a size in MB.
    tables = scalar(
        conn,
        "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND LEFT(TABLE_NAME, CHAR_LENGTH(%s)) = %s",
        (prefix, prefix),
    )
    db_bytes = int(tables or 0)
    files_bytes = tree_bytes(wp_content_path) if wp_content_path and Path(wp_content_path).exists() else 0
    return {
        "pagesCount": pages,
        "postsCount": posts_n,
        "mediaCount": media,
        "usersCount": users,
        "pluginsCount": plugins,
        "totalSizeMb": round((db_bytes + files_bytes) / (1024 * 1024), 2),
    }


def export_stats(db_dir: StoragePath, prefix: str) -> MigrationStats:
    """The same figures from a database export's artifacts (a dry run on the wp_admin route,
    which has no database connection): posts streamed once, size = exported bytes."""
    manifest = read_json(db_dir / "manifest.json") or {}
    tables = manifest.get("tables", {})
    pages = posts_n = media = 0
    posts = tables.get(prefix + "posts")
    if posts:
        with RowReader(db_dir / posts["data_file"]) as reader:
            kind, status = reader.columns.index("post_type"), reader.columns.index("post_status")
            for row in reader:
                if row[kind] == b"attachment":
                    media += 1
                elif row[status] == b"publish":
                    pages += row[kind] == b"page"
                    posts_n += row[kind] == b"post"
    plugins = 0
    options = tables.get(prefix + "options")
    if options:
        with RowReader(db_dir / options["data_file"]) as reader:
            name, value = reader.columns.index("option_name"), reader.columns.index("option_value")
            for row in reader:
                stored = row[value]
                if row[name] == b"active_plugins" and isinstance(stored, bytes):
                    plugins = count_serialized_array(stored)
    users = tables.get(prefix + "users", {}).get("rows", 0)
    return {
        "pagesCount": pages,
        "postsCount": posts_n,
        "mediaCount": media,
        "usersCount": int(users),
        "pluginsCount": plugins,
        "totalSizeMb": round(sum(int(t.get("bytes", 0)) for t in tables.values()) / (1024 * 1024), 2),
    }
