"""The source side of a verification when the source database cannot be reached (the
``wp_admin`` route: its export came over HTTP from the companion plugin).

The export artifacts are the source's record. ``source_replica`` loads them into scratch
tables of a database we can write (in production the target's), with the importer's own
table loader, streamed (memory bounded as the import), and without URL rewriting,
preserved options or service users. ``verify_full_access`` then reads the replica as the
source: ``source_conn`` is that connection, ``source_prefix`` the replica's prefix.

Naming: ``_wpm_rep_<6 hex>_`` + the table's name after the source prefix
(``_wpm_rep_3fa2c1_posts``). That is outside every WordPress prefix of the database and
outside the import's ``_wpm_new_`` / ``_wpm_old_`` staging; ``importer.drop_staging_tables``
(the DAG's cleanup, every import's start) drops what a crashed verification left. The
replica holds the database's import lock while it exists, so no import drops it or swaps
tables under it; replica leftovers are dropped when a new one starts.

Values are the exported bytes, except the prefix WordPress stores inside keys
(``{prefix}capabilities`` usermeta keys, the ``{prefix}user_roles`` option): it follows
the table prefix exactly as on an import (``table_prefix.map_usermeta_key``), so the replica
is a consistent site under its prefix and the ``users`` check compares roles for real
(with the source's prefix left in the keys it would compare zero rows and always pass).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import MySQLdb

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.db.connect import error_code, is_connection_lost
from wpmigrate.full_access.db.importer import (
    REPLICA,
    drop_staging_tables,
    import_lock,
    known_collations,
    packet_limits,
    prepare_session,
    read_manifest,
    staging_create,
)
from wpmigrate.full_access.db.row_stream import ArtifactCorrupt
from wpmigrate.full_access.db.sql import query, quote_ident
from wpmigrate.full_access.db.table_loader import TableLoader
from wpmigrate.full_access.db.table_prefix import map_table_name, validate_prefix
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle
from wpmigrate.full_access.verify.db_checks import list_tables

log = logging.getLogger(__name__)

MAX_NAME = 64  # MySQL / MariaDB identifier limit


def new_replica_prefix() -> str:
    """``_wpm_rep_<6 hex>_``: short, so the source's table names still fit in 64 chars."""
    return f"{REPLICA}{secrets.token_hex(3)}_"


def replica_table(table: str, source_prefix: str, replica_prefix: str) -> str | None:
    """The replica's name of source ``table``; None past 64 characters (a hashed name would
    not pair with the target's table; verify lists the target's as not compared)."""
    name = map_table_name(table, source_prefix, replica_prefix)
    return name if len(name) <= MAX_NAME else None


@dataclass
class _ReplicaLoad:
    """The ``table_loader.ImportState`` of a replica: prefix mapping only."""

    conn: MySQLdb.Connection
    source_prefix: str
    target_prefix: str
    statement_limit: int
    max_packet: int
    local_infile: bool | None
    progress: ProgressThrottle
    rewriter: None = None
    skip_columns: set[tuple[str, str]] = field(default_factory=set)
    preserved_names: set[bytes] = field(default_factory=set)
    report: dict[str, Any] = field(default_factory=lambda: {"oversized_rows": 0})

    def report_list(self, key: str, item: Any) -> None:
        self.report[key + "_count"] = self.report.get(key + "_count", 0) + 1  # counted, not kept


def _load(conn: MySQLdb.Connection, db_dir: StoragePath, manifest: dict[str, Any], source_prefix: str,
          prefix: str, throttle: ProgressThrottle, where: dict[str, Any]) -> None:
    max_packet, limit, local_infile = packet_limits(conn)
    state = _ReplicaLoad(conn, source_prefix, prefix, limit, max_packet, local_infile, throttle)
    collations = known_collations(conn)
    for source, meta in manifest["tables"].items():
        where["table"] = source
        name = replica_table(source, source_prefix, prefix)
        if name is None:
            log.warning("table %s not replicated: its replica name passes %d characters", source, MAX_NAME)
            continue
        # Foreign keys left out: verification needs none, and constraint names are unique
        # per database (the target's own would collide).
        create, _fks = staging_create(db_dir, meta, name, source_prefix, prefix, collations, {})
        query(conn, create)
        TableLoader(state, source, name, name, meta).load(db_dir / meta["data_file"])


def _drop(conn: MySQLdb.Connection, prefix: str) -> None:
    with contextlib.suppress(MySQLdb.Error):
        conn.rollback()
    try:
        tables = list_tables(conn, prefix)
        if tables:
            query(conn, "DROP TABLE IF EXISTS " + ", ".join(quote_ident(t) for t in tables))
    except MySQLdb.Error as exc:  # never hide the caller's own error; the cleanup drops them
        log.warning("could not drop the verification replica %s*: %s (drop_staging_tables will)", prefix, exc)


@contextlib.contextmanager
def source_replica(
    conn: MySQLdb.Connection,
    db_dir: StoragePath,
    *,
    source_prefix: str,
    progress: Progress | None = None,
    progress_interval: float = 1.0,
) -> Iterator[str]:
    """Load the export in ``db_dir`` (made with ``source_prefix``) into replica tables of
    ``conn``'s database; yield the replica's table prefix; drop the tables on exit, also
    on error. See the module docstring.

    ``conn`` stays in the importer's session settings (strict sql_mode, UTC time zone,
    autocommit off). Open it with ``connect(..., local_infile=True)`` so rows larger than
    the server's max_allowed_packet load. Loading failures raise ``MigrationError``
    (``VERIFICATION_FAILED``, transient when the connection or the artifact store
    failed); a running import (its lock) raises the import's transient ``IMPORT_FAILED``.
    """
    validate_prefix(source_prefix)
    throttle = ProgressThrottle(
        (lambda event: progress({**event, "phase": "verify_replica"})) if progress else None,
        progress_interval)
    prefix = new_replica_prefix()
    try:
        manifest = read_manifest(db_dir, source_prefix)
    except (ArtifactCorrupt, OSError) as exc:
        raise _load_failed(exc, {}) from exc
    prepare_session(conn)
    with import_lock(conn):
        try:
            # Under the lock nobody else has staging or replica tables: what is left is
            # garbage, and no table can start with our fresh prefix afterwards.
            dropped = drop_staging_tables(conn)
            if dropped:
                log.info("dropped %d leftover staging/replica table(s)", len(dropped))
            where: dict[str, Any] = {"replica_prefix": prefix}
            try:
                _load(conn, db_dir, manifest, source_prefix, prefix, throttle, where)
            except (MySQLdb.Error, ArtifactCorrupt, OSError) as exc:
                raise _load_failed(exc, where) from exc
            log.info("verification replica %s*: %d table(s) from %s", prefix, len(manifest["tables"]), db_dir)
            yield prefix
        finally:
            _drop(conn, prefix)


def _load_failed(exc: Exception, details: dict[str, Any]) -> MigrationError:
    transient = isinstance(exc, OSError) or is_connection_lost(exc)
    code = error_code(exc) if isinstance(exc, MySQLdb.Error) else None
    return MigrationError(
        ErrorCode.VERIFICATION_FAILED, f"loading the export into a verification replica failed: {exc}",
        permanent=not transient, details={**details, **({"mysql_error": code} if code else {})},
        user_message="The migrated site could not be verified: the source's export could not be "
                     "loaded for comparison. Please contact support.")
