"""Read-only facts about a WordPress installation's database: its options and tables.

(Its config file is read by wp_config.)
"""

from __future__ import annotations

from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError


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

