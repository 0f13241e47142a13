"""The wall between tenants: a conf reaches only its own tenant's connections.

A connection a conf may name carries a marking in its extra (the secrets backend stores
the extra with the connection, so the marking travels with it):

    {"wpmigrate": {"tenant": "<tenant_id>", "role": "source" | "target"}}

- a ``source_access`` field accepts only a connection of the conf's tenant, role ``source``;
- a ``target`` field accepts only a connection of the conf's tenant, role ``target``, whose
  site is ``target.url``'s origin: an http connection's host is its site; a database
  connection names it in the marking (``"site": "https://..."``). The target's
  credentials so go to no other origin than the one the platform wrote down;
- the platform's companion key, and any connection without a marking (``airflow_db``,
  ``aws_default``, the platform's own), is never usable by a conf.

A violation is ``INVALID_CONF`` (permanent), raised before any source or target is
contacted; the message names the field and the connection id, never a secret.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection

from wpmigrate.core.conf_model import TARGET_ROLE, NamedConnection, RunConf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.web.url_guard import Origin, url_origin

MARK = "wpmigrate"


def _refused(named: NamedConnection, why: str) -> MigrationError:
    return MigrationError(ErrorCode.INVALID_CONF, f"{named.field}: connection {named.conn_id!r} {why}",
                          details={"field": named.field})


def _lookup(named: NamedConnection) -> Connection:
    try:
        return BaseHook.get_connection(named.conn_id)
    except Exception as err:  # AirflowNotFoundException and the secrets backends' own errors
        raise _refused(named, "is not defined") from err


def _marking(conn: Connection) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson
    except Exception:  # an extra that is not JSON carries no marking
        return {}
    mark = extra.get(MARK) if isinstance(extra, dict) else None
    return mark if isinstance(mark, dict) else {}


def _origin(url: object) -> Origin | None:
    if not isinstance(url, str) or "://" not in url:
        return None
    try:
        return url_origin(url)
    except MigrationError:
        return None


def connection_site(conn: Connection) -> Origin | None:
    """The origin (scheme, host, port) of the site a target connection belongs to: an http
    connection's host (a URL, as HttpHook takes it), else the marking's ``site``."""
    if conn.conn_type == "http" and (host := _origin(conn.host)):
        return host
    return _origin(_marking(conn).get("site"))


def check_connection(conf: RunConf, named: NamedConnection) -> Connection:
    """The connection ``named`` resolved, or ``INVALID_CONF`` when the conf may not use it."""
    if named.conn_id == Settings.from_env().companion_key_conn_id:
        raise _refused(named, "is the platform's companion key, which no conf may name")
    conn = _lookup(named)
    mark = _marking(conn)
    if mark.get("tenant") != conf.tenant_id or mark.get("role") != named.role:
        raise _refused(named, f"is not a {named.role} connection of tenant {conf.tenant_id!r}")
    if named.role == TARGET_ROLE:
        site = connection_site(conn)
        if site is None:
            raise _refused(named, "names no site (an http host, or 'site' in its wpmigrate marking)")
        if site != _origin(conf.target.url):
            raise _refused(named, "belongs to another site than target.url")
    return conn


def check_connections(conf: RunConf) -> None:
    """Every connection the conf names passes the wall (see the module docstring)."""
    for named in conf.named_connections():
        check_connection(conf, named)
