"""Database import: load an export into temporary tables, then swap them in atomically.

Order of work, each step safe to repeat (a retried task starts again from the top):
1. ``GET_LOCK`` per target database: two imports never interleave.
2. Drop ``_wpm_new_*`` / ``_wpm_old_*`` leftovers of an earlier, interrupted attempt.
3. Per table: CREATE ``_wpm_new_<table>`` from the prefix-mapped schema, stream the
   artifact rows (sha256 checked), map prefixes, rewrite URLs, INSERT in statements
   sized to the target's ``max_allowed_packet``, commit per statement (bounded undo).
   A row too big for one statement is never skipped: its large values are appended in
   pieces (UPDATE ... CONCAT by primary key), or, beyond max_allowed_packet (where
   CONCAT itself fails), sent with LOAD DATA LOCAL; if neither is possible the import
   fails with the table, key and size.
4. Carry the target's own data into the new tables: preserved options (target value
   wins), target-only options (minus transients), platform service users + usermeta.
5. One ``RENAME TABLE`` for all tables (atomic in MariaDB/MySQL), drop the old ones.
   Until then the live site is untouched and keeps serving its old content.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

import MySQLdb

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import error_code, is_connection_lost
from wpmigrate.full_access.db.exporter import MANIFEST_FORMAT
from wpmigrate.full_access.db.row_stream import ArtifactCorrupt, PathLike, RowReader
from wpmigrate.full_access.db.sql import as_str, current_database, query, quote_ident
from wpmigrate.full_access.db.table_prefix import (
    map_option_name,
    map_references,
    map_table_name,
    map_usermeta_key,
    rename_create_table,
    split_foreign_keys,
    unprefixed,
    validate_prefix,
)
from wpmigrate.full_access.db.throttle import Progress, ProgressThrottle
from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS

__all__ = ["DEFAULT_SKIP_COLUMNS", "import_database", "temp_name"]

NEW, OLD = "_wpm_new_", "_wpm_old_"
SWAP_LOCK_WAIT_SECONDS = 60
ER_LOCK_WAIT_TIMEOUT = 1205
MAX_STATEMENT_BYTES = 4 << 20  # bigger multi-row INSERTs gain nothing and cost memory
PACKET_MARGIN = 1024  # protocol header and slack below max_allowed_packet
REPORT_LIST_LIMIT = 200
TRANSIENT_LIKE = (r"\_transient\_%", r"\_site\_transient\_%")
# Strict mode on purpose (beyond the NO_AUTO_VALUE_ON_ZERO the data needs): without it
# MariaDB silently turns a value it cannot store into '?' or NULL (e.g. a CONCAT past
# max_allowed_packet). Strict mode alone still accepts zero dates.
SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES"


class Rewriter(Protocol):
    stats: Any

    def rewrite(self, value: bytes) -> bytes: ...


def temp_name(kind: str, table: str) -> str:
    """``_wpm_new_<table>`` within MySQL's 64-character limit (hashed when too long)."""
    name = kind + table
    if len(name) <= 64:
        return name
    return kind + table[:40] + "_" + hashlib.sha1(table.encode()).hexdigest()[:14]


def _like_escape(pattern: str) -> str:
    return pattern.replace("\\", "\\\\").replace("_", "\\_")


def _preserve_condition(conn: MySQLdb.Connection, patterns: Sequence[str], column: str) -> str:
    """SQL matching option names in ``patterns``: exact names, or ``%`` wildcards (any
    other character, ``_`` included, is literal)."""
    parts = []
    for p in patterns:
        lit = as_str(conn.literal(_like_escape(p) if "%" in p else p))
        parts.append(f"{column} LIKE {lit}" if "%" in p else f"{column} = {lit}")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _base_tables(conn: MySQLdb.Connection) -> set[str]:
    return {as_str(n) for n, kind in query(conn, "SHOW FULL TABLES") if as_str(kind) == "BASE TABLE"}


def drop_staging_tables(conn: MySQLdb.Connection) -> list[str]:
    """Drop the ``_wpm_new_*`` / ``_wpm_old_*`` tables an interrupted import left behind
    (never a live table); return their names."""
    left = sorted(t for t in _base_tables(conn) if t.startswith((NEW, OLD)))
    if left:
        query(conn, "DROP TABLE IF EXISTS " + ", ".join(quote_ident(t) for t in left))
    return left


def _unparseable_count(stats: Any) -> int:
    u = getattr(stats, "unparseable", 0)
    return u if isinstance(u, int) else len(u)


