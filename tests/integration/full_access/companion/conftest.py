"""The companion plugin installed on the sandbox's source for these tests only.

Installed the way the sandbox allows (we own it): the built zip unpacked into
``wp-content/plugins`` and ``active_plugins`` set by SQL; the production install path (the
wp-admin upload form) is ``companion.wp_admin``'s. Teardown deletes the folder and puts
``active_plugins`` back byte for byte, so other tests see the source unchanged."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.companion_site import (
    MIGRATION_ID,
    InstalledCompanion,
    php_serialize_with,
    source_sql,
    sql_hex,
)
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME, PLUGIN_DIR, build_zip, new_secret
from wpsandbox.services import PrivateMariaDB
from wpsandbox.state import SandboxState


@pytest.fixture(scope="module")
def companion(sandbox: SandboxState) -> Iterator[InstalledCompanion]:
    sb = sandbox
    p = sb.source.table_prefix
    before = source_sql(sb, f"SELECT HEX(option_value) FROM {p}options WHERE option_name = 'active_plugins'")
    active = bytes.fromhex(before.strip()).decode("utf-8")
    plugins = Path(sb.source.wp_content) / "plugins"
    folder = plugins / PLUGIN_DIR
    shutil.rmtree(folder, ignore_errors=True)
    secret = new_secret()
    zipfile.ZipFile(io.BytesIO(build_zip(secret, migration_id=MIGRATION_ID))).extractall(plugins)
    try:
        with_plugin = php_serialize_with(active, PLUGIN_BASENAME)
        source_sql(sb, f"UPDATE {p}options SET option_value = {sql_hex(with_plugin)} "
                       "WHERE option_name = 'active_plugins'")
        yield InstalledCompanion(sb, secret, folder, PrivateMariaDB(Path(sb.home) / "db", port=sb.db.port,
                                                                    pid=sb.db.pid), active.encode())
    finally:
        source_sql(sb, f"UPDATE {p}options SET option_value = {sql_hex(active)} "
                       "WHERE option_name = 'active_plugins'")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # The sandbox is on 127.0.0.1: a plain client (the project's guard refuses loopback).
    with httpx.Client(timeout=60, trust_env=False) as client:
        yield client
