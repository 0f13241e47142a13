"""Task bodies of ``wp_migration_full_access``.

Each function takes the run's typed conf (read once, at the task boundary: ``dag_support.
reported``) plus upstream results (small dicts from XCom), gets clients from hooks and
the source's route object (``source_routes.route_for``), calls the domain library, and
returns a small dict. Data moves through the artifact store; XCom carries URIs, counts
and stats only.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, cast

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.types import DagRunProtocol, RuntimeTaskInstanceProtocol

from wpmigrate.core.conf_model import FullAccessConf
from wpmigrate.core.contracts import (
    DatabaseExport,
    DatabaseImport,
    DryRun,
    FilesExport,
    FilesImport,
    FullAccessSource,
    FullAccessTarget,
    ReportSummary,
    SourceRelease,
)
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.full_access.db import importer as db_import
from wpmigrate.full_access.files import importer as files_import
from wpmigrate.full_access.files.manifest import MANIFEST_NAME, iter_manifest
from wpmigrate.full_access.stats import site_stats
from wpmigrate.full_access.verify import verifier as verify
from wpmigrate.full_access.wp_site import site_facts
from wpmigrate.rewrite.url_rewrite import UrlRewriter
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_keys import origin_of
from wpmigrate_airflow.dag_support import window_start
from wpmigrate_airflow.hooks import WordPressDatabaseHook, WordPressSiteHook
from wpmigrate_airflow.portal import artifacts_dir, fail_on_losses, publish_report, validated_source
from wpmigrate_airflow.run_outcome import failed_work_tasks, peak_rss_mb, progress_logger
from wpmigrate_airflow.source_routes import route_for

log = logging.getLogger(__name__)

# Tasks whose failure fails the migration (notify and cleanup report, they do not migrate;
# release_source reports a plugin it could not remove, it does not fail the run).
WORK_TASKS = ["validate_source", "wait_for_window", "provision_target", "export_database",
              "export_files", "import_database", "import_files", "verify"]
XCOM_SOURCE_RELEASE = "source_release"


def _local_path(uri: str) -> str | None:
    """The filesystem path of a ``file://`` URI (the old/new ABSPATH for rewriting)."""
    path = ObjectStoragePath(uri)
    return path.path if path.protocol in ("file", "local", "") else None


def validate_source(conf: FullAccessConf) -> FullAccessSource:
    settings = Settings.from_env()
    probe = probe_source(conf.source_url, allowed_networks=settings.allowed_source_networks)
    starts = window_start(conf, settings)
    facts = route_for(conf).facts(starts)
    origins = sorted({origin_of(u) for u in (conf.source_url, facts.siteurl, facts.home) if u})
    source: FullAccessSource = {
        "url": conf.source_url,
        "wp_root": facts.wp_root,
        "wp_content_dir": facts.wp_content_dir,
        "table_prefix": facts.table_prefix,
        "siteurl": facts.siteurl,
        "home": facts.home,
        "old_origins": origins,
        "db_size_mb": round(facts.db_size_bytes / 1e6, 2),
        "wp_version": probe.get("wp_version") or facts.wp_version,
        "window_start": starts,
    }
    return validated_source(source)


def provision_target(conf: FullAccessConf) -> FullAccessTarget:
    target = conf.target
    conn = WordPressDatabaseHook(target.db_conn_id).get_conn(unreachable_code=ErrorCode.PROVISION_FAILED)
    try:
        facts = site_facts(conn, target.table_prefix)
    except MigrationError as err:
        raise MigrationError(ErrorCode.PROVISION_FAILED, f"target database: {err.message}") from err
    finally:
        conn.close()
    wp_content = ObjectStoragePath(target.wp_content_uri)
    if not wp_content.exists():
        raise MigrationError(ErrorCode.PROVISION_FAILED, f"target wp-content {wp_content} does not exist")
    if target.wp_conn_id:
        with WordPressSiteHook(target.wp_conn_id).client_for(target.url) as client:
            try:
                WordPressRestTarget(client).check_access()
            except MigrationError as err:
                raise MigrationError(ErrorCode.PROVISION_FAILED, f"target REST API: {err.message}",
                                     permanent=err.permanent) from err
    wp_content_path = _local_path(target.wp_content_uri)
    return {
        "provisioner": target.provisioner,
        "url": target.url.rstrip("/"),
        "table_prefix": target.table_prefix,
        "siteurl": facts["siteurl"],
        "home": facts["home"],
        "wp_content_uri": target.wp_content_uri,
        "wp_root": wp_content_path.rsplit("/", 1)[0] if wp_content_path else None,
    }


