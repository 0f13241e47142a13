"""Connections to a WordPress database (source or target) with byte-exact values.

mysqlclient's defaults convert DATETIME/DECIMAL/... into Python objects, and turn
'0000-00-00 00:00:00' (common in WordPress) into None. We keep integers as int and
every other value as the raw bytes the server sent, so a round trip is lossless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import MySQLdb
from MySQLdb.constants import FIELD_TYPE
from MySQLdb.converters import conversions as _default_conversions

from wpmigrate.core.errors import ErrorCode, MigrationError

CONNECT_TIMEOUT_S = 10

# Server errors (ER_*) and client errors (CR_*) we classify.
ACCESS_DENIED = {1044, 1045, 1698}  # db access denied, user access denied, no password for socket auth
CANT_CONNECT = {2002, 2003, 2005, 2013}  # socket, TCP, unknown host, lost during handshake
CONNECTION_LOST = {2006, 2013, 2055, 1927, 4031}  # gone away, lost, lost (ssl), killed, idle timeout
UNKNOWN_DATABASE = 1049

_INT_TYPES = (FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG,
              FIELD_TYPE.INT24, FIELD_TYPE.YEAR)


def _conversions() -> dict[Any, Any]:
    # Keep the Python->SQL encoders (keys are Python types) and decode only integers;
    # field types missing from the map come back as the server's raw bytes.
    conv: dict[Any, Any] = {k: v for k, v in _default_conversions.items() if not isinstance(k, int)}
    for t in _INT_TYPES:
        conv[t] = int
    return conv


@dataclass(frozen=True)
class DbParams:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    unix_socket: str | None = None
    # Make every transaction of the session read-only (see connect()).
    read_only: bool = False


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number of a MySQLdb exception, if any."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def connect(
    params: DbParams,
    *,
    unreachable_code: ErrorCode = ErrorCode.SOURCE_UNREACHABLE,
    local_infile: bool = False,
    read_timeout: int | None = None,
) -> MySQLdb.Connection:
    """Open a connection: utf8mb4, bytes for every non-integer value, autocommit off.

    ``local_infile`` lets the import send one oversized row with LOAD DATA LOCAL; only
    enable it towards a trusted server (a malicious server could ask for any local file).

    ``params.read_only`` runs ``SET SESSION TRANSACTION READ ONLY`` before anything else,
    for credentials that could write (the ``ssh`` route reads them from wp-config): the
    server then refuses every write with error 1792, whatever the grants.
    """
    kwargs: dict[str, Any] = {
        "user": params.user,
        "password": params.password,
        "database": params.database,
        "charset": "utf8mb4",
        "use_unicode": False,
        "conv": _conversions(),
        "connect_timeout": CONNECT_TIMEOUT_S,
        "autocommit": False,
        "local_infile": local_infile,
    }
    if read_timeout:
        kwargs["read_timeout"] = read_timeout
    if params.unix_socket:
        kwargs["unix_socket"] = params.unix_socket
    else:
        kwargs["host"] = params.host
        kwargs["port"] = int(params.port)
    where = {"host": params.host, "port": params.port, "database": params.database}
    try:
        conn = MySQLdb.connect(**kwargs)
    except MySQLdb.Error as exc:
        code = error_code(exc)
        if code in ACCESS_DENIED:
            raise MigrationError(
                ErrorCode.INVALID_CREDENTIALS,
                f"database access denied for user {params.user!r} (MySQL error {code})",
                permanent=True, details={**where, "mysql_error": code},
            ) from exc
        if code in CANT_CONNECT:
            raise MigrationError(
                unreachable_code, f"cannot connect to the database server: {exc}",
                permanent=True, details={**where, "mysql_error": code},
            ) from exc
        if code == UNKNOWN_DATABASE:
            raise MigrationError(
                unreachable_code, f"database {params.database!r} does not exist",
                permanent=True, details={**where, "mysql_error": code},
            ) from exc
        # Anything else at connect time (too many connections, server shutting down...)
        # may well pass on a retry.
        raise MigrationError(
            unreachable_code, f"database connection failed: {exc}",
            permanent=False, details={**where, "mysql_error": code},
        ) from exc
    if params.read_only:
        _make_read_only(conn, unreachable_code, where)
    return conn


def _make_read_only(conn: MySQLdb.Connection, unreachable_code: ErrorCode, where: dict[str, Any]) -> None:
    # Checked, not assumed: a session that silently stayed writable must not be used.
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.execute("SELECT @@session.tx_read_only")
        row = cur.fetchone()
        cur.close()
    except MySQLdb.Error as exc:
        conn.close()
        raise MigrationError(
            unreachable_code, f"could not make the database session read-only: {exc}",
            permanent=False, details={**where, "mysql_error": error_code(exc)},
        ) from exc
    if not row or int(row[0]) != 1:
        conn.close()
        raise MigrationError(unreachable_code, "the database session did not become read-only",
                             permanent=True, details=where)


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, MySQLdb.Error) and error_code(exc) in CONNECTION_LOST
