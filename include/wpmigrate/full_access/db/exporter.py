"""Database export: a consistent snapshot of one site's tables, streamed to artifacts.

- One ``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`` (REPEATABLE READ) for
  all tables: rows written to the source during the export are not in it (InnoDB).
- Pages by primary key (``WHERE pk > last ORDER BY pk LIMIT n``), never OFFSET; every
  page is read with a server-side cursor, so client memory is one row plus a write
  buffer whatever the page or table size. Tables without a primary key: one streamed
  scan.
- Read-only statements only (SELECT / SHOW / session variables); a read-only DB user
  is enough and recommended.
- Values are the raw bytes stored (``character_set_results = binary``), whatever the
  column's charset: a latin1 column holding UTF-8 (old WordPress sites) or odd bytes
  survives untouched; integers stay ints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import MySQLdb
import MySQLdb.cursors

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.db.connect import error_code, is_connection_lost
from wpmigrate.full_access.db.row_stream import CODEC, RowWriter
from wpmigrate.full_access.db.sql import as_str, current_database, primary_key, query, quote_ident
from wpmigrate.full_access.db.table_prefix import select_site_tables, validate_prefix
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

MANIFEST_FORMAT = "wpmigrate-db-export"
MANIFEST_VERSION = 1
# Bytes-typed columns: inserted as binary on import, never URL-rewritten.
BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit",
                "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
                "multipolygon", "geometrycollection"}
TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}

def table_file_stem(index: int, table: str) -> str:
    return f"{index:04d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', table)}"


def column_meta(name: object, data_type: object, column_type: object, charset: object,
                extra: object) -> dict[str, Any]:
    """A column's manifest record from its information_schema.COLUMNS fields."""
    dt = as_str(data_type).lower()
    return {
        "name": as_str(name),
        "type": as_str(column_type),
        "binary": dt in BINARY_TYPES,
        "text": dt in TEXT_TYPES,
        "charset": as_str(charset) if charset else None,
        # Generated columns are recomputed by the target; values cannot be inserted.
        "generated": "GENERATED" in as_str(extra).upper(),  # MySQL and MariaDB spell it so
    }


def _table_columns(conn: MySQLdb.Connection, db: str, table: str) -> list[dict[str, Any]]:
    rows = query(conn, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, EXTRA"
                       " FROM information_schema.COLUMNS"
                       " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                 (db, table))
    return [column_meta(*row) for row in rows]


def _literal(conn: MySQLdb.Connection, value: Any, column: dict[str, Any]) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if column["binary"]:
        return "X'" + bytes(value).hex() + "'"
    # The value holds the column's stored bytes: introduce it in the column's charset.
    # Being coercible, the literal then compares with the column's collation, so the
    # order of ``pk > last`` is exactly the order of ``ORDER BY pk``.
    intro = "_" + column["charset"] if column.get("charset") else ""
    return intro + "'" + conn.escape_string(value).decode("utf-8", "surrogateescape") + "'"


def _after_condition(conn: MySQLdb.Connection, pk: list[str], pk_cols: list[dict[str, Any]],
                     last: tuple) -> str:
    # (a, b) > (x, y) written out as a > x OR (a = x AND b > y): MariaDB's range
    # optimizer uses the primary key for this form on every version.
    lits = [_literal(conn, v, c) for v, c in zip(last, pk_cols, strict=True)]
    ors = []
    for i in range(len(pk)):
        eqs = [f"{quote_ident(pk[j])} = {lits[j]}" for j in range(i)]
        eqs.append(f"{quote_ident(pk[i])} > {lits[i]}")
        ors.append("(" + " AND ".join(eqs) + ")")
    return " OR ".join(ors)


def _stream(conn: MySQLdb.Connection, sql: str) -> Iterator[tuple]:
    cur = conn.cursor(MySQLdb.cursors.SSCursor)
    try:
        cur.execute(sql.encode("utf-8", "surrogateescape"))
        while True:
            batch = cur.fetchmany(500)
            if not batch:
                break
            yield from batch
    finally:
        cur.close()


def _export_table(conn: MySQLdb.Connection, table: str, meta: dict[str, Any], writer: RowWriter,
                  page_rows: int, progress: ProgressThrottle) -> None:
    cols = [c for c in meta["columns"] if not c["generated"]]
    names = [c["name"] for c in cols]
    select = ", ".join(quote_ident(n) for n in names)
    pk = meta["primary_key"]
    total = meta["rows_estimate"]
    done = 0
    progress({"phase": "export", "table": table, "rows_done": 0, "rows_total": total}, force=True)
    if not pk:
        for row in _stream(conn, f"SELECT {select} FROM {quote_ident(table)}"):
            writer.write(row)
            done += 1
            if done % 1000 == 0:
                progress({"phase": "export", "table": table, "rows_done": done, "rows_total": total})
        return
    pk_idx = [names.index(c) for c in pk]
    pk_cols = [cols[i] for i in pk_idx]
    order = ", ".join(quote_ident(c) for c in pk)
    last: tuple | None = None
    while True:
        where = f" WHERE {_after_condition(conn, pk, pk_cols, last)}" if last is not None else ""
        sql = f"SELECT {select} FROM {quote_ident(table)}{where} ORDER BY {order} LIMIT {int(page_rows)}"
        n = 0
        row = ()
        for row in _stream(conn, sql):
            writer.write(row)
            n += 1
        done += n
        progress({"phase": "export", "table": table, "rows_done": done, "rows_total": total})
        if n < page_rows:
            return
        last = tuple(row[i] for i in pk_idx)


def table_record(schema_file: str, data_file: str, create: str, writer: RowWriter,
                 meta: dict[str, Any]) -> dict[str, Any]:
    """A table's manifest record, once its rows are written (every route writes the same)."""
    return {
        "schema_file": schema_file,
        "data_file": data_file,
        # Small DDL inline for readers of the manifest; the schema file always has it.
        "create_table": create if len(create) < 16384 else None,
        "rows": writer.rows,
        "bytes": writer.bytes,
        "sha256": writer.sha256,
        **meta,
    }


def manifest_document(*, server_version: str, charset: str, collation: str, table_prefix: str,
                      exported_at: datetime, snapshot: str, tables: dict[str, Any],
                      skipped: list[dict[str, str]]) -> dict[str, Any]:
    """The export's manifest.json content (``tables``: one record per exported table)."""
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "codec": CODEC,
        "server_version": server_version,
        "database_charset": charset,
        "database_collation": collation,
        "connection_charset": "utf8mb4",
        "values": "raw stored bytes (character_set_results=binary); integers as int",
        "source_prefix": table_prefix,
        "exported_at": exported_at.isoformat(),
        "snapshot": snapshot,
        "tables": tables,
        "skipped": skipped,
        "totals": {
            "tables": len(tables),
            "rows": sum(t["rows"] for t in tables.values()),
            "bytes": sum(t["bytes"] for t in tables.values()),
        },
    }


