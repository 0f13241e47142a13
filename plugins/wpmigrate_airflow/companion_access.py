"""The ``wp_admin`` route from the DAG's side: the companion plugin installed through
wp-admin, talked to with the migration's secret, and removed.

- ``validate_source`` installs it (log in, upload with overwrite, activate) and reads its
  preflight: the route's facts (table prefix, siteurl, home, paths, versions, limits).
  A run that will wait for its window removes it again at once; the export installs it anew.
- The export tasks reach it through ``companion``, which installs it again when it no
  longer answers (idle past its limit, removed by an earlier cleanup of a cleared run,
  replaced) and a login is there to do it.
- ``release_source`` (right after the exports) and the cleanup teardown (every other way a
  run ends) remove it: deactivate (the plugin deletes its secret then), delete, log out.
  A removal that fails does not fail the migration: it is reported with how to remove the
  plugin by hand, and the plugin stops answering once idle anyway.
- Manual install (``companion_conn_id``, never with ``wp_conn_id``): nothing is logged in
  to; the plugin is used as installed, and the operator removes it.

The secret is derived from the platform's companion key (``CompanionSecretHook``) in every
task that needs it, or, for a manual install only, read from the tenant's connection; it is
masked in logs and never returned. The zip this module uploads always carries a derived
secret: no connection's password ever leaves for a source.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from wpmigrate.core.conf_model import WP_ADMIN, FullAccessConf
from wpmigrate.core.contracts import SourceRelease
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.full_access.companion.client import CompanionClient, CompanionUnavailable
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME, PLUGIN_DIR, build_zip
from wpmigrate.full_access.companion.wp_admin import WpAdminSession
from wpmigrate.web.url_guard import guarded_client
from wpmigrate_airflow.hooks import CompanionSecretHook, WordPressAdminHook

log = logging.getLogger(__name__)

# The plugin answers for this long after its last request (a run's tasks follow each
# other within minutes; an export retried later installs it again).
IDLE_SECONDS = 3600
_REMOVE_ATTEMPTS = 3
HOW_TO_REMOVE = (f"In the source's wp-admin, Plugins: deactivate and delete 'wpmigrate companion' "
                 f"(or delete the folder wp-content/plugins/{PLUGIN_DIR} over FTP/SFTP). Until then "
                 "it answers nothing: deactivation deleted its secret, and it stops answering "
                 f"{IDLE_SECONDS // 60} minutes after its last use.")
HOW_TO_REMOVE_MANUAL = (f"The companion plugin was installed by hand: remove it the same way (wp-admin, "
                        f"Plugins: deactivate and delete 'wpmigrate companion', or delete "
                        f"wp-content/plugins/{PLUGIN_DIR}).")


def is_manual(conf: FullAccessConf) -> bool:
    """No login to install or remove with: the plugin was installed by hand."""
    return not conf.source_access.wp_conn_id


def _derived_secret(conf: FullAccessConf) -> str:
    key_conn = Settings.from_env().companion_key_conn_id
    return CompanionSecretHook(key_conn, derive_for=conf.migration_id).get_secret()


def secret(conf: FullAccessConf) -> str:
    """The secret the plugin on this migration's source signs with."""
    if is_manual(conf):
        assert conf.source_access.companion_conn_id is not None, "a manual install names it (schema)"
        return CompanionSecretHook(conf.source_access.companion_conn_id).get_secret()
    return _derived_secret(conf)


@contextlib.contextmanager
def _source_http() -> Iterator[httpx.Client]:
    """Every request through the SSRF guard, as the source probe's; a chunk may take a
    host's whole time limit, so reads wait a minute."""
    settings = Settings.from_env()
    with guarded_client(settings.allowed_source_networks,
                        timeout=httpx.Timeout(60.0, connect=15.0)) as client:
        yield client


