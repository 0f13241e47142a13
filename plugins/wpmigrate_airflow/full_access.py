"""Task bodies of ``wp_migration_full_access``.

Each function takes the validated conf plus upstream results (small dicts from XCom),
gets clients from hooks, calls the domain library, and returns a small dict. Data
moves through the artifact store; XCom carries URIs, counts and stats only.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
    SourceRelease,
)
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.full_access.companion.db_export import export_database_via_companion
from wpmigrate.full_access.companion.files_export import export_files_via_companion
from wpmigrate.full_access.db import exporter as db_export
from wpmigrate.full_access.db import importer as db_import
from wpmigrate.full_access.files import exporter as files_export
from wpmigrate.full_access.files import importer as files_import
from wpmigrate.full_access.files.manifest import MANIFEST_NAME, iter_manifest
from wpmigrate.full_access.stats import export_stats, site_stats
from wpmigrate.full_access.verify import verifier as verify
from wpmigrate.full_access.verify.export_replica import source_replica
from wpmigrate.full_access.wp_config import parse_table_prefix
from wpmigrate.full_access.wp_site import site_facts
from wpmigrate.rewrite.url_rewrite import UrlRewriter
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_keys import origin_of
from wpmigrate_airflow import companion_access, source_access
from wpmigrate_airflow.dag_support import window_start
from wpmigrate_airflow.hooks import SftpClientFactory, WordPressDatabaseHook, WordPressSiteHook
from wpmigrate_airflow.portal import artifacts_dir, fail_on_losses, publish_report, validated_source
from wpmigrate_airflow.run_outcome import failed_work_tasks, peak_rss_mb, progress_logger

log = logging.getLogger(__name__)

# Tasks whose failure fails the migration (notify and cleanup report, they do not migrate;
# release_source reports a plugin it could not remove, it does not fail the run).
WORK_TASKS = ["validate_source", "wait_for_window", "provision_target", "export_database",
              "export_files", "import_database", "import_files", "verify"]
XCOM_SOURCE_RELEASE = "source_release"
# A run whose window opens later than this removes the companion plugin until then.
_PLUGIN_WAIT_LIMIT = timedelta(minutes=10)


def _conf(params: dict[str, Any]) -> dict[str, Any]:
    return validate_conf(FULL_ACCESS, dict(params))


def _local_path(uri: str) -> str | None:
    """The filesystem path of a ``file://`` URI (the old/new ABSPATH for rewriting)."""
    path = ObjectStoragePath(uri)
    return path.path if path.protocol in ("file", "local", "") else None


def _stat_wp_content(sftp_conn_id: str, wp_content: str) -> None:
    with SftpClientFactory(sftp_conn_id) as connect:
        try:
            connect().stat(wp_content)
        except OSError as err:
            raise MigrationError(ErrorCode.NOT_WORDPRESS, f"no wp-content at {wp_content}") from err


