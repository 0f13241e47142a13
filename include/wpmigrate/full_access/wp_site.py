"""Read-only facts about a WordPress installation: its config file and its options."""

from __future__ import annotations

import re
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError

# $table_prefix = 'wp_';  (single or double quotes, any spacing)
_PREFIX_RE = re.compile(rb"""^\s*\$table_prefix\s*=\s*(['"])([A-Za-z0-9_]+)\1\s*;""", re.M)


def parse_table_prefix(wp_config: bytes) -> str:
    match = _PREFIX_RE.search(wp_config)
    if not match:
        raise MigrationError(ErrorCode.NOT_WORDPRESS, "wp-config.php has no $table_prefix")
    return match.group(2).decode()


def get_option(conn: Any, prefix: str, name: str) -> bytes | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT option_value FROM `{prefix}options` WHERE option_name = %s", (name,))
        row = cur.fetchone()
    return row[0] if row else None


def site_facts(conn: Any, prefix: str) -> dict[str, Any]:
    """siteurl, home and the size of the prefix's tables; NOT_WORDPRESS if there are none."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, COALESCE(data_length + index_length, 0), COALESCE(table_rows, 0)"
            " FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE' AND table_name LIKE %s",
            (prefix.replace("_", r"\_") + "%",),
        )
        tables = {(n.decode() if isinstance(n, bytes) else n): (int(size), int(rows))
                  for n, size, rows in cur.fetchall()}
    if f"{prefix}options" not in tables or f"{prefix}posts" not in tables:
        raise MigrationError(ErrorCode.NOT_WORDPRESS,
                             f"the database has no WordPress tables with prefix {prefix!r}")
    siteurl = (get_option(conn, prefix, "siteurl") or b"").decode("utf-8", "replace")
    home = (get_option(conn, prefix, "home") or b"").decode("utf-8", "replace")
    return {
        "siteurl": siteurl,
        "home": home,
        "tables": len(tables),
        "db_size_bytes": sum(size for size, _ in tables.values()),
    }