@contextlib.contextmanager
def admin_session(conf: FullAccessConf) -> Iterator[WpAdminSession]:
    """A logged-in wp-admin session, logged out on exit (its session token is removed)."""
    assert conf.source_access.wp_conn_id is not None, "only a conf with a login installs or removes"
    user, password = WordPressAdminHook(conf.source_access.wp_conn_id).credentials()
    with _source_http() as http:
        session = WpAdminSession(http, conf.source_url)
        session.login(user, password)
        try:
            yield session
        finally:
            with contextlib.suppress(MigrationError):
                session.logout()


def install(conf: FullAccessConf) -> None:
    """Upload this migration's zip (replacing any earlier copy) and activate it. The zip's
    secret is always the derived one, whatever else the conf names."""
    zip_bytes = build_zip(_derived_secret(conf), idle_seconds=IDLE_SECONDS, migration_id=conf.migration_id)
    with admin_session(conf) as session:
        session.require_admin()
        session.upload_plugin(zip_bytes, overwrite=True)
        try:
            session.activate(PLUGIN_BASENAME)
        except MigrationError:
            with contextlib.suppress(MigrationError):
                session.delete(PLUGIN_BASENAME)  # not left behind, inactive, by a failed run
            raise
    log.info("companion plugin installed and active on the source")


def _not_answering(err: MigrationError) -> bool:
    """The plugin is absent, inactive, expired or holds another secret (it then answers a
    signed request with the site's normal page): a new install helps."""
    return err.details.get("reason") in ("not_answering", "expired")


def _preflight(client: CompanionClient) -> dict[str, Any]:
    try:
        return client.preflight()
    except CompanionUnavailable as exc:
        raise MigrationError(ErrorCode.SOURCE_UNREACHABLE, f"the companion plugin's preflight failed: {exc}",
                             permanent=False) from exc


@contextlib.contextmanager
def companion(conf: FullAccessConf, *,
              reinstall: bool = True) -> Iterator[tuple[CompanionClient, dict[str, Any]]]:
    """The plugin's client and its preflight; installed again first when it does not answer
    and the conf has a login (``reinstall``)."""
    with _source_http() as http:
        client = CompanionClient(http, conf.source_url, secret(conf))
        try:
            pre = _preflight(client)
        except MigrationError as err:
            if not reinstall or is_manual(conf) or not _not_answering(err):
                raise
            log.warning("the companion plugin does not answer (%s): installing it again", err.message)
            try:
                install(conf)
            except MigrationError as failed:
                # The other export task may have installed it at the same moment (both
                # found it gone after a wait for the window): use that install if it answers.
                if failed.code == ErrorCode.INVALID_CREDENTIALS:
                    raise
                log.warning("installing again failed (%s); asking the plugin once more", failed.message)
                time.sleep(2.0)
            pre = _preflight(client)
        yield client, pre


def remove(conf: FullAccessConf) -> SourceRelease:
    """Deactivate and delete the plugin; never raises. The result says what happened and,
    when the plugin may still be there, what the operator should do."""
    if is_manual(conf):
        return {"route": WP_ADMIN, "companion": "manual", "removed": False,
                "action_needed": HOW_TO_REMOVE_MANUAL}
    error = ""
    for attempt in range(1, _REMOVE_ATTEMPTS + 1):
        try:
            with admin_session(conf) as session:
                present = session.is_installed(PLUGIN_BASENAME)
                if present:
                    session.delete(PLUGIN_BASENAME)  # deactivates first
            log.info("companion plugin %s", "removed from the source" if present else "not on the source")
            return {"route": WP_ADMIN, "companion": "removed" if present else "absent", "removed": True}
        except MigrationError as err:
            error = f"{err.code}: {err.message}"
            if err.permanent or attempt == _REMOVE_ATTEMPTS:
                break
            time.sleep(2.0 * attempt)
    log.error("could not remove the companion plugin from the source (%s). %s", error, HOW_TO_REMOVE)
    return {"route": WP_ADMIN, "companion": "left_installed", "removed": False, "error": error,
            "action_needed": HOW_TO_REMOVE}