def _facts_over_sftp(conf: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """Routes sftp_db and ssh: wp-config.php over SFTP, the facts from the database."""
    access = conf["source_access"]
    root = source_access.wp_root(conf)
    wp_content = access.get("wp_content_dir") or f"{root}/wp-content"
    with SftpClientFactory(access["sftp_conn_id"]) as connect:
        config = source_access.read_wp_config(connect, root)
    _stat_wp_content(access["sftp_conn_id"], wp_content)
    prefix = access.get("table_prefix") or parse_table_prefix(config)
    with source_access.source_database(conf, wp_config=config) as conn:
        facts = site_facts(conn, prefix)
    return root, wp_content, prefix, dict(facts)


def _facts_from_companion(conf: dict[str, Any], starts: str) -> tuple[str, str, str, dict[str, Any]]:
    """Route wp_admin: install the plugin (a login that cannot do it fails here, fast) and
    take the facts from its preflight; removed again when the run waits for a later window."""
    access = conf["source_access"]
    manual = companion_access.is_manual(conf)
    if not manual:
        companion_access.install(conf)
    try:
        with companion_access.companion(conf, reinstall=False) as (_client, pre):
            pass
        root = str(pre["abspath"]).rstrip("/") or "/"
        wp_content = (access.get("wp_content_dir") or (f"{access['wp_root'].rstrip('/')}/wp-content"
                      if access.get("wp_root") else str(pre["wp_content_dir"])))
        if access.get("sftp_conn_id"):
            _stat_wp_content(access["sftp_conn_id"], wp_content)
    except BaseException:
        if not manual:
            companion_access.remove(conf)
        raise
    if not manual and datetime.fromisoformat(starts) > datetime.now(UTC) + _PLUGIN_WAIT_LIMIT:
        log.info("the run waits for its window (%s): the plugin comes off the source until then", starts)
        companion_access.remove(conf)
    facts = {"siteurl": str(pre["siteurl"]), "home": str(pre["home"]),
             "db_size_bytes": sum(int(t.get("data_length") or 0) for t in pre["tables"]),
             "wp_version": pre.get("wp_version")}
    log.info("source preflight: WordPress %s, PHP %s, max_execution_time %s s, memory_limit %s, "
             "%d tables, wp-content %s", pre.get("wp_version"), pre.get("php_version"),
             pre.get("max_execution_time"), pre.get("memory_limit"), len(pre["tables"]),
             pre.get("wp_content"))
    return root, wp_content, access.get("table_prefix") or str(pre["table_prefix"]), facts


def validate_source(params: dict[str, Any]) -> FullAccessSource:
    conf = _conf(params)
    settings = Settings.from_env()
    probe = probe_source(conf["source_url"], allowed_networks=settings.allowed_source_networks)
    starts = window_start(conf, settings)
    if source_access.route(conf) == source_access.WP_ADMIN:
        root, wp_content, prefix, facts = _facts_from_companion(conf, starts)
    else:
        root, wp_content, prefix, facts = _facts_over_sftp(conf)

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
        "wp_version": probe.get("wp_version") or facts.get("wp_version"),
        "window_start": starts,
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
    progress = progress_logger("export_database")
    if source_access.route(conf) == source_access.WP_ADMIN:
        with companion_access.companion(conf) as (client, pre):
            manifest = export_database_via_companion(client, out, preflight=pre,
                                                     table_prefix=source["table_prefix"], progress=progress)
    else:
        with source_access.source_database(conf) as conn:
            manifest = db_export.export_database(conn, out, table_prefix=source["table_prefix"],
                                                 progress=progress)
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
    progress = progress_logger("export_files")
    sftp_conn_id = conf["source_access"].get("sftp_conn_id")
    if sftp_conn_id:  # every route that has SFTP uses it (wp_admin: when the conf names it)
        with SftpClientFactory(sftp_conn_id) as connect:
            summary = files_export.export_files(connect, source["wp_content_dir"], out, progress=progress)
    else:
        with companion_access.companion(conf) as (client, pre):
            summary = export_files_via_companion(client, out, preflight=pre, progress=progress)
    # The exporter's summary is its own open dict; the contract names the keys others read.
    return cast(FilesExport, {"dir_uri": str(out), **summary, "peak_rss_mb": peak_rss_mb()})


def release_source(params: dict[str, Any]) -> SourceRelease:
    """Right after the exports: take off the source what the migration put there (the
    wp_admin route's companion plugin). Never fails the run; the report says what is left."""
    conf = _conf(params)
    route = source_access.route(conf)
    if route != source_access.WP_ADMIN:
        return {"route": route, "companion": "not_used", "removed": True}
    return companion_access.remove(conf)


def import_database(params: dict[str, Any], source: FullAccessSource, target: FullAccessTarget,
                    exported: DatabaseExport) -> DatabaseImport | DryRun:
    conf = _conf(params)
    if conf["dry_run"]:
        return {"dry_run": True}
    rewriter = UrlRewriter.for_migration(
        source["old_origins"], target["url"], old_path=source["wp_root"], new_path=target.get("wp_root"),
        rewrite_keys=bool(conf["options"].get("rewrite_serialized_keys")))
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
            "unparseable_rewritten": report.get("rewrite", {}).get("unparseable_rewritten"),
            "serialized_keys": report.get("rewrite", {}).get("serialized_keys"),
            "escaped_urls": report.get("rewrite", {}).get("escaped_urls"),
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


@contextlib.contextmanager
def _source_side(conf: dict[str, Any], source: FullAccessSource, exported: DatabaseExport,
                 target_conn: Any) -> Iterator[tuple[Any, str, str | None]]:
    """What verification compares the target with: the source database itself, or, on the
    wp_admin route (no database connection), a replica of its export loaded next to the
    target's tables and dropped afterwards. Yields (connection, table prefix, label)."""
    if source_access.route(conf) != source_access.WP_ADMIN:
        with source_access.source_database(conf) as src:
            yield src, source["table_prefix"], None
        return
    with source_replica(target_conn, ObjectStoragePath(exported["dir_uri"]),
                        source_prefix=source["table_prefix"]) as replica_prefix:
        yield target_conn, replica_prefix, "export artifacts (route wp_admin: no source database connection)"


def verify_migration(params: dict[str, Any], ti: RuntimeTaskInstanceProtocol, source: FullAccessSource,
                     target: FullAccessTarget, files: FilesExport, exported: DatabaseExport,
                     released: SourceRelease) -> ReportSummary:
    conf = _conf(params)
    if conf["dry_run"]:
        return _dry_run_report(conf, ti, source, released)
    wp_content = ObjectStoragePath(target["wp_content_uri"])
    with contextlib.closing(WordPressDatabaseHook(conf["target"]["db_conn_id"]).get_conn(
            unreachable_code=ErrorCode.IMPORT_FAILED)) as tgt:
        with _source_side(conf, source, exported, tgt) as (src, src_prefix, label):
            report = verify.verify_full_access(
                source_conn=src, target_conn=tgt,
                source_prefix=src_prefix, target_prefix=target["table_prefix"],
                old_origins=source["old_origins"], target_url=target["url"],
                files_manifest=iter_manifest(ObjectStoragePath(files["dir_uri"]) / MANIFEST_NAME),
                target_wp_content=wp_content,
                service_users=conf["target"].get("service_users", []), source_label=label,
                http_allowed_networks=Settings.from_env().allowed_source_networks)
        # Once a replica is dropped: the target's size counts its own tables only.
        stats = site_stats(tgt, target["table_prefix"], _local_path(target["wp_content_uri"]))
    report["migration_id"] = conf["migration_id"]
    report["stats"] = stats
    report["source_release"] = released
    summary = publish_report(conf, ti, report, stats)
    fail_on_losses(summary, len(report.get("losses", [])))
    return summary


def _dry_run_report(conf: dict[str, Any], ti: RuntimeTaskInstanceProtocol,
                    source: FullAccessSource, released: SourceRelease) -> ReportSummary:
    """A dry run writes nothing to the target: report what would move instead."""
    if source_access.route(conf) == source_access.WP_ADMIN:
        stats = export_stats(artifacts_dir(conf, "db"), source["table_prefix"])
    else:
        with source_access.source_database(conf) as conn:
            stats = site_stats(conn, source["table_prefix"])
    report = {"ok": True, "dry_run": True, "migration_id": conf["migration_id"], "source": source,
              "stats": stats, "losses": [], "source_release": released}
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
    released = _release_if_needed(conf, ti)
    failed = failed_work_tasks(ti, dag_run, WORK_TASKS)
    if failed:
        raise AirflowFailException(f"cleanup done; the migration did not complete (failed: {failed})")
    return {"dropped_staging_tables": dropped, XCOM_SOURCE_RELEASE: released}


def _release_if_needed(conf: dict[str, Any], ti: RuntimeTaskInstanceProtocol) -> SourceRelease | None:
    """The companion plugin comes off the source however the run ended, unless
    release_source already took it off. Pushed as XCom ``source_release``."""
    if source_access.route(conf) != source_access.WP_ADMIN:
        return None
    earlier = ti.xcom_pull(task_ids="release_source")
    released: SourceRelease = earlier if earlier and earlier.get("removed") else companion_access.remove(conf)
    ti.xcom_push(key=XCOM_SOURCE_RELEASE, value=released)
    return released