def write_manifest(out_dir: StoragePath, manifest: dict[str, Any]) -> None:
    """Written last: its presence means a complete export."""
    with (out_dir / "manifest.json").open("wb") as fh:
        fh.write(json.dumps(manifest, indent=1).encode("utf-8"))


def export_database(
    conn: MySQLdb.Connection,
    out_dir: StoragePath,
    *,
    table_prefix: str,
    page_rows: int = 5000,
    progress: Progress | None = None,
    progress_interval: float = 1.0,
) -> dict[str, Any]:
    """Export the tables of ``table_prefix`` to ``out_dir``; return the manifest (also
    written last as ``out_dir/manifest.json``, so its presence means a complete export).
    """
    validate_prefix(table_prefix)
    throttle = ProgressThrottle(progress, progress_interval)
    current: dict[str, Any] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # Session settings only: nothing here writes to the source.
        for stmt in ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                     "SET SESSION character_set_results = binary",
                     # TIMESTAMP values leave as UTC; the import reads them back as UTC.
                     "SET SESSION time_zone = '+00:00'",
                     "SET SESSION net_write_timeout = 600",
                     "SET SESSION net_read_timeout = 600"):
            query(conn, stmt)
        db = current_database(conn)
        version = as_str(query(conn, "SELECT VERSION()")[0][0])
        listing = query(conn, "SHOW FULL TABLES")
        kinds = {as_str(name): as_str(kind) for name, kind in listing}
        site = select_site_tables(kinds, table_prefix)
        skipped = [{"name": t, "reason": "view: not exported (recreate it on the target if needed)"}
                   for t in site if kinds[t] != "BASE TABLE"]
        tables = [t for t in site if kinds[t] == "BASE TABLE"]
        query(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        started = datetime.now(UTC)
        manifest_tables: dict[str, Any] = {}
        for index, table in enumerate(tables):
            current = {"table": table}
            info = query(conn, "SELECT ENGINE, TABLE_ROWS FROM information_schema.TABLES"
                               " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (db, table))
            engine = as_str(info[0][0]) if info and info[0][0] else ""
            create = as_str(query(conn, f"SHOW CREATE TABLE {quote_ident(table)}")[0][1])
            meta: dict[str, Any] = {
                "engine": engine,
                "consistent": engine.lower() == "innodb",  # MyISAM & co. have no snapshot
                "rows_estimate": int(info[0][1] or 0) if info else 0,
                "primary_key": primary_key(conn, db, table),
                "columns": _table_columns(conn, db, table),
            }
            stem = table_file_stem(index, table)
            schema_file, data_file = f"{stem}.schema.sql", f"{stem}.rows.msgpack"
            with (out_dir / schema_file).open("wb") as fh:
                fh.write(create.encode("utf-8"))
            exported = [c["name"] for c in meta["columns"] if not c["generated"]]
            with RowWriter(out_dir / data_file, exported) as writer:
                _export_table(conn, table, meta, writer, page_rows, throttle)
            manifest_tables[table] = table_record(schema_file, data_file, create, writer, meta)
            throttle({"phase": "export", "table": table, "rows_done": writer.rows,
                      "rows_total": writer.rows}, force=True)
        conn.rollback()  # ends the read-only snapshot
        charset = query(conn, "SELECT @@character_set_database, @@collation_database")[0]
        manifest = manifest_document(
            server_version=version, charset=as_str(charset[0]), collation=as_str(charset[1]),
            table_prefix=table_prefix, exported_at=started,
            snapshot="consistent snapshot, one REPEATABLE READ transaction",
            tables=manifest_tables, skipped=skipped)
        write_manifest(out_dir, manifest)
        return manifest
    except MigrationError:
        raise
    except MySQLdb.Error as exc:
        transient = is_connection_lost(exc)
        raise MigrationError(
            ErrorCode.EXPORT_FAILED, f"database export failed: {exc}", permanent=not transient,
            details={**current, "mysql_error": error_code(exc)},
        ) from exc
    except OSError as exc:  # artifact store (disk full, S3 hiccup): worth a retry
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"writing the export failed: {exc}",
                             permanent=False, details=current) from exc
