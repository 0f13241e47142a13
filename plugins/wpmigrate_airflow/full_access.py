"""Task bodies of ``wp_migration_full_access``.

Each function takes the validated conf plus upstream results (small dicts from XCom),
gets clients from hooks, calls the domain library, and returns a small dict. Data
moves through the artifact store; XCom carries URIs, counts and stats only.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, cast

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.types import DagRunProtocol, RuntimeTaskInstanceProtocol

from wpmigrate.core.conf import FULL_ACCESS, validate_conf
from wpmigrate.core.contracts import (
    DatabaseExport,
    DatabaseImport,
    DryRun,
    FilesExport,
    FilesImport,
    FullAccessSource,
    FullAccessTarget,
    ReportSummary,
)
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.full_access.db import exporter as db_export
from wpmigrate.full_access.db import importer as db_import
from wpmigrate.full_access.files import exporter as files_export
from wpmigrate.full_access.files import importer as files_import
from wpmigrate.full_access.files.manifest import MANIFEST_NAME, iter_manifest
from wpmigrate.full_access.stats import site_stats
from wpmigrate.full_access.verify import verifier as verify
from wpmigrate.full_access.wp_config import parse_table_prefix
from wpmigrate.full_access.wp_site import site_facts
from wpmigrate.rewrite.url_rewrite import UrlRewriter
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_keys import origin_of
from wpmigrate_airflow import source_access
from wpmigrate_airflow.dag_support import window_start
from wpmigrate_airflow.hooks import SftpClientFactory, WordPressDatabaseHook, WordPressSiteHook
from wpmigrate_airflow.portal import artifacts_dir, fail_on_losses, publish_report, validated_source
from wpmigrate_airflow.run_outcome import failed_work_tasks, peak_rss_mb, progress_logger

log = logging.getLogger(__name__)

# Tasks whose failure fails the migration (notify and cleanup report, they do not migrate).
WORK_TASKS = ["validate_source", "wait_for_window", "provision_target", "export_database",
              "export_files", "import_database", "import_files", "verify"]


def _conf(params: dict[str, Any]) -> dict[str, Any]:
    return validate_conf(FULL_ACCESS, dict(params))


def _local_path(uri: str) -> str | None:
    """The filesystem path of a ``file://`` URI (the old/new ABSPATH for rewriting)."""
    path = ObjectStoragePath(uri)
    return path.path if path.protocol in ("file", "local", "") else None


def validate_source(params: dict[str, Any]) -> FullAccessSource:
    conf = _conf(params)
    settings = Settings.from_env()
    probe = probe_source(conf["source_url"], allowed_networks=settings.allowed_source_networks)
    access = conf["source_access"]
    root = source_access.wp_root(conf)
    wp_content = access.get("wp_content_dir") or f"{root}/wp-content"

    with SftpClientFactory(access["sftp_conn_id"]) as connect:
        config = source_access.read_wp_config(connect, root)
        try:
            connect().stat(wp_content)
        except OSError as err:
            raise MigrationError(ErrorCode.NOT_WORDPRESS, f"no wp-content at {wp_content}") from err
    prefix = access.get("table_prefix") or parse_table_prefix(config)

    with source_access.source_database(conf, wp_config=config) as conn:
        facts = site_facts(conn, prefix)

    origins = sorted({origin_of(u) for u in (conf["source_url"], facts["siteurl"], facts["home"]) if u})
    source: FullAccessSource = {
        "url": conf["source_url"],
        "wp_root": root,
        "wp_content_dir": wp_content,
        "table_prefix": prefix,
        "siteurl": facts["siteurl"],
        "home": facts["home"],
        "old_origins": origins,
        "db_size_mb": round(facts["db_size_bytes"] / 1e6, 2),
        "wp_version": probe.get("wp_version"),
        "window_start": window_start(conf, settings),
    }
    return validated_source(source)