def _stats_dict(stats: Any) -> dict[str, Any]:
    if stats is None:
        return {}
    for method in ("to_dict", "as_dict"):
        if hasattr(stats, method):
            return dict(getattr(stats, method)())
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


def _fix_collations(sql: str, known: set[str], mapped: dict[str, str]) -> str:
    """Replace collations the target does not know (MySQL 8 ``utf8mb4_0900_ai_ci``,
    MariaDB 11 ``uca1400``) with the closest one it has, same charset."""
    def repl(m: re.Match[str]) -> str:
        coll = m.group(2)
        if coll.lower() in known:
            return m.group(0)
        charset = coll.split("_", 1)[0]
        for cand in (f"{charset}_unicode_520_ci", f"{charset}_unicode_ci", f"{charset}_general_ci"):
            if cand in known:
                mapped[coll] = cand
                return m.group(1) + cand
        return m.group(0)
    return re.sub(r"(COLLATE[= ]\s*)([A-Za-z0-9_]+)", repl, sql)


class _Column:
    __slots__ = ("binary", "charset", "name", "rewrite", "text")

    def __init__(self, meta: dict[str, Any], rewrite: bool) -> None:
        self.name: str = meta["name"]
        self.binary: bool = bool(meta["binary"])
        self.text: bool = bool(meta["text"])
        self.charset: str | None = meta.get("charset")
        self.rewrite = rewrite and self.text


class _TableLoader:
    """Streams one artifact into one temporary table."""

    def __init__(self, imp: _Import, source: str, target: str, meta: dict[str, Any]) -> None:
        self.imp, self.conn = imp, imp.conn
        self.source, self.target, self.meta = source, target, meta
        self.tmp = temp_name(NEW, target)
        base = unprefixed(target, imp.target_prefix)
        exported = [c for c in meta["columns"] if not c["generated"]]
        self.cols = [_Column(c, (base, c["name"]) not in imp.skip_columns) for c in exported]
        self.names = [c.name for c in self.cols]
        self.pk = [self.names.index(c) for c in meta["primary_key"] if c in self.names]
        self.header = ("INSERT INTO " + quote_ident(self.tmp) + " (" +
                       ", ".join(quote_ident(n) for n in self.names) + ") VALUES ").encode()
        self.option_idx = self.names.index("option_name") if base == "options" else None
        self.meta_key_idx = self.names.index("meta_key") if base == "usermeta" else None
        self.rows = 0
        self.current_pk: Any = None

    # -- value encoding -------------------------------------------------------------
    def _literal(self, v: Any, col: _Column) -> bytes:
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

    def _key_literal(self, v: Any, col: _Column) -> bytes:
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
            if col.rewrite and isinstance(v, bytes) and v:
                before = _unparseable_count(rewriter.stats)
                values[i] = rewriter.rewrite(v)
                if _unparseable_count(rewriter.stats) != before:
                    imp.report_list("unparseable", {"table": self.target, "column": col.name,
                                                   **self._pk_desc(row)})
        return tuple(values), original

    def _encode(self, values: tuple) -> bytes:
        return b"(" + b",".join(self._literal(v, c) for v, c in zip(values, self.cols, strict=True)) + b")"

    # -- loading --------------------------------------------------------------------
    def load(self, path: PathLike) -> int:
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
    def _cut(v: bytes, n: int, col: _Column) -> int:
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


