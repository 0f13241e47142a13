"""The wp_admin route's sandbox source (build.up_admin_source) as the e2e tests see it: its
database, an administrator's first visit, and a before/after snapshot of everything a
migration must leave as it was."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.support import wordpress_checks as wc
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME
from wpmigrate.full_access.companion.wp_admin import WpAdminSession
from wpmigrate.full_access.db.connect import DbParams, connect
from wpsandbox import state as sandbox_state

# What WordPress writes itself on an admin login, an upload, an activation and a removal.
WORDPRESS_OPTIONS = {"recently_activated", "cron"}
UNCHANGED = {"checksums": set(), "options": set(), "usermeta": set(), "files_changed": set(),
             "files_gone": set(), "files_new": set(), "dirs_new": set()}


def source_db(sb: sandbox_state.SandboxState) -> Any:
    assert sb.admin_source is not None
    conn = connect(DbParams(host=sb.db.host, port=sb.db.port, user="root", password="",
                            database=sb.admin_source.db_name, unix_socket=sb.db.socket))
    conn.autocommit(True)
    return conn


def warm_up(sb: sandbox_state.SandboxState) -> None:
    """An administrator's first visit to the admin source (see ``warm_up_site``)."""
    assert sb.admin_source is not None
    warm_up_site(sb.admin_source.url, sb.admin_source.admin_user, sb.admin_source.admin_password)


def warm_up_site(url: str, user: str, password: str) -> None:
    """An administrator's first visit (WordPress schedules its own cron events then), so a
    snapshot compares what a migration leaves, not what any first login does."""
    with httpx.Client(timeout=60) as http:
        http.get(url + "/")
        admin = WpAdminSession(http, url)
        admin.login(user, password)
        admin.plugins()
        admin.logout()


def snapshot(sb: sandbox_state.SandboxState) -> dict[str, Any]:
    """Every table's checksum (options and usermeta row by row), every file's sha256, every folder."""
    assert sb.admin_source is not None
    prefix = sb.admin_source.table_prefix
    conn = source_db(sb)
    try:
        tables = [_text(t) for (t,) in wc.rows(conn, "SHOW TABLES") if _text(t).startswith(prefix)]
        checksums = {t: wc.rows(conn, f"CHECKSUM TABLE `{t}` EXTENDED")[0][1] for t in tables
                     if t not in (f"{prefix}options", f"{prefix}usermeta")}
        options = {_text(name): _bytes(value) for name, value in wc.rows(
            conn, f"SELECT option_name, option_value FROM {prefix}options "
                  "WHERE option_name NOT LIKE '%%\\_transient\\_%%'")}
        usermeta = {(uid, _text(key)): _bytes(value) for uid, key, value in wc.rows(
            conn, f"SELECT user_id, meta_key, meta_value FROM {prefix}usermeta")}
    finally:
        conn.close()
    content = Path(sb.admin_source.wp_content)
    return {"checksums": checksums, "options": options, "usermeta": usermeta,
            "files": wc.sha256_tree(content),
            "dirs": {str(p.relative_to(content)) for p in content.rglob("*") if p.is_dir()}}


def source_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What differs, with WordPress's own traces taken out after checking they are only those:
    ``recently_activated`` names the companion; ``cron`` gained upgrader clean-up events only
    (compared without them); the upgrader's scratch folder ``upgrade/`` emptied; an empty
    ``uploads/<year>/<month>`` folder the upload handler creates; transients (not compared)."""
    changed_options = {n for n in before["options"].keys() | after["options"].keys()
                       if before["options"].get(n) != after["options"].get(n)}
    if "recently_activated" in changed_options:
        recent = after["options"]["recently_activated"]
        assert PLUGIN_BASENAME.encode() in recent or recent == b"a:0:{}", recent
    if "cron" in changed_options:
        assert _same_cron_but_upload_cleanups(before["options"]["cron"], after["options"]["cron"])
    files_gone = {p for p in before["files"].keys() - after["files"].keys() if not p.startswith("upgrade/")}
    new_dirs = after["dirs"] - before["dirs"]
    return {
        "checksums": {t for t in before["checksums"] if before["checksums"][t] != after["checksums"].get(t)},
        "options": changed_options - WORDPRESS_OPTIONS,
        "usermeta": {k for k in before["usermeta"].keys() | after["usermeta"].keys()
                     if before["usermeta"].get(k) != after["usermeta"].get(k)},
        "files_changed": {p for p in before["files"].keys() & after["files"].keys()
                          if before["files"][p] != after["files"][p]},
        "files_gone": files_gone,
        "files_new": set(after["files"].keys() - before["files"].keys()),
        "dirs_new": {d for d in new_dirs if not (d.startswith("uploads/") and d.count("/") <= 2)},
    }


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _same_cron_but_upload_cleanups(before: bytes, after: bytes) -> bool:
    """The two ``cron`` option values hold the same events once core's
    ``upgrader_scheduled_cleanup`` events (one per plugin upload, due in 2 h) are left out."""
    script = ("function f($v) { $a = unserialize(hex2bin($v)); foreach ($a as $t => $hooks) {"
              " if (!is_array($hooks)) continue; unset($a[$t]['upgrader_scheduled_cleanup']);"
              " if (!$a[$t]) unset($a[$t]); } return $a; }"
              " echo f(getenv('B')) == f(getenv('A')) ? 'same' : 'different';")
    out = subprocess.run(["php", "-r", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "B": before.hex(), "A": after.hex()}).stdout
    return out == "same"
