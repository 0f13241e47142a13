"""Verification of a Mode A (full access) migration: prove nothing was lost.

Compares the source and target databases (``db_checks``), the target ``wp-content``
against the export manifest (``file_checks``), and the target site over HTTP
(``http_checks``). Everything streams: counts and old-URL scans run inside MariaDB,
rows are paged by primary key, files are hashed in chunks, and every list in the
report is bounded (``report``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import httpx

from wpmigrate.full_access.db.sql import Connection, current_database
from wpmigrate.full_access.verify import db_checks, file_checks, http_checks, origin_scan
from wpmigrate.full_access.verify.options import VerifyOptions
from wpmigrate.full_access.verify.report import Section, build_report, error_section
from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS

log = logging.getLogger(__name__)

Check = Callable[[VerifyOptions], Section]
CHECKS: dict[str, Check] = {
    "row_counts": db_checks.row_counts,
    "posts": db_checks.posts,
    "terms": db_checks.terms,
    "comments": db_checks.comments,
    "users": db_checks.users,
    "files": file_checks.files,
    "http": http_checks.http,
    "old_origins": origin_scan.old_origins,
    "serialized": db_checks.serialized,
}
ALL_CHECKS = tuple(CHECKS)


def _end_transaction(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _run_checks(o: VerifyOptions, selected: Sequence[str]) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    for name in selected:
        t0 = time.monotonic()
        try:
            section = CHECKS[name](o)
        except Exception as exc:  # a check that cannot run proves nothing: it fails the report
            log.exception("verification check %s failed to run", name)
            section = error_section(name, exc)
        section["duration_s"] = round(time.monotonic() - t0, 3)
        sections[name] = section
        log.info("verify %s: %s (%s checked, %s problems)", name, section["status"], section["checked"],
                 section["problem_count"])
    return sections


def verify_full_access(
    *,
    source_conn: Connection,
    target_conn: Connection,
    source_prefix: str,
    target_prefix: str,
    old_origins: Sequence[str],
    target_url: str | None,
    files_manifest: Iterable[Mapping[str, Any] | Any] | None,
    target_wp_content: Any | None,
    service_users: Sequence[str] = (),
    skip_columns: Mapping[tuple[str, str], str] | Collection[tuple[str, str]] = DEFAULT_SKIP_COLUMNS,
    http_client: httpx.Client | None = None,
    http_allowed_networks: Iterable[Any] = (),
    php_binary: str | None = "php",
    checks: Collection[str] | None = None,
    http_limit: int | None = None,
    http_workers: int = 4,
    page_size: int = 500,
    max_problems: int = 50,
    hits_per_column: int = 5,
    source_label: str | None = None,
) -> dict[str, Any]:
    """Compare a Mode A source and target; return the verification report (JSON-able).

    ``files_manifest``: ``files.manifest.ManifestEntry`` objects or dicts with ``path`` (relative
    to wp-content), ``sha256`` and optionally ``size`` (e.g. ``iter_manifest(path)``; streamed).
    ``skip_columns``: ``(unprefixed table, column)`` pairs the import never rewrites, so the
    old-origin scan leaves them out; a mapping's values are the reasons shown in the report.
    ``http_allowed_networks``: the SSRF guard's allow-list for the HTTP check's own client
    (the target's origin is reached whatever its address; redirects elsewhere are guarded).
    ``checks`` restricts which sections run (default: all of ``ALL_CHECKS``).
    ``source_label``: where the source side came from, as the report's ``source.from``
    (e.g. ``"export artifacts (route wp_admin)"`` for a ``verify.export_replica``).
    The caller fails the run when ``report["ok"]`` is False.

    Both connections are rolled back before and after (verification only reads): an open
    transaction would pin a REPEATABLE READ snapshot older than the import and keep
    metadata locks that block later DDL (cleanup, a re-import's RENAME). Do not pass a
    connection that holds uncommitted writes.
    """
    started = time.monotonic()
    selected = list(ALL_CHECKS if checks is None else [c for c in ALL_CHECKS if c in set(checks)])
    unknown = set(checks or ()) - set(ALL_CHECKS)
    if unknown:
        raise ValueError(f"unknown checks: {sorted(unknown)}")
    _end_transaction(source_conn)
    _end_transaction(target_conn)
    try:
        o = VerifyOptions(
            source_conn=source_conn, target_conn=target_conn, source_prefix=source_prefix,
            target_prefix=target_prefix, old_origins=tuple(old_origins), target_url=target_url,
            files_manifest=files_manifest, target_wp_content=target_wp_content,
            service_users=tuple(service_users), skip_columns=db_checks.skip_reasons(skip_columns),
            http_client=http_client, http_allowed_networks=tuple(http_allowed_networks),
            php_binary=php_binary, http_limit=http_limit,
            http_workers=max(1, http_workers), page_size=max(1, page_size),
            max_problems=max(1, max_problems), hits_per_column=max(1, hits_per_column),
            source_tables=tuple(db_checks.list_tables(source_conn, source_prefix)),
            target_tables=frozenset(db_checks.list_tables(target_conn, target_prefix)),
        )
        sections = _run_checks(o, selected)
        source_db, target_db = current_database(source_conn), current_database(target_conn)
    finally:
        _end_transaction(source_conn)
        _end_transaction(target_conn)
    source: dict[str, Any] = {"database": source_db, "prefix": source_prefix, "tables": len(o.source_tables)}
    if source_label is not None:
        source["from"] = source_label
    return build_report(
        sections, started=started, max_problems=max_problems, old_origins=old_origins, source=source,
        target={"database": target_db, "prefix": target_prefix, "url": target_url},
    )