def provision_target(params: dict[str, Any]) -> FullAccessTarget:
    conf = _conf(params)
    target = conf["target"]
    prefix = target.get("table_prefix", "wp_")
    conn = WordPressDatabaseHook(target["db_conn_id"]).get_conn(
        unreachable_code=ErrorCode.PROVISION_FAILED)
    try:
        facts = site_facts(conn, prefix)
    except MigrationError as err:
        raise MigrationError(ErrorCode.PROVISION_FAILED, f"target database: {err.message}") from err
    finally:
        conn.close()
    wp_content = ObjectStoragePath(target["wp_content_uri"])
    if not wp_content.exists():
        raise MigrationError(ErrorCode.PROVISION_FAILED, f"target wp-content {wp_content} does not exist")
    if target.get("wp_conn_id"):
        with WordPressSiteHook(target["wp_conn_id"]).client_for(target["url"]) as client:
            try:
                WordPressRestTarget(client).check_access()
            except MigrationError as err:
                raise MigrationError(ErrorCode.PROVISION_FAILED, f"target REST API: {err.message}",
                                     permanent=err.permanent) from err
    wp_content_path = _local_path(target["wp_content_uri"])
    return {
        "provisioner": target["provisioner"],
        "url": target["url"].rstrip("/"),
        "table_prefix": prefix,
        "siteurl": facts["siteurl"],
        "home": facts["home"],
        "wp_content_uri": target["wp_content_uri"],
        "wp_root": wp_content_path.rsplit("/", 1)[0] if wp_content_path else None,
    }


def export_database(params: dict[str, Any], source: FullAccessSource) -> DatabaseExport:
    conf = _conf(params)
    out = artifacts_dir(conf, "db")
    out.mkdir(parents=True, exist_ok=True)
    with source_access.source_database(conf) as conn:
        manifest = db_export.export_database(conn, out, table_prefix=source["table_prefix"],
                                             progress=progress_logger("export_database"))
    totals = manifest["totals"]
    return {
        "manifest_uri": str(out / "manifest.json"),
        "dir_uri": str(out),
        "tables": totals["tables"],
        "rows": totals["rows"],
        "bytes": totals["bytes"],
        "peak_rss_mb": peak_rss_mb(),
    }


def export_files(params: dict[str, Any], source: FullAccessSource) -> FilesExport:
    conf = _conf(params)
    out = artifacts_dir(conf, "wp-content")
    out.mkdir(parents=True, exist_ok=True)
    with SftpClientFactory(conf["source_access"]["sftp_conn_id"]) as connect:
        summary = files_export.export_files(connect, source["wp_content_dir"], out,
                                            progress=progress_logger("export_files"))
    # The exporter's summary is its own open dict; the contract names the keys others read.
    return cast(FilesExport, {"dir_uri": str(out), **summary, "peak_rss_mb": peak_rss_mb()})


def import_database(params: dict[str, Any], source: FullAccessSource, target: FullAccessTarget,
                    exported: DatabaseExport) -> DatabaseImport | DryRun:
    conf = _conf(params)
    if conf["dry_run"]:
        return {"dry_run": True}
    rewriter = UrlRewriter.for_migration(
        source["old_origins"], target["url"], old_path=source["wp_root"], new_path=target.get("wp_root"))
    skip = set(db_import.DEFAULT_SKIP_COLUMNS)
    if conf["options"].get("rewrite_guid"):
        skip.discard(("posts", "guid"))
    conn = WordPressDatabaseHook(conf["target"]["db_conn_id"]).get_conn(
        unreachable_code=ErrorCode.IMPORT_FAILED, local_infile=True)
    try:
        report = db_import.import_database(
            conn, ObjectStoragePath(exported["dir_uri"]),
            source_prefix=source["table_prefix"], target_prefix=target["table_prefix"],
            rewriter=rewriter,
            preserve_options=["siteurl", "home", *conf["target"].get("preserve_options", [])],
            service_users=conf["target"].get("service_users", []),
            skip_columns=skip, progress=progress_logger("import_database"))
    finally:
        conn.close()
    report_path = artifacts_dir(conf, "reports", "import-database.json")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, default=str, indent=1))
    return {"report_uri": str(report_path), "rows": report.get("rows_total"),
            "unparseable": report.get("rewrite", {}).get("unparseable"),
            "peak_rss_mb": peak_rss_mb()}