def export_database(conf: FullAccessConf, source: FullAccessSource) -> DatabaseExport:
    out = artifacts_dir(conf, "db")
    out.mkdir(parents=True, exist_ok=True)
    manifest = route_for(conf).export_database(out, table_prefix=source["table_prefix"],
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


def export_files(conf: FullAccessConf, source: FullAccessSource) -> FilesExport:
    out = artifacts_dir(conf, "wp-content")
    out.mkdir(parents=True, exist_ok=True)
    summary = route_for(conf).export_files(out, wp_content_dir=source["wp_content_dir"],
                                           progress=progress_logger("export_files"))
    # The exporter's summary is its own open dict; the contract names the keys others read.
    return cast(FilesExport, {"dir_uri": str(out), **summary, "peak_rss_mb": peak_rss_mb()})


def release_source(conf: FullAccessConf) -> SourceRelease:
    """Right after the exports: take off the source what the migration put there (the
    wp_admin route's companion plugin). Never fails the run; the report says what is left."""
    return route_for(conf).release()


def import_database(conf: FullAccessConf, source: FullAccessSource, target: FullAccessTarget,
                    exported: DatabaseExport) -> DatabaseImport | DryRun:
    if conf.dry_run:
        return {"dry_run": True}
    rewriter = UrlRewriter.for_migration(
        source["old_origins"], target["url"], old_path=source["wp_root"], new_path=target.get("wp_root"),
        rewrite_keys=conf.options.rewrite_serialized_keys)
    skip = set(db_import.DEFAULT_SKIP_COLUMNS)
    if conf.options.rewrite_guid:
        skip.discard(("posts", "guid"))
    conn = WordPressDatabaseHook(conf.target.db_conn_id).get_conn(
        unreachable_code=ErrorCode.IMPORT_FAILED, local_infile=True)
    try:
        report = db_import.import_database(
            conn, ObjectStoragePath(exported["dir_uri"]),
            source_prefix=source["table_prefix"], target_prefix=target["table_prefix"],
            rewriter=rewriter,
            preserve_options=["siteurl", "home", *conf.target.preserve_options],
            service_users=list(conf.target.service_users),
            skip_columns=skip, progress=progress_logger("import_database"))
    finally:
        conn.close()
    report_path = artifacts_dir(conf, "reports", "import-database.json")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, default=str, indent=1))
    return {"report_uri": str(report_path), "rows": report.get("rows_total"),
            "unparseable": report.get("rewrite", {}).get("unparseable"),
            "unparseable_rewritten": report.get("rewrite", {}).get("unparseable_rewritten"),
            "serialized_keys": report.get("rewrite", {}).get("serialized_keys"),
            "escaped_urls": report.get("rewrite", {}).get("escaped_urls"),
            "peak_rss_mb": peak_rss_mb()}


def import_files(conf: FullAccessConf, target: FullAccessTarget,
                 exported: FilesExport) -> FilesImport | DryRun:
    if conf.dry_run:
        return {"dry_run": True}
    summary = files_import.import_files(ObjectStoragePath(exported["dir_uri"]),
                                        ObjectStoragePath(target["wp_content_uri"]),
                                        progress=progress_logger("import_files"))
    # As in export_files: the importer's summary is its own open dict.
    return cast(FilesImport, {**summary, "peak_rss_mb": peak_rss_mb()})


def verify_migration(conf: FullAccessConf, ti: RuntimeTaskInstanceProtocol, source: FullAccessSource,
                     target: FullAccessTarget, files: FilesExport, exported: DatabaseExport,
                     released: SourceRelease) -> ReportSummary:
    if conf.dry_run:
        return _dry_run_report(conf, ti, source, released)
    wp_content = ObjectStoragePath(target["wp_content_uri"])
    with contextlib.closing(WordPressDatabaseHook(conf.target.db_conn_id).get_conn(
            unreachable_code=ErrorCode.IMPORT_FAILED)) as tgt:
        # The source database itself, or (no database connection) a replica of its export.
        with route_for(conf).source_side(exported, tgt, source["table_prefix"]) as side:
            report = verify.verify_full_access(
                source_conn=side.conn, target_conn=tgt,
                source_prefix=side.table_prefix, target_prefix=target["table_prefix"],
                old_origins=source["old_origins"], target_url=target["url"],
                files_manifest=iter_manifest(ObjectStoragePath(files["dir_uri"]) / MANIFEST_NAME),
                target_wp_content=wp_content,
                service_users=list(conf.target.service_users), source_label=side.label,
                http_allowed_networks=Settings.from_env().allowed_source_networks)
        # Once a replica is dropped: the target's size counts its own tables only.
        stats = site_stats(tgt, target["table_prefix"], _local_path(target["wp_content_uri"]))
    report["migration_id"] = conf.migration_id
    report["stats"] = stats
    report["source_release"] = released
    summary = publish_report(conf, ti, report, stats)
    fail_on_losses(summary, len(report.get("losses", [])))
    return summary


def _dry_run_report(conf: FullAccessConf, ti: RuntimeTaskInstanceProtocol,
                    source: FullAccessSource, released: SourceRelease) -> ReportSummary:
    """A dry run writes nothing to the target: report what would move instead."""
    stats = route_for(conf).dry_run_stats(artifacts_dir(conf, "db"), source["table_prefix"])
    report = {"ok": True, "dry_run": True, "migration_id": conf.migration_id, "source": source,
              "stats": stats, "losses": [], "source_release": released}
    return publish_report(conf, ti, report, stats, dry_run=True)


def cleanup(conf: FullAccessConf, ti: RuntimeTaskInstanceProtocol,
            dag_run: DagRunProtocol) -> dict[str, Any]:
    """Drop staging tables a failed import may have left on the target (never the source,
    never a live target table), take the companion plugin off the source unless
    ``release_source`` did (pushed as XCom ``source_release``), then fail when the migration
    did not complete.

    Airflow ignores teardowns for the run's state and a cancel (run marked failed) skips
    every pending task, so a cancelled run would end "success" once this teardown ran;
    this task carries ``on_failure_fail_dagrun`` and reports the failure instead."""
    conn = WordPressDatabaseHook(conf.target.db_conn_id).get_conn(unreachable_code=ErrorCode.IMPORT_FAILED)
    try:
        dropped = db_import.drop_staging_tables(conn)
    finally:
        conn.close()
    log.info("dropped %d staging table(s)", len(dropped))
    released = route_for(conf).release_left_over(ti.xcom_pull(task_ids="release_source"))
    if released is not None:
        ti.xcom_push(key=XCOM_SOURCE_RELEASE, value=released)
    failed = failed_work_tasks(ti, dag_run, WORK_TASKS)
    if failed:
        raise AirflowFailException(f"cleanup done; the migration did not complete (failed: {failed})")
    return {"dropped_staging_tables": dropped, XCOM_SOURCE_RELEASE: released}
