"""The companion plugin's zip, built per migration with that migration's secret.

Layout (what WordPress's upload form unpacks into ``wp-content/plugins``)::

    wpmigrate-companion/wpmigrate-companion.php   the plugin (package data, one file)
    wpmigrate-companion/secret.php                <?php return ['secret' => ..., ...];

The secret lives in a file inside the plugin's folder, never in the database, so
deleting the plugin deletes it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import time
import zipfile
from importlib import resources

from wpmigrate.core.conf import field_pattern

PLUGIN_DIR = "wpmigrate-companion"
PLUGIN_FILE = "wpmigrate-companion.php"
# What WordPress calls the plugin (activate, deactivate, delete).
PLUGIN_BASENAME = f"{PLUGIN_DIR}/{PLUGIN_FILE}"
DEFAULT_IDLE_SECONDS = 3600

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def is_secret(value: str) -> bool:
    """A companion secret's form: 64 lowercase hex characters (what ``new_secret`` makes)."""
    return bool(_HEX64.match(value))


def new_secret() -> str:
    """A fresh per-migration secret: 64 lowercase hex characters (256 bits)."""
    return secrets.token_hex(32)


def derive_secret(platform_key: str, migration_id: str) -> str:
    """The migration's secret, derived from the platform's companion key: every task and
    retry of one migration recomputes it, so it never travels through XCom or artifacts,
    and one migration's secret tells nothing about another's or about the key."""
    if len(platform_key) < 32:
        raise ValueError("the platform's companion key must have at least 32 characters")
    message = f"wpmigrate-companion/v1/{migration_id}".encode()
    return hmac.new(platform_key.encode(), message, hashlib.sha256).hexdigest()


def plugin_source() -> bytes:
    """The plugin's PHP source as shipped in this package."""
    return resources.files(__package__).joinpath("plugin", PLUGIN_FILE).read_bytes()


def secret_php(secret: str, *, idle_seconds: int, migration_id: str) -> bytes:
    if not is_secret(secret):
        raise ValueError("the secret must be 64 lowercase hex characters")
    if not field_pattern("migration_id").search(migration_id):  # the conf's own rule: a UUID
        raise ValueError("the migration id must be a UUID (the conf's migration_id)")
    if idle_seconds < 1:
        raise ValueError("idle_seconds must be positive")
    # Only checked characters go into the PHP literal: nothing to escape.
    return (f"<?php return ['secret' => '{secret}', 'idle_seconds' => {int(idle_seconds)}, "
            f"'migration_id' => '{migration_id}'];\n").encode()


def build_zip(secret: str, *, idle_seconds: int = DEFAULT_IDLE_SECONDS, migration_id: str) -> bytes:
    """The installable zip for one migration (see the module docstring)."""
    files = {
        f"{PLUGIN_DIR}/{PLUGIN_FILE}": plugin_source(),
        f"{PLUGIN_DIR}/secret.php": secret_php(secret, idle_seconds=idle_seconds,
                                               migration_id=migration_id),
    }
    now = time.localtime()[:6]  # the plugin's idle clock starts at its files' mtime
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        dir_info = zipfile.ZipInfo(f"{PLUGIN_DIR}/", date_time=now)
        dir_info.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(dir_info, b"")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    return buf.getvalue()
