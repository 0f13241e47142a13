"""Loading one table: stream its artifact rows into the temporary ``_wpm_new_*`` table (or a
verification replica's ``_wpm_rep_*`` table, ``verify.export_replica``: no rewriting).

Per row: map the prefixes inside ``options``/``usermeta`` keys, rewrite URLs (except in
skipped columns), and append it to a multi-row INSERT sized to the target's
``max_allowed_packet``, committed per statement. A row too big for one statement is
never skipped: its large values are appended in pieces (UPDATE ... CONCAT by primary
key), or, beyond max_allowed_packet (where CONCAT itself fails), sent with LOAD DATA
LOCAL; if neither is possible the import fails with the table, key and size.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any, Protocol

import MySQLdb

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.db.connect import error_code, is_connection_lost
from wpmigrate.full_access.db.row_stream import ArtifactCorrupt, RowReader
from wpmigrate.full_access.db.sql import as_str, query, quote_ident
from wpmigrate.full_access.db.table_prefix import map_option_name, map_usermeta_key, unprefixed
from wpmigrate.full_access.progress_throttle import ProgressThrottle

PACKET_MARGIN = 1024  # protocol header and slack below max_allowed_packet


class Rewriter(Protocol):
    stats: Any

    def rewrite(self, value: bytes) -> bytes: ...


class ImportState(Protocol):
    """What a table loader reads from (and reports to) the running import."""

    conn: MySQLdb.Connection
    source_prefix: str
    target_prefix: str
    skip_columns: set[tuple[str, str]]  # (unprefixed table, column) never rewritten
    preserved_names: set[bytes]  # option names whose target value wins: source rows dropped
    statement_limit: int
    max_packet: int
    local_infile: bool | None  # None: not tried yet; set False once LOAD DATA LOCAL failed
    report: dict[str, Any]
    progress: ProgressThrottle

    @property
    def rewriter(self) -> Rewriter | None: ...  # None: values loaded as exported (a replica)

    def report_list(self, key: str, item: Any) -> None: ...


def _unparseable_count(stats: Any) -> int:
    u = getattr(stats, "unparseable", 0)
    return u if isinstance(u, int) else len(u)


def _key_count(stats: Any) -> int:
    k = getattr(stats, "serialized_keys", 0)
    return k if isinstance(k, int) else 0


def _escaped_count(stats: Any) -> int:
    e = getattr(stats, "escaped_urls", 0)
    return e if isinstance(e, int) else 0


class Column:
    __slots__ = ("binary", "charset", "name", "rewrite", "text")

    def __init__(self, meta: dict[str, Any], rewrite: bool) -> None:
        self.name: str = meta["name"]
        self.binary: bool = bool(meta["binary"])
        self.text: bool = bool(meta["text"])
        self.charset: str | None = meta.get("charset")
        self.rewrite = rewrite and self.text


class TableLoader:
    """Streams one artifact into one temporary table."""

    def __init__(self, imp: ImportState, source: str, target: str, tmp: str, meta: dict[str, Any]) -> None:
        self.imp, self.conn = imp, imp.conn
        self.source, self.target, self.meta = source, target, meta
        self.tmp = tmp
        base = unprefixed(target, imp.target_prefix)
        exported = [c for c in meta["columns"] if not c["generated"]]
        rewrite = imp.rewriter is not None
        self.cols = [Column(c, rewrite and (base, c["name"]) not in imp.skip_columns) for c in exported]
        self.names = [c.name for c in self.cols]
        self.pk = [self.names.index(c) for c in meta["primary_key"] if c in self.names]
        self.header = ("INSERT INTO " + quote_ident(self.tmp) + " (" +
                       ", ".join(quote_ident(n) for n in self.names) + ") VALUES ").encode()
        self.option_idx = self.names.index("option_name") if base == "options" else None
        self.meta_key_idx = self.names.index("meta_key") if base == "usermeta" else None
        self.rows = 0
        self.current_pk: Any = None

    # -- value encoding -------------------------------------------------------------
    def _literal(self, v: Any, col: Column) -> bytes:
        if v is None:
            return b"NULL"
        if isinstance(v, int):
            return str(v).encode()
        if col.binary:
            return b"X'" + v.hex().encode() + b"'"
        if col.text:
            # _binary: the bytes are the column's stored bytes, whatever its charset.
            return b"_binary'" + self.conn.escape_string(v) + b"'"
        return b"'" + self.conn.escape_string(v) + b"'"

    def _key_literal(self, v: Any, col: Column) -> bytes:
        # For WHERE pk = ...: in the column's charset so the primary key index is used.
        if isinstance(v, bytes) and col.text and col.charset:
            return b"_" + col.charset.encode() + b"'" + self.conn.escape_string(v) + b"'"
        return self._literal(v, col)

    def _pk_desc(self, row: Sequence[Any]) -> dict[str, Any]:
        return {self.names[i]: (row[i] if isinstance(row[i], int) else
                                as_str(row[i][:100]) if isinstance(row[i], bytes) else None)
                for i in self.pk}

    def _transform(self, row: tuple) -> tuple[tuple, tuple] | None:
        """(rewritten row, original row) or None when the row is dropped."""
        imp = self.imp
        values = list(row)
        if self.option_idx is not None and isinstance(values[self.option_idx], bytes):
            name = map_option_name(values[self.option_idx], imp.source_prefix, imp.target_prefix)
            if name is None:  # stale {target}user_roles of an old prefix change
                imp.report_list("dropped_stale_options", as_str(values[self.option_idx]))
                return None
            if name in imp.preserved_names:  # the target's value wins (see _carry_options)
                return None
            values[self.option_idx] = name
        if self.meta_key_idx is not None and isinstance(values[self.meta_key_idx], bytes):
            key = map_usermeta_key(values[self.meta_key_idx], imp.source_prefix, imp.target_prefix)
            if key is None:
                imp.report_list("dropped_stale_usermeta", {"meta_key": as_str(values[self.meta_key_idx]),
                                                          **self._pk_desc(row)})
                return None
            values[self.meta_key_idx] = key
        original = tuple(values)
        rewriter = imp.rewriter
        for i, col in enumerate(self.cols):
            v = values[i]
            if col.rewrite and rewriter is not None and isinstance(v, bytes) and v:
                before, keys_before = _unparseable_count(rewriter.stats), _key_count(rewriter.stats)
                escaped_before = _escaped_count(rewriter.stats)
                values[i] = rewriter.rewrite(v)
                if _unparseable_count(rewriter.stats) != before:
                    # Looked serialized, did not parse: rewritten as plain text.
                    imp.report_list("unparseable", {"table": self.target, "column": col.name,
                                                   "rewritten_as_text": values[i] is not v,
                                                   **self._pk_desc(row)})
                if _key_count(rewriter.stats) != keys_before:
                    # An old URL left in a serialized array key (keys are not rewritten).
                    imp.report_list("serialized_keys", {"table": self.target, "column": col.name,
                                                       **self._pk_desc(row)})
                if _escaped_count(rewriter.stats) != escaped_before:
                    # An old URL with escaped host characters: left as it is (rewrite.escaped_urls).
                    imp.report_list("escaped_urls", {"table": self.target, "column": col.name,
                                                    **self._pk_desc(row)})
        return tuple(values), original

    def _encode(self, values: tuple) -> bytes:
        return b"(" + b",".join(self._literal(v, c) for v, c in zip(values, self.cols, strict=True)) + b")"

    # -- loading --------------------------------------------------------------------
    def load(self, path: StoragePath) -> int:
        imp = self.imp
        reader = RowReader(path, self.meta["sha256"])
        if reader.columns != self.names:
            reader.close()
            raise ArtifactCorrupt(f"{path}: columns {reader.columns} != manifest {self.names}")
        limit = imp.statement_limit
        # The statement grows in one buffer; the batch keeps the rows only for the rare
        # duplicate-key fallback. Memory: about two statements, whatever the table size.
        stmt = bytearray(self.header)
        batch: list[tuple[tuple, tuple | None]] = []  # (row, original-if-rewritten)
        total = self.meta["rows"]
        for raw in reader:
            t = self._transform(raw)
            self.rows += 1
            if t is None:
                continue
            values, original = t
            enc = self._encode(values)
            if len(self.header) + len(enc) > limit:
                self._flush(stmt, batch)
                self.current_pk = self._pk_desc(values)
                self._insert_oversized(values)
                continue
            if len(stmt) + len(enc) + 1 > limit:
                self._flush(stmt, batch)
                imp.progress({"phase": "import", "table": self.target, "rows_done": self.rows,
                              "rows_total": total})
            if batch:
                stmt += b","
            stmt += enc
            batch.append((values, original if original != values else None))
        self._flush(stmt, batch)
        imp.progress({"phase": "import", "table": self.target, "rows_done": self.rows,
                      "rows_total": total}, force=True)
        return self.rows

    def _flush(self, stmt: bytearray, batch: list[tuple[tuple, tuple | None]]) -> None:
        """Run and commit the pending INSERT, then reset ``stmt`` and ``batch``."""
        if not batch:
            return
        self.current_pk = self._pk_desc(batch[0][0])
        try:
            query(self.conn, bytes(stmt))
        except MySQLdb.IntegrityError as exc:
            if error_code(exc) != 1062:
                raise
            self.conn.rollback()
            self._insert_one_by_one(batch)
        self.conn.commit()
        del stmt[len(self.header):]
        batch.clear()

    def _insert_one_by_one(self, batch: list[tuple[tuple, tuple | None]]) -> None:
        """A rewritten value collided with another row on a unique key (http and https
        variants of a URL both became the new URL): keep that row's original value."""
        for values, original in batch:
            self.current_pk = self._pk_desc(values)
            try:
                query(self.conn, self.header + self._encode(values))
                continue
            except MySQLdb.IntegrityError as exc:
                if error_code(exc) != 1062 or original is None:
                    raise
            query(self.conn, self.header + self._encode(original))
            self.imp.report_list("unique_collisions_kept_original",
                                 {"table": self.target, **self._pk_desc(values)})

    def _insert_oversized(self, values: tuple) -> None:
        imp = self.imp
        limit = imp.statement_limit
        biggest = max((len(v) for v in values if isinstance(v, bytes)), default=0)
        if self.pk and biggest <= imp.max_packet - PACKET_MARGIN:
            self._insert_in_pieces(values, limit)
            method = "concat_pieces"
        elif imp.local_infile is not False:
            self._load_data_row(values)
            method = "load_data_local"
        else:
            raise MigrationError(
                ErrorCode.IMPORT_FAILED,
                f"a row of {self.target} holds a {biggest}-byte value, more than the target's "
                f"max_allowed_packet ({imp.max_packet}) and LOAD DATA LOCAL is not available; "
                "raise max_allowed_packet on the target", permanent=True,
                details={"table": self.target, "pk": self._pk_desc(values), "bytes": biggest},
            )
        imp.report["oversized_rows"] += 1
        by = imp.report.setdefault("oversized_rows_by_method", {})
        by[method] = by.get(method, 0) + 1

    def _insert_in_pieces(self, values: tuple, limit: int) -> None:
        # Values stay below max_allowed_packet (CONCAT's own limit); insert each large
        # value's first piece with the row, then append the rest by primary key.
        where = b" WHERE " + b" AND ".join(
            quote_ident(self.names[i]).encode() + b" = " + self._key_literal(values[i], self.cols[i])
            for i in self.pk)
        piece = max(1024, (limit - len(where) - 200) // 2 - 16)  # escaping/hex at most doubles
        first = list(values)
        rest: list[tuple[int, bytes]] = []
        for i, v in enumerate(values):
            if isinstance(v, bytes) and len(v) > piece // max(1, len(self.cols)) and i not in self.pk:
                cut = self._cut(v, piece // max(1, len(self.cols)), self.cols[i])
                first[i], rest_v = v[:cut], v[cut:]
                if rest_v:
                    rest.append((i, rest_v))
        query(self.conn, self.header + self._encode(tuple(first)))
        for i, v in rest:
            col = self.cols[i]
            ident = quote_ident(col.name).encode()
            pos = 0
            while pos < len(v):
                cut = pos + self._cut(v[pos:pos + piece + 8], piece, col)
                stmt = (b"UPDATE " + quote_ident(self.tmp).encode() + b" SET " + ident + b" = CONCAT(" +
                        ident + b", " + self._literal(v[pos:cut], col) + b")" + where)
                query(self.conn, stmt)
                pos = cut
        self.conn.commit()

    @staticmethod
    def _cut(v: bytes, n: int, col: Column) -> int:
        """A split point <= n that does not cut a UTF-8 character in two (every piece of
        a utf8 column must be valid on its own in strict mode)."""
        if n >= len(v):
            return len(v)
        if col.text and (col.charset or "").startswith("utf8"):
            while n > 0 and 0x80 <= v[n] < 0xC0:
                n -= 1
        return max(n, 1)

    def _load_data_row(self, values: tuple) -> None:
        """LOAD DATA LOCAL is not bound by max_allowed_packet: the way to store a value
        larger than the target's packet size (no CONCAT can build it)."""
        def field(v: Any) -> bytes:
            if v is None:
                return b"\\N"
            if isinstance(v, int):
                return str(v).encode()
            return (v.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
                    .replace(b"\0", b"\\0"))
        fd, tmp_path = tempfile.mkstemp(prefix="wpm-row-", suffix=".tsv")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"\t".join(field(v) for v in values) + b"\n")
            stmt = (f"LOAD DATA LOCAL INFILE {as_str(self.conn.literal(tmp_path))} INTO TABLE "
                    f"{quote_ident(self.tmp)} CHARACTER SET binary FIELDS TERMINATED BY '\\t' "
                    f"ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"({', '.join(quote_ident(n) for n in self.names)})")
            try:
                query(self.conn, stmt)
            except MySQLdb.Error as exc:
                if is_connection_lost(exc):
                    raise
                self.imp.local_infile = False
                raise MigrationError(
                    ErrorCode.IMPORT_FAILED,
                    f"a row of {self.target} is larger than the target's max_allowed_packet "
                    f"({self.imp.max_packet}) and LOAD DATA LOCAL failed ({exc}); raise "
                    "max_allowed_packet or enable local_infile on the target", permanent=True,
                    details={"table": self.target, "pk": self._pk_desc(values)},
                ) from exc
            warnings = query(self.conn, "SHOW WARNINGS")
            if warnings:
                raise MigrationError(ErrorCode.IMPORT_FAILED,
                                     f"LOAD DATA of an oversized row of {self.target} warned: {warnings[:3]}",
                                     permanent=True, details={"table": self.target,
                                                              "pk": self._pk_desc(values)})
            self.conn.commit()
        finally:
            os.unlink(tmp_path)