class _Import:
    def __init__(self, conn: MySQLdb.Connection, in_dir: PathLike, source_prefix: str, target_prefix: str,
                 rewriter: Rewriter, preserve_options: Sequence[str], service_users: Sequence[str],
                 skip_columns: Collection[tuple[str, str]], progress: ProgressThrottle) -> None:
        self.conn, self.in_dir = conn, in_dir
        self.source_prefix, self.target_prefix = source_prefix, target_prefix
        self.rewriter, self.preserve_options = rewriter, list(preserve_options)
        self.service_users, self.skip_columns = list(service_users), set(skip_columns)
        self.progress = progress
        self.preserved_names: set[bytes] = set()
        self.local_infile: bool | None = None
        self.max_packet = 0
        self.statement_limit = 0
        self.report: dict[str, Any] = {
            "tables": {}, "rows_total": 0, "oversized_rows": 0, "preserved_options": [],
            "kept_target_options": [], "service_users": [], "renamed_users": [],
            "collations_mapped": {}, "foreign_keys": [], "warnings": [],
        }
        self.context: dict[str, Any] = {}

    def report_list(self, key: str, item: Any) -> None:
        lst = self.report.setdefault(key, [])
        count_key = key + "_count"
        self.report[count_key] = self.report.get(count_key, 0) + 1
        if len(lst) < REPORT_LIST_LIMIT:
            lst.append(item)

    def run(self) -> dict[str, Any]:
        conn = self.conn
        started = time.monotonic()
        manifest = json.loads((self.in_dir / "manifest.json").open("rb").read())
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ArtifactCorrupt("manifest.json is not a wpmigrate database export")
        if manifest.get("source_prefix") not in (None, self.source_prefix):
            raise MigrationError(ErrorCode.IMPORT_FAILED,
                                 f"export was made with prefix {manifest['source_prefix']!r}, "
                                 f"not {self.source_prefix!r}", permanent=True)
        for stmt in (f"SET SESSION sql_mode = '{SQL_MODE}'",
                     "SET SESSION foreign_key_checks = 0",
                     # unique_checks stays ON: with it off InnoDB may accept duplicates that
                     # URL rewriting can create, leaving a corrupt unique index.
                     "SET SESSION unique_checks = 1",
                     "SET SESSION time_zone = '+00:00'",
                     "SET NAMES utf8mb4"):
            query(conn, stmt)
        conn.autocommit(False)
        db = current_database(conn)
        lock = ("wpmigrate-import-" + db)[:64]
        if query(conn, "SELECT GET_LOCK(%s, 0)", (lock,))[0][0] != 1:
            raise MigrationError(ErrorCode.IMPORT_FAILED, f"another import into {db!r} is running",
                                 permanent=False, details={"database": db})
        try:
            return self._run(manifest, started)
        finally:
            with contextlib.suppress(MySQLdb.Error):  # if the connection is gone, so is the lock
                query(conn, "SELECT RELEASE_LOCK(%s)", (lock,))


    def _drop_leftovers(self) -> list[str]:
        return drop_staging_tables(self.conn)

    def _run(self, manifest: dict[str, Any], started: float) -> dict[str, Any]:
        conn, report = self.conn, self.report
        self.max_packet = int(query(conn, "SELECT @@max_allowed_packet")[0][0])
        self.statement_limit = min(self.max_packet - PACKET_MARGIN, MAX_STATEMENT_BYTES)
        if not int(query(conn, "SELECT @@local_infile")[0][0]):
            self.local_infile = False
        report["leftovers_dropped"] = self._drop_leftovers()
        live = _base_tables(conn)
        known_collations = {as_str(r[0]).lower() for r in query(conn, "SHOW COLLATION")}
        tgt = self.target_prefix
        live_options, live_users, live_usermeta = tgt + "options", tgt + "users", tgt + "usermeta"
        if self.preserve_options and live_options in live:
            cond = _preserve_condition(conn, self.preserve_options, "option_name")
            self.preserved_names = {bytes(r[0]) for r in query(
                conn, f"SELECT option_name FROM {quote_ident(live_options)} WHERE {cond}")}

        plan: list[tuple[str, str, dict[str, Any]]] = []
        for source, meta in manifest["tables"].items():
            plan.append((source, map_table_name(source, self.source_prefix, tgt), meta))
        fks: list[tuple[str, str]] = []
        for source, target, meta in plan:
            self.context = {"table": target}
            create = (self.in_dir / meta["schema_file"]).open("rb").read().decode("utf-8")
            create, table_fks = split_foreign_keys(map_references(create, self.source_prefix, tgt))
            fks += [(target, fk) for fk in table_fks]
            create = _fix_collations(rename_create_table(create, temp_name(NEW, target)),
                                     known_collations, report["collations_mapped"])
            query(conn, create)
            loader = _TableLoader(self, source, target, meta)
            self.context = {"table": target, "loader": loader}
            rows = loader.load(self.in_dir / meta["data_file"])
            report["tables"][target] = {"source_table": source, "rows": rows}
        self.context = {}
        targets = {t for _, t, _ in plan}
        if live_options in targets and live_options in live:
            self._carry_options(live_options)
        if self.service_users and {live_users, live_usermeta} <= targets and live_users in live:
            self._carry_service_users(live_users, live_usermeta, live_usermeta in live)
        # Counts as they will be live (dropped source rows and carried target rows included).
        for target in targets:
            n = query(conn, f"SELECT COUNT(*) FROM {quote_ident(temp_name(NEW, target))}")[0][0]
            report["tables"][target]["rows"] = int(n)
        conn.commit()

        # The swap: one statement, atomic; the live site changes here and only here.
        pairs = []
        swapped_old = []
        for target in sorted(targets):
            if target in live:
                pairs.append(f"{quote_ident(target)} TO {quote_ident(temp_name(OLD, target))}")
                swapped_old.append(temp_name(OLD, target))
            pairs.append(f"{quote_ident(temp_name(NEW, target))} TO {quote_ident(target)}")
        self.context = {"step": "swap"}
        # RENAME waits for every open transaction on these tables (a long report query, a
        # stuck client); bound the wait so the task fails and retries instead of hanging.
        query(conn, f"SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_SECONDS}")
        query(conn, "RENAME TABLE " + ", ".join(pairs))
        if swapped_old:
            query(conn, "DROP TABLE IF EXISTS " + ", ".join(quote_ident(t) for t in swapped_old))
        for target, fk in fks:  # after the drop: constraint names are unique per database
            try:
                query(conn, f"ALTER TABLE {quote_ident(target)} ADD {fk}")
                report["foreign_keys"].append({"table": target, "constraint": fk})
            except MySQLdb.Error as exc:
                if is_connection_lost(exc):
                    raise
                report["warnings"].append(f"could not restore foreign key on {target}: {fk}: {exc}")
        report["untouched_target_tables"] = sorted(
            t for t in live if t not in targets and not t.startswith((NEW, OLD)))
        report["skipped_source_tables"] = manifest.get("skipped", [])
        report["rows_total"] = sum(t["rows"] for t in report["tables"].values())
        report["rewrite"] = _stats_dict(getattr(self.rewriter, "stats", None))
        report["max_allowed_packet"] = self.max_packet
        report["duration_s"] = round(time.monotonic() - started, 3)
        return report

    def _carry_options(self, live_options: str) -> None:
        """Preserved options (target value wins) and target-only options (except
        transients) go into the new options table; values copied server-side."""
        conn = self.conn
        tmp = quote_ident(temp_name(NEW, live_options))
        live = quote_ident(live_options)
        new_cols = {as_str(r[0]) for r in query(conn, f"SHOW COLUMNS FROM {tmp}")}
        live_cols = [as_str(r[0]) for r in query(conn, f"SHOW COLUMNS FROM {live}")]
        cols = ", ".join(quote_ident(c) for c in live_cols if c in new_cols and c != "option_id")
        keep = _preserve_condition(conn, self.preserve_options, "o.option_name")
        not_transient = " AND ".join(f"o.option_name NOT LIKE '{p}'" for p in TRANSIENT_LIKE)
        target_only = (f"NOT {keep} AND {not_transient} AND NOT EXISTS "
                       f"(SELECT 1 FROM {tmp} n WHERE n.option_name = o.option_name)")
        self.report["preserved_options"] = [as_str(r[0]) for r in query(
            conn, f"SELECT o.option_name FROM {live} o WHERE {keep} ORDER BY 1")]
        kept = [as_str(r[0]) for r in query(conn, f"SELECT o.option_name FROM {live} o WHERE {target_only}"
                                                " ORDER BY 1")]
        self.report["kept_target_options"] = kept[:REPORT_LIST_LIMIT]
        self.report["kept_target_options_count"] = len(kept)
        # Source rows with a preserved name were already skipped while loading.
        query(conn, f"INSERT INTO {tmp} ({cols}) SELECT {cols} FROM {live} o WHERE {keep} OR ({target_only})")
        conn.commit()

    def _carry_service_users(self, live_users: str, live_usermeta: str, has_meta: bool) -> None:
        """The platform's service users (and all their usermeta: capabilities,
        application passwords) survive the import; source user IDs never change."""
        conn = self.conn
        tu, tm = quote_ident(temp_name(NEW, live_users)), quote_ident(temp_name(NEW, live_usermeta))
        lu, lm = quote_ident(live_users), quote_ident(live_usermeta)
        new_cols = {as_str(r[0]) for r in query(conn, f"SHOW COLUMNS FROM {tu}")}
        user_cols = [as_str(r[0]) for r in query(conn, f"SHOW COLUMNS FROM {lu}")
                     if as_str(r[0]) in new_cols and as_str(r[0]) != "ID"]
        for login in self.service_users:
            found = query(conn, f"SELECT ID FROM {lu} WHERE user_login = %s", (login,))
            if not found:
                self.report["warnings"].append(f"service user {login!r} not found on the target")
                continue
            old_id = int(found[0][0])
            clash = query(conn, f"SELECT ID FROM {tu} WHERE user_login = %s", (login,))
            if clash:
                new_login = self._free_login(tu, login)
                query(conn, f"UPDATE {tu} SET user_login = %s WHERE ID = %s", (new_login, int(clash[0][0])))
                self.report["renamed_users"].append(
                    {"login": login, "renamed_to": new_login, "source_user_id": int(clash[0][0]),
                     "reason": "same login as a platform service user"})
            used = query(conn, f"SELECT (SELECT COUNT(*) FROM {tu} WHERE ID = %s) + "
                               f"(SELECT COUNT(*) FROM {tm} WHERE user_id = %s)", (old_id, old_id))[0][0]
            if used:  # the source has this ID (or orphan usermeta for it): fresh ID
                new_id = int(query(conn, f"SELECT GREATEST(COALESCE((SELECT MAX(ID) FROM {tu}), 0), "
                                         f"COALESCE((SELECT MAX(user_id) FROM {tm}), 0)) + 1")[0][0])
            else:
                new_id = old_id
            cols = ", ".join(quote_ident(c) for c in user_cols)
            query(conn, f"INSERT INTO {tu} (`ID`, {cols}) SELECT %s, {cols} FROM {lu} WHERE ID = %s",
                  (new_id, old_id))
            meta_rows = 0
            if has_meta:
                cur = conn.cursor()
                try:
                    meta_rows = cur.execute(
                        f"INSERT INTO {tm} (`user_id`, `meta_key`, `meta_value`) SELECT %s, meta_key, "
                        f"meta_value FROM {lm} WHERE user_id = %s", (new_id, old_id))
                finally:
                    cur.close()
            conn.commit()
            self.report["service_users"].append(
                {"login": login, "target_user_id": old_id, "new_user_id": new_id, "usermeta_rows": meta_rows})

    def _free_login(self, tu: str, login: str) -> str:
        for n in range(1, 1000):
            suffix = "-source" if n == 1 else f"-source{n}"
            cand = login[: 60 - len(suffix)] + suffix
            if not query(self.conn, f"SELECT 1 FROM {tu} WHERE user_login = %s", (cand,)):
                return cand
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"no free login for {login!r}", permanent=True)

    def abandon(self) -> None:
        """Best effort after a permanent failure: drop what this attempt created."""
        try:
            self.conn.rollback()
            self._drop_leftovers()
        except MySQLdb.Error:
            pass


