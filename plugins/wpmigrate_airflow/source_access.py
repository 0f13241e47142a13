"""The source's database and wp-config.php, by the conf's ``source_access.route``.

- ``sftp_db``: the database over its own connection (``db_conn_id``), reached directly.
- ``wp_admin``: a WordPress administrator's login alone; the database (and wp-content,
  unless the conf names an SFTP connection) through the companion plugin
  (``companion_access``), so nothing here is used for it.
- ``ssh``: the SSH login alone. The database settings come from wp-config.php, read over
  SFTP and parsed (never executed), or from ``db_conn_id`` when the conf names one; the
  database is reached through a tunnel over the same login, to the address the source
  machine itself uses. Nothing read from wp-config leaves the task: it is re-read by
  every task that needs it, masked in logs, and never returned (XCom) or written.

Every source session is read-only on the server (``SET SESSION TRANSACTION READ ONLY``):
wp-config's user can write, and a read-only migration user costs nothing to protect too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import MySQLdb
from airflow.sdk.log import mask_secret

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.source_endpoint import connection_destinations, destinations
from wpmigrate.full_access.db.ssh_tunnel import Destination, LocalAddress
from wpmigrate.full_access.wp_config import parse_db_host, parse_wp_config
from wpmigrate_airflow.hooks import SftpClientFactory, SourceSshHook, WordPressDatabaseHook

SFTP_DB, SSH, WP_ADMIN = "sftp_db", "ssh", "wp_admin"
MAX_CONFIG_BYTES = 1 << 20


def route(conf: Mapping[str, Any]) -> str:
    return str(conf["source_access"].get("route") or SFTP_DB)


def wp_root(conf: Mapping[str, Any]) -> str:
    return conf["source_access"]["wp_root"].rstrip("/") or "/"


def read_wp_config(connect_sftp: SftpClientFactory, root: str) -> bytes:
    sftp = connect_sftp()
    try:
        with sftp.open(f"{root}/wp-config.php", "rb") as fh:
            return bytes(fh.read(MAX_CONFIG_BYTES))
    except OSError as err:
        raise MigrationError(ErrorCode.NOT_WORDPRESS,
                             f"no readable wp-config.php in {root} on the source host") from err


@contextlib.contextmanager
def source_database(conf: Mapping[str, Any], *,
                    wp_config: bytes | None = None) -> Iterator[MySQLdb.Connection]:
    """A read-only session on the source database; ``wp_config`` spares a second read of
    the file when the caller has it already (the ssh route without ``db_conn_id``)."""
    access = conf["source_access"]
    with contextlib.ExitStack() as stack:
        if route(conf) == SFTP_DB:
            conn = WordPressDatabaseHook(access["db_conn_id"]).get_conn(read_only=True)
        else:
            params, candidates = _ssh_route_database(conf, wp_config)
            local = stack.enter_context(_tunnel(access["sftp_conn_id"], candidates))
            conn = connect(local.apply(params))
        stack.callback(conn.close)  # before the tunnel closes
        yield conn


def _ssh_route_database(conf: Mapping[str, Any],
                        wp_config: bytes | None) -> tuple[DbParams, list[Destination]]:
    access = conf["source_access"]
    if access.get("db_conn_id"):
        named = replace(WordPressDatabaseHook(access["db_conn_id"]).params(), read_only=True)
        return named, connection_destinations(named)
    if wp_config is None:
        with SftpClientFactory(access["sftp_conn_id"]) as connect_sftp:
            wp_config = read_wp_config(connect_sftp, wp_root(conf))
    settings = parse_wp_config(wp_config)
    if settings.db_password:
        mask_secret(settings.db_password)
    params = DbParams(host="localhost", port=0, user=settings.db_user, password=settings.db_password,
                      database=settings.db_name, read_only=True)
    return params, destinations(parse_db_host(settings.db_host))


@contextlib.contextmanager
def _tunnel(ssh_conn_id: str, candidates: list[Destination]) -> Iterator[LocalAddress]:
    """The first candidate the source machine answers on (``localhost`` alone means one of
    the usual socket paths); a refusal to forward at all is final at once."""
    hook = SourceSshHook(ssh_conn_id)
    with contextlib.ExitStack() as stack:
        refused: MigrationError | None = None
        for destination in candidates:
            try:
                local = stack.enter_context(hook.db_tunnel(destination))
                break
            except MigrationError as err:
                if err.code != ErrorCode.SOURCE_UNREACHABLE or (err.permanent and len(candidates) == 1):
                    raise
                refused = err
        else:
            assert refused is not None
            tried = f"{len(candidates)} places" if len(candidates) > 1 else "its address"
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"the source's database does not answer at {tried} through the SSH "
                                 f"login: {refused.message}", permanent=refused.permanent) from refused
        yield local
