"""Database import: load an export into temporary tables, then swap them in atomically.

Order of work, each step safe to repeat (a retried task starts again from the top):
1. ``GET_LOCK`` per target database: two imports never interleave.
2. Drop ``_wpm_new_*`` / ``_wpm_old_*`` leftovers of an earlier, interrupted attempt
   (and ``_wpm_rep_*`` verification replicas, ``verify.export_replica``).
3. Per table: CREATE ``_wpm_new_<table>`` from the prefix-mapped schema, stream the
   artifact rows (sha256 checked), map prefixes, rewrite URLs, INSERT in statements
   sized to the target's ``max_allowed_packet``, commit per statement (bounded undo);
   rows too big for one statement included (``table_loader``).
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
import re
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

import MySQLdb

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.db.connect import error_code, is_connection_lost
from wpmigrate.full_access.db.exporter import MANIFEST_FORMAT
from wpmigrate.full_access.db.row_stream import ArtifactCorrupt
from wpmigrate.full_access.db.sql import as_str, current_database, query, quote_ident
from wpmigrate.full_access.db.table_loader import PACKET_MARGIN, Rewriter, TableLoader
from wpmigrate.full_access.db.table_prefix import (
    map_references,
    map_table_name,
    rename_create_table,
    split_foreign_keys,
    validate_prefix,
)
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle
from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS

__all__ = ["DEFAULT_SKIP_COLUMNS", "import_database", "temp_name"]

NEW, OLD = "_wpm_new_", "_wpm_old_"
# Verification replicas of an export (``verify.export_replica``): scratch tables in the
# target database too, so the same cleanup drops what a crashed verification left.
REPLICA = "_wpm_rep_"
STAGING_PREFIXES = (NEW, OLD, REPLICA)
SWAP_LOCK_WAIT_SECONDS = 60
ER_LOCK_WAIT_TIMEOUT = 1205
MAX_STATEMENT_BYTES = 4 << 20  # bigger multi-row INSERTs gain nothing and cost memory
REPORT_LIST_LIMIT = 200
TRANSIENT_LIKE = (r"\_transient\_%", r"\_site\_transient\_%")
# Strict mode on purpose (beyond the NO_AUTO_VALUE_ON_ZERO the data needs): without it
# MariaDB silently turns a value it cannot store into '?' or NULL (e.g. a CONCAT past
# max_allowed_packet). Strict mode alone still accepts zero dates.
SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES"


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
    and ``_wpm_rep_*`` verification replicas (never a live table); return their names."""
    left = sorted(t for t in _base_tables(conn) if t.startswith(STAGING_PREFIXES))
    if left:
        query(conn, "DROP TABLE IF EXISTS " + ", ".join(quote_ident(t) for t in left))
    return left


def read_manifest(in_dir: StoragePath, source_prefix: str) -> dict[str, Any]:
    """The export's manifest.json, checked to be one made with ``source_prefix``."""
    with (in_dir / "manifest.json").open("rb") as fh:
        manifest: dict[str, Any] = json.loads(fh.read())
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactCorrupt("manifest.json is not a wpmigrate database export")
    if manifest.get("source_prefix") not in (None, source_prefix):
        raise MigrationError(ErrorCode.IMPORT_FAILED,
                             f"export was made with prefix {manifest['source_prefix']!r}, "
                             f"not {source_prefix!r}", permanent=True)
    return manifest


def prepare_session(conn: MySQLdb.Connection) -> None:
    """Session settings for loading artifact rows (see ``SQL_MODE``); autocommit off."""
    for stmt in (f"SET SESSION sql_mode = '{SQL_MODE}'",
                 "SET SESSION foreign_key_checks = 0",
                 # unique_checks stays ON: with it off InnoDB may accept duplicates that
                 # URL rewriting can create, leaving a corrupt unique index.
                 "SET SESSION unique_checks = 1",
                 "SET SESSION time_zone = '+00:00'",
                 "SET NAMES utf8mb4"):
        query(conn, stmt)
    conn.autocommit(False)


@contextlib.contextmanager
def import_lock(conn: MySQLdb.Connection) -> Iterator[None]:
    """``GET_LOCK`` per target database, held by the session: imports (and verification
    replicas) never interleave, nor drop each other's staging tables."""
    db = current_database(conn)
    lock = ("wpmigrate-import-" + db)[:64]
    if query(conn, "SELECT GET_LOCK(%s, 0)", (lock,))[0][0] != 1:
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"another import into {db!r} is running",
                             permanent=False, details={"database": db})
    try:
        yield
    finally:
        with contextlib.suppress(MySQLdb.Error):  # if the connection is gone, so is the lock
            query(conn, "SELECT RELEASE_LOCK(%s)", (lock,))


def packet_limits(conn: MySQLdb.Connection) -> tuple[int, int, bool | None]:
    """(max_allowed_packet, INSERT statement limit, local_infile: False when the server
    refuses LOAD DATA LOCAL, None when it is to be tried)."""
    max_packet = int(query(conn, "SELECT @@max_allowed_packet")[0][0])
    local_infile = None if int(query(conn, "SELECT @@local_infile")[0][0]) else False
    return max_packet, min(max_packet - PACKET_MARGIN, MAX_STATEMENT_BYTES), local_infile


def known_collations(conn: MySQLdb.Connection) -> set[str]:
    return {as_str(r[0]).lower() for r in query(conn, "SHOW COLLATION")}


def staging_create(in_dir: StoragePath, meta: dict[str, Any], name: str, source_prefix: str,
                   target_prefix: str, collations: set[str], mapped: dict[str, str]) -> tuple[str, list[str]]:
    """The CREATE TABLE of staging table ``name`` from the export's schema file, and the
    foreign keys split off it (see ``split_foreign_keys``); unknown collations replaced
    (recorded in ``mapped``)."""
    with (in_dir / meta["schema_file"]).open("rb") as fh:
        create = fh.read().decode("utf-8")
    create, fks = split_foreign_keys(map_references(create, source_prefix, target_prefix))
    return _fix_collations(rename_create_table(create, name), collations, mapped), fks


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


class _Import:
    def __init__(self, conn: MySQLdb.Connection, in_dir: StoragePath, source_prefix: str, target_prefix: str,
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
        started = time.monotonic()
        manifest = read_manifest(self.in_dir, self.source_prefix)
        prepare_session(self.conn)
        with import_lock(self.conn):
            return self._run(manifest, started)

    def _drop_leftovers(self) -> list[str]:
        return drop_staging_tables(self.conn)

    def _run(self, manifest: dict[str, Any], started: float) -> dict[str, Any]:
        conn, report = self.conn, self.report
        self.max_packet, self.statement_limit, self.local_infile = packet_limits(conn)
        report["leftovers_dropped"] = self._drop_leftovers()
        live = _base_tables(conn)
        collations = known_collations(conn)
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
            create, table_fks = staging_create(self.in_dir, meta, temp_name(NEW, target), self.source_prefix,
                                               tgt, collations, report["collations_mapped"])
            fks += [(target, fk) for fk in table_fks]
            query(conn, create)
            loader = TableLoader(self, source, target, temp_name(NEW, target), meta)
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
            t for t in live if t not in targets and not t.startswith(STAGING_PREFIXES))
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
    in_dir: StoragePath,
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