def import_files(params: dict[str, Any], target: FullAccessTarget,
                 exported: FilesExport) -> FilesImport | DryRun:
    conf = _conf(params)
    if conf["dry_run"]:
        return {"dry_run": True}
    summary = files_import.import_files(ObjectStoragePath(exported["dir_uri"]),
                                        ObjectStoragePath(target["wp_content_uri"]),
                                        progress=progress_logger("import_files"))
    # As in export_files: the importer's summary is its own open dict.
    return cast(FilesImport, {**summary, "peak_rss_mb": peak_rss_mb()})


def verify_migration(params: dict[str, Any], ti: RuntimeTaskInstanceProtocol, source: FullAccessSource,
                     target: FullAccessTarget, files: FilesExport) -> ReportSummary:
    conf = _conf(params)
    if conf["dry_run"]:
        return _dry_run_report(conf, ti, source)
    wp_content = ObjectStoragePath(target["wp_content_uri"])
    with source_access.source_database(conf) as src, contextlib.closing(
            WordPressDatabaseHook(conf["target"]["db_conn_id"]).get_conn(
                unreachable_code=ErrorCode.IMPORT_FAILED)) as tgt:
        report = verify.verify_full_access(
            source_conn=src, target_conn=tgt,
            source_prefix=source["table_prefix"], target_prefix=target["table_prefix"],
            old_origins=source["old_origins"], target_url=target["url"],
            files_manifest=iter_manifest(ObjectStoragePath(files["dir_uri"]) / MANIFEST_NAME),
            target_wp_content=wp_content,
            service_users=conf["target"].get("service_users", []))
        stats = site_stats(tgt, target["table_prefix"], _local_path(target["wp_content_uri"]))
    report["migration_id"] = conf["migration_id"]
    report["stats"] = stats
    summary = publish_report(conf, ti, report, stats)
    fail_on_losses(summary, len(report.get("losses", [])))
    return summary


def _dry_run_report(conf: dict[str, Any], ti: RuntimeTaskInstanceProtocol,
                    source: FullAccessSource) -> ReportSummary:
    """A dry run writes nothing to the target: report what would move instead."""
    with source_access.source_database(conf) as conn:
        stats = site_stats(conn, source["table_prefix"])
    report = {"ok": True, "dry_run": True, "migration_id": conf["migration_id"], "source": source,
              "stats": stats, "losses": []}
    return publish_report(conf, ti, report, stats, dry_run=True)


def cleanup(params: dict[str, Any], ti: RuntimeTaskInstanceProtocol,
            dag_run: DagRunProtocol) -> dict[str, Any]:
    """Drop staging tables a failed import may have left on the target (never the source,
    never a live target table), then fail when the migration did not complete.

    Airflow ignores teardowns for the run's state and a cancel (run marked failed) skips
    every pending task, so a cancelled run would end "success" once this teardown ran;
    this task carries ``on_failure_fail_dagrun`` and reports the failure instead."""
    conf = _conf(params)
    conn = WordPressDatabaseHook(conf["target"]["db_conn_id"]).get_conn(
        unreachable_code=ErrorCode.IMPORT_FAILED)
    try:
        dropped = db_import.drop_staging_tables(conn)
    finally:
        conn.close()
    log.info("dropped %d staging table(s)", len(dropped))
    failed = failed_work_tasks(ti, dag_run, WORK_TASKS)
    if failed:
        raise AirflowFailException(f"cleanup done; the migration did not complete (failed: {failed})")
    return {"dropped_staging_tables": dropped}