def import_database(
    conn: MySQLdb.Connection,
    in_dir: PathLike,
    *,
    source_prefix: str,
    target_prefix: str,
    rewriter: Rewriter,
    preserve_options: Sequence[str] = ("siteurl", "home"),
    service_users: Sequence[str] = (),
    skip_columns: Iterable[tuple[str, str]] = DEFAULT_SKIP_COLUMNS,
    progress: Progress | None = None,
    progress_interval: float = 1.0,
) -> dict[str, Any]:
    """Import an export made by ``export_database`` into the target database of
    ``conn`` (see the module docstring); return the import report.

    ``preserve_options``: option names, or patterns with ``%`` (``platform_%``), whose
    target value wins. ``skip_columns``: (unprefixed table, column) pairs never URL-
    rewritten; default ``DEFAULT_SKIP_COLUMNS`` (posts.guid, users.user_pass).
    Open ``conn`` with ``connect(..., local_infile=True)`` so rows larger than the
    target's max_allowed_packet can be stored.
    """
    validate_prefix(source_prefix)
    validate_prefix(target_prefix)
    imp = _Import(conn, in_dir, source_prefix, target_prefix, rewriter, preserve_options,
                  service_users, set(skip_columns), ProgressThrottle(progress, progress_interval))
    try:
        return imp.run()
    except MigrationError as exc:
        if exc.permanent:
            imp.abandon()
        raise
    except MySQLdb.Error as exc:
        details = _details(imp, exc)
        transient = is_connection_lost(exc) or error_code(exc) == ER_LOCK_WAIT_TIMEOUT
        if not transient:
            imp.abandon()
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"database import failed: {exc}",
                             permanent=not transient, details=details) from exc
    except ArtifactCorrupt as exc:
        imp.abandon()
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"export artifact is corrupt: {exc}",
                             permanent=True, details=_details(imp, exc)) from exc
    except OSError as exc:  # reading artifacts (S3 hiccup): retry
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"reading the export failed: {exc}",
                             permanent=False, details=_details(imp, exc)) from exc


def _details(imp: _Import, exc: BaseException) -> dict[str, Any]:
    d: dict[str, Any] = {k: v for k, v in imp.context.items() if k != "loader"}
    loader = imp.context.get("loader")
    if loader is not None:
        d["row_pk"] = loader.current_pk
        d["rows_read"] = loader.rows
    code = error_code(exc)
    if code is not None:
        d["mysql_error"] = code
    return d
