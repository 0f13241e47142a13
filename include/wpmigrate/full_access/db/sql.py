"""The small SQL helpers every database step uses: identifier quoting, decoding a
value the server sent as bytes, and running one query on a short-lived cursor.

Typed against ``Connection``, the part of a DB-API connection these helpers touch, so
MySQLdb connections (what ``connect`` opens) and test doubles both fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Row = tuple[Any, ...]


class Cursor(Protocol):
    def execute(self, query: Any, args: Any = ...) -> Any: ...
    def fetchall(self) -> Any: ...
    def close(self) -> None: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...
    def rollback(self) -> Any: ...


def quote_ident(name: str) -> str:
    """Backtick-quote an identifier (table or column name)."""
    return "`" + name.replace("`", "``") + "`"


def as_str(value: object, errors: str = "strict") -> str:
    """A value as str: bytes decoded as UTF-8 (identifiers, DDL: strict by default),
    None as ''. Reports pass ``errors="replace"``: a snippet may end mid-character."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors)
    return "" if value is None else str(value)


def query(conn: Connection, stmt: str | bytes, args: Sequence[Any] | None = None) -> list[Row]:
    """Run one statement; return all its rows (none for statements without a result)."""
    cur = conn.cursor()
    try:
        cur.execute(stmt, args)
        return list(cur.fetchall() or ())
    finally:
        cur.close()


def scalar(conn: Connection, stmt: str, args: Sequence[Any] | None = None) -> Any:
    """The first column of the first row, or None when there is no row."""
    rows = query(conn, stmt, args)
    return rows[0][0] if rows else None


def current_database(conn: Connection) -> str:
    return as_str(scalar(conn, "SELECT DATABASE()"))


def primary_key(conn: Connection, database: str, table: str) -> list[str]:
    """The primary key's column names, in index order (empty: no primary key)."""
    rows = query(conn, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s"
                       " AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
                 (database, table))
    return [as_str(r[0]) for r in rows]
