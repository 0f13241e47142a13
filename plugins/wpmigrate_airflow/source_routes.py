"""One object per source route, chosen in one place (``route_for``) from the conf's
``source_access.route``; the tasks call the ``SourceRoute`` protocol and never ask
which route they are on.

- ``sftp_db``: files over SFTP, the database over its own connection.
- ``ssh``: files over SFTP, the database through a tunnel over the same login.
- ``wp_admin``: the companion plugin, installed through wp-admin (or by hand), exports the
  database and, unless the conf names an SFTP login, the files; it comes off the source
  right after the exports, and in the cleanup however the run ended.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from airflow.sdk import ObjectStoragePath

from wpmigrate.core.conf_model import SFTP_DB, SSH, WP_ADMIN, FullAccessConf, Route
from wpmigrate.core.contracts import DatabaseExport, MigrationStats, SourceRelease
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.db_export import export_database_via_companion
from wpmigrate.full_access.companion.files_export import export_files_via_companion
from wpmigrate.full_access.db import exporter as db_export
from wpmigrate.full_access.files import exporter as files_export
from wpmigrate.full_access.stats import export_stats, site_stats
from wpmigrate.full_access.verify.export_replica import source_replica
from wpmigrate.full_access.wp_config import parse_table_prefix
from wpmigrate.full_access.wp_site import site_facts
from wpmigrate_airflow import companion_access, source_access
from wpmigrate_airflow.hooks import SftpClientFactory

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]
# A run whose window opens later than this removes the companion plugin until then.
PLUGIN_WAIT_LIMIT = timedelta(minutes=10)


class SourceFacts(NamedTuple):
    wp_root: str
    wp_content_dir: str
    table_prefix: str
    siteurl: str
    home: str
    db_size_bytes: int
    wp_version: str | None


class SourceSide(NamedTuple):
    """What verification compares the target with: a connection, its table prefix, and a
    label for the report when it is not the source database itself."""

    conn: Any
    table_prefix: str
    label: str | None


class SourceRoute(Protocol):
    name: Route

    def facts(self, window_start: str) -> SourceFacts: ...
    def export_database(self, out: ObjectStoragePath, *, table_prefix: str,
                        progress: Progress) -> dict[str, Any]: ...
    def export_files(self, out: ObjectStoragePath, *, wp_content_dir: str,
                     progress: Progress) -> dict[str, Any]: ...
    def source_side(self, exported: DatabaseExport, target_conn: Any,
                    table_prefix: str) -> contextlib.AbstractContextManager[SourceSide]: ...
    def dry_run_stats(self, db_dir: ObjectStoragePath, table_prefix: str) -> MigrationStats: ...
    def release(self) -> SourceRelease: ...
    def release_left_over(self, earlier: SourceRelease | None) -> SourceRelease | None: ...


def _export_files_over_sftp(sftp_conn_id: str, out: ObjectStoragePath, wp_content_dir: str,
                            progress: Progress) -> dict[str, Any]:
    with SftpClientFactory(sftp_conn_id) as connect:
        return dict(files_export.export_files(connect, wp_content_dir, out, progress=progress))


def _require_wp_content(connect: SftpClientFactory, wp_content: str) -> None:
    try:
        connect().stat(wp_content)
    except OSError as err:
        raise MigrationError(ErrorCode.NOT_WORDPRESS, f"no wp-content at {wp_content}") from err


class SftpDbRoute:
    """Files over SFTP, the database over its own (read-only) connection."""

    name: Route = SFTP_DB

    def __init__(self, conf: FullAccessConf) -> None:
        self.conf = conf
        self.access = conf.source_access
        assert self.access.sftp_conn_id is not None, "the schema requires the SFTP login on this route"
        self.sftp_conn_id: str = self.access.sftp_conn_id

    def database(self, *, wp_config: bytes | None = None) -> contextlib.AbstractContextManager[Any]:
        assert self.access.db_conn_id is not None, "the schema requires db_conn_id on this route"
        return source_access.direct_database(self.access.db_conn_id)

    def facts(self, window_start: str) -> SourceFacts:
        """wp-config.php over SFTP, the facts from the database."""
        root = self.access.root
        wp_content = self.access.wp_content_dir or f"{root}/wp-content"
        with SftpClientFactory(self.sftp_conn_id) as connect:
            config = source_access.read_wp_config(connect, root)
            _require_wp_content(connect, wp_content)
        prefix = self.access.table_prefix or parse_table_prefix(config)
        with self.database(wp_config=config) as conn:
            facts = site_facts(conn, prefix)
        return SourceFacts(root, wp_content, prefix, facts["siteurl"], facts["home"],
                           int(facts["db_size_bytes"]), facts.get("wp_version"))

    def export_database(self, out: ObjectStoragePath, *, table_prefix: str,
                        progress: Progress) -> dict[str, Any]:
        with self.database() as conn:
            return dict(db_export.export_database(conn, out, table_prefix=table_prefix, progress=progress))

    def export_files(self, out: ObjectStoragePath, *, wp_content_dir: str,
                     progress: Progress) -> dict[str, Any]:
        return _export_files_over_sftp(self.sftp_conn_id, out, wp_content_dir, progress)

    @contextlib.contextmanager
    def source_side(self, exported: DatabaseExport, target_conn: Any,
                    table_prefix: str) -> Iterator[SourceSide]:
        with self.database() as conn:
            yield SourceSide(conn, table_prefix, None)

    def dry_run_stats(self, db_dir: ObjectStoragePath, table_prefix: str) -> MigrationStats:
        with self.database() as conn:
            return site_stats(conn, table_prefix)

    def release(self) -> SourceRelease:
        return {"route": self.name, "companion": "not_used", "removed": True}

    def release_left_over(self, earlier: SourceRelease | None) -> SourceRelease | None:
        return None  # nothing of ours is on the source


class SshRoute(SftpDbRoute):
    """As sftp_db, but the database is reached through a tunnel over the SSH login."""

    name: Route = SSH

    def database(self, *, wp_config: bytes | None = None) -> contextlib.AbstractContextManager[Any]:
        return source_access.tunnelled_database(self.access, wp_config=wp_config)


class WpAdminRoute:
    """The companion plugin: installed, asked, removed."""

    name: Route = WP_ADMIN

    def __init__(self, conf: FullAccessConf) -> None:
        self.conf = conf
        self.access = conf.source_access
        self.manual = companion_access.is_manual(conf)

    def facts(self, window_start: str) -> SourceFacts:
        """Install the plugin (a login that cannot do it fails here, fast) and take the facts
        from its preflight; removed again when the run waits for a later window."""
        if not self.manual:
            companion_access.install(self.conf)
        try:
            with companion_access.companion(self.conf, reinstall=False) as (_client, pre):
                pass
            root = str(pre["abspath"]).rstrip("/") or "/"
            wp_content = self.access.wp_content_dir or (
                f"{self.access.root}/wp-content" if self.access.wp_root else str(pre["wp_content_dir"]))
            if self.access.sftp_conn_id:
                with SftpClientFactory(self.access.sftp_conn_id) as connect:
                    _require_wp_content(connect, wp_content)
        except BaseException:
            if not self.manual:
                companion_access.remove(self.conf)
            raise
        if not self.manual and datetime.fromisoformat(window_start) > datetime.now(UTC) + PLUGIN_WAIT_LIMIT:
            log.info("the run waits for its window (%s): the plugin comes off the source until then",
                     window_start)
            companion_access.remove(self.conf)
        log.info("source preflight: WordPress %s, PHP %s, max_execution_time %s s, memory_limit %s, "
                 "%d tables, wp-content %s", pre.get("wp_version"), pre.get("php_version"),
                 pre.get("max_execution_time"), pre.get("memory_limit"), len(pre["tables"]),
                 pre.get("wp_content"))
        return SourceFacts(root, wp_content, self.access.table_prefix or str(pre["table_prefix"]),
                           str(pre["siteurl"]), str(pre["home"]),
                           sum(int(t.get("data_length") or 0) for t in pre["tables"]), pre.get("wp_version"))

    def export_database(self, out: ObjectStoragePath, *, table_prefix: str,
                        progress: Progress) -> dict[str, Any]:
        with companion_access.companion(self.conf) as (client, pre):
            return dict(export_database_via_companion(client, out, preflight=pre, table_prefix=table_prefix,
                                                      progress=progress))

    def export_files(self, out: ObjectStoragePath, *, wp_content_dir: str,
                     progress: Progress) -> dict[str, Any]:
        if self.access.sftp_conn_id:  # the conf names an SFTP login besides the administrator's
            return _export_files_over_sftp(self.access.sftp_conn_id, out, wp_content_dir, progress)
        with companion_access.companion(self.conf) as (client, pre):
            return dict(export_files_via_companion(client, out, preflight=pre, progress=progress))

    @contextlib.contextmanager
    def source_side(self, exported: DatabaseExport, target_conn: Any,
                    table_prefix: str) -> Iterator[SourceSide]:
        """No database connection on this route: a replica of the export, loaded next to the
        target's tables and dropped afterwards."""
        with source_replica(target_conn, ObjectStoragePath(exported["dir_uri"]),
                            source_prefix=table_prefix) as replica_prefix:
            yield SourceSide(target_conn, replica_prefix,
                             "export artifacts (route wp_admin: no source database connection)")

    def dry_run_stats(self, db_dir: ObjectStoragePath, table_prefix: str) -> MigrationStats:
        return export_stats(db_dir, table_prefix)

    def release(self) -> SourceRelease:
        return companion_access.remove(self.conf)

    def release_left_over(self, earlier: SourceRelease | None) -> SourceRelease | None:
        """However the run ended: off the source, unless ``release_source`` took it off."""
        return earlier if earlier and earlier.get("removed") else companion_access.remove(self.conf)


_ROUTES: dict[Route, Callable[[FullAccessConf], SourceRoute]] = {
    SFTP_DB: SftpDbRoute, SSH: SshRoute, WP_ADMIN: WpAdminRoute}


def route_for(conf: FullAccessConf) -> SourceRoute:
    """The one place that reads ``source_access.route``."""
    return _ROUTES[conf.source_access.route](conf)
