"""The source's database and wp-config.php, for the routes that read them (``source_routes``
picks one by the conf's route):

- ``sftp_db``: the database over its own connection (``db_conn_id``), reached directly.
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
from collections.abc import Iterator
from dataclasses import replace

import MySQLdb
from airflow.sdk.log import mask_secret

from wpmigrate.core.conf_model import SourceAccess
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.source_endpoint import connection_destinations, destinations
from wpmigrate.full_access.db.ssh_tunnel import Destination, LocalAddress
from wpmigrate.full_access.wp_config import parse_db_host, parse_wp_config
from wpmigrate_airflow.hooks import SftpClientFactory, SourceSshHook, WordPressDatabaseHook

MAX_CONFIG_BYTES = 1 << 20


def read_wp_config(connect_sftp: SftpClientFactory, root: str) -> bytes:
    sftp = connect_sftp()
    try:
        with sftp.open(f"{root}/wp-config.php", "rb") as fh:
            return bytes(fh.read(MAX_CONFIG_BYTES))
    except OSError as err:
        raise MigrationError(ErrorCode.NOT_WORDPRESS,
                             f"no readable wp-config.php in {root} on the source host") from err


@contextlib.contextmanager
def direct_database(db_conn_id: str) -> Iterator[MySQLdb.Connection]:
    """Route sftp_db: a read-only session over the database's own connection."""
    conn = WordPressDatabaseHook(db_conn_id).get_conn(read_only=True)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def tunnelled_database(access: SourceAccess, *,
                       wp_config: bytes | None = None) -> Iterator[MySQLdb.Connection]:
    """Route ssh: a read-only session through a tunnel over the SSH login; ``wp_config``
    spares a second read of the file when the caller has it already."""
    assert access.sftp_conn_id is not None, "the ssh route has an SSH login (schema)"
    params, candidates = _ssh_route_database(access, wp_config)
    with _tunnel(access.sftp_conn_id, candidates) as local:
        conn = connect(local.apply(params))
        try:
            yield conn
        finally:
            conn.close()  # before the tunnel closes


def _ssh_route_database(access: SourceAccess,
                        wp_config: bytes | None) -> tuple[DbParams, list[Destination]]:
    if access.db_conn_id:
        named = replace(WordPressDatabaseHook(access.db_conn_id).params(), read_only=True)
        return named, connection_destinations(named)
    if wp_config is None:
        assert access.sftp_conn_id is not None
        with SftpClientFactory(access.sftp_conn_id) as connect_sftp:
            wp_config = read_wp_config(connect_sftp, access.root)
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
