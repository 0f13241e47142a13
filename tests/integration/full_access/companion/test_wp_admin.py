"""wp-admin automation against the sandbox source's real WordPress: a plugin zip installed,
activated, deactivated and deleted through core's own forms, and the logins that cannot do
it (wrong password, not an administrator, a second factor, DISALLOW_FILE_MODS). Each test
leaves the source as it found it: plugins, active_plugins, users, sessions, wp-config.php."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.admin_source import warm_up_site
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.wp_admin import MANUAL_INSTALL, Refusal, WpAdminSession
from wpsandbox import build, source_switches
from wpsandbox.services import PrivateMariaDB
from wpsandbox.state import PROJECT_ROOT, SandboxState

pytestmark = pytest.mark.sandbox

PROBE = "wpm-w2-probe/wpm-w2-probe.php"
BOOTSTRAP = PROJECT_ROOT / "sandbox" / "wpsandbox" / "php" / "bootstrap.php"


def _probe_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(PROBE, "<?php\n/**\n * Plugin Name: wpmigrate wp_admin probe\n * Version: 1\n */\n")
    return buf.getvalue()


def _sql(sb: SandboxState, statement: str) -> str:
    db = PrivateMariaDB(Path(sb.home) / "db", port=sb.db.port, pid=sb.db.pid)
    return db.sql(statement, sb.db.source_db, quiet=True)


def _wp_php(sb: SandboxState, code: str, **env: str) -> Any:
    """PHP run inside the source's WordPress (CLI, no wp-cli here); inputs through the
    environment (no password in ``ps``), the result as JSON after a marker."""
    script = (f"require {json.dumps(str(BOOTSTRAP))}; wpsb_fake_request(getenv('WPSB_URL'));"
              f"require getenv('WPSB_DOCROOT') . '/wp-load.php'; {code}")
    proc = subprocess.run(["php", "-r", script], capture_output=True, text=True, cwd=sb.source.docroot,
                          env={**os.environ, "WPSB_URL": sb.source.url,
                               "WPSB_DOCROOT": sb.source.docroot, **env})
    marker = proc.stdout.rfind("@@WPSB@@")
    assert proc.returncode == 0 and marker >= 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout[marker + len("@@WPSB@@"):])


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dirs(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def _snapshot(sb: SandboxState) -> dict[str, Any]:
    content = Path(sb.source.wp_content)
    plugins = content / "plugins"
    prefix = sb.source.table_prefix
    return {
        "plugins": {rel: hashlib.sha256((plugins / rel).read_bytes()).hexdigest()
                    for rel in _tree(plugins)},
        "wp_content": _tree(content),
        "active_plugins": _sql(sb, f"SELECT option_value FROM {prefix}options "
                                   "WHERE option_name='active_plugins'"),
        "users": _sql(sb, f"SELECT ID, user_login FROM {prefix}users ORDER BY ID"),
        "sessions": _sql(sb, f"SELECT user_id, meta_value FROM {prefix}usermeta "
                             "WHERE meta_key='session_tokens' ORDER BY user_id"),
        # Every post and user meta key: the upload's private attachment must be gone, and
        # nothing may open the dashboard (its Quick Draft box writes an auto-draft post).
        "posts": _sql(sb, f"SELECT ID, post_type, post_status, post_modified_gmt FROM {prefix}posts "
                          "ORDER BY ID"),
        "usermeta": _sql(sb, f"SELECT umeta_id, user_id, meta_key FROM {prefix}usermeta ORDER BY umeta_id"),
        "wp_config": (Path(sb.source.docroot) / "wp-config.php").read_bytes(),
    }


def _options(sb: SandboxState) -> dict[str, str]:
    """Every option but transients, as hex of the stored bytes."""
    rows = _sql(sb, f"SELECT option_name, HEX(option_value) FROM {sb.source.table_prefix}options "
                    "WHERE option_name NOT LIKE '%\\_transient\\_%'")
    return dict(line.split("\t", 1) for line in rows.splitlines() if "\t" in line)


def _cron_without_upload_cleanup(sb: SandboxState, before_hex: str, after_hex: str) -> bool:
    """``after`` is ``before`` plus upgrader_scheduled_cleanup events only."""
    return bool(_wp_php(sb, "$b = unserialize(hex2bin(getenv('B'))); $a = unserialize(hex2bin(getenv('A')));"
                            " foreach ($a as $t => $hooks) { if (!is_array($hooks)) continue;"
                            " unset($a[$t]['upgrader_scheduled_cleanup']); if (!$a[$t]) unset($a[$t]); }"
                            " wpsb_result(['same' => $a == $b]);", B=before_hex, A=after_hex)["same"])


def _restore_option(sb: SandboxState, name: str, value_hex: str | None) -> None:
    table = f"{sb.source.table_prefix}options"
    if value_hex is None:
        _sql(sb, f"DELETE FROM {table} WHERE option_name = '{name}'")
    else:
        _sql(sb, f"UPDATE {table} SET option_value = UNHEX('{value_hex}') WHERE option_name = '{name}'")


def _warm_up(sb: SandboxState) -> None:
    warm_up_site(sb.source.url, sb.source.admin_user, sb.source.admin_password)


@pytest.fixture
def source(sandbox: SandboxState) -> Iterator[SandboxState]:
    """The source, checked to be as it was afterwards, except for what WordPress itself
    leaves after an upload, an activation and a removal, listed exactly here (and then put
    back, so the next test finds the sandbox as it was):
    - ``recently_activated`` gains the deactivated plugin (plugins.php also creates it,
      empty, when it is missing);
    - ``cron`` gains one ``upgrader_scheduled_cleanup`` event per upload (core schedules the
      zip's cleanup in 2 h even when it cleans up at once);
    - the ``uploads/<year>/<month>`` folder wp_handle_upload() creates, empty again;
    - the upgrader's scratch folder ``upgrade/`` emptied;
    - transients (not compared)."""
    _warm_up(sandbox)
    content = Path(sandbox.source.wp_content)
    before, dirs_before, options_before = _snapshot(sandbox), _dirs(content), _options(sandbox)
    yield sandbox
    after, new_dirs, options_after = _snapshot(sandbox), _dirs(content) - dirs_before, _options(sandbox)
    # The upgrader empties its scratch folder wp-content/upgrade/ on every install: put back
    # what was there (the sandbox keeps only an empty marker file in it).
    emptied = {rel: meta for rel, meta in before["wp_content"].items()
               if rel.startswith("upgrade/") and rel not in after["wp_content"]}
    for rel, (size, mtime_ns) in emptied.items():
        assert size == 0, rel
        (content / rel).touch()
        os.utime(content / rel, ns=(mtime_ns, mtime_ns))
    after["wp_content"].update(emptied)
    for rel in sorted(new_dirs, key=len, reverse=True):
        (content / rel).rmdir()  # fails if not empty: a leftover file is a finding
    changed = {name for name in options_before.keys() | options_after.keys()
               if options_before.get(name) != options_after.get(name)}
    for name in changed & {"recently_activated", "cron"}:
        _restore_option(sandbox, name, options_before.get(name))
    assert all(rel.startswith("uploads/") for rel in new_dirs), new_dirs
    assert changed <= {"recently_activated", "cron"}, changed
    if "cron" in changed:
        assert _cron_without_upload_cleanup(sandbox, options_before["cron"], options_after["cron"])
    if "recently_activated" in changed:  # plugins.php writes an empty one when there is none
        recent = bytes.fromhex(options_after["recently_activated"])
        assert recent == b"a:0:{}" or PROBE.encode() in recent, recent
    assert after == before


@pytest.fixture(params=["rest_open", "rest_closed"])
def rest(request: pytest.FixtureRequest, source: SandboxState) -> Iterator[str]:
    """The source's REST API as it is, or closed like security plugins close it (the sandbox
    plugin's switch): wp-admin automation must not need it. Put back exactly afterwards."""
    if request.param == "rest_open":
        yield request.param
        return
    was_enabled = source.source_rest_enabled
    raw = _options(source).get("sandbox_disable_rest")
    build.set_source_rest(False, source)
    assert httpx.get(source.source.url + "/wp-json/wp/v2/plugins", timeout=30).status_code == 401
    try:
        yield request.param
    finally:
        build.set_source_rest(was_enabled, source)
        _restore_option(source, "sandbox_disable_rest", raw)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def _assert_secret_free(err: MigrationError, password: str, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(err), err.message, err.user_message, json.dumps(err.to_dict()), repr(err), caplog.text]
    assert not any(password in text for text in texts)


def test_install_activate_deactivate_delete(source: SandboxState, rest: str, http: httpx.Client,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sb = source
    probe_dir = Path(sb.source.wp_content) / "plugins" / PROBE.split("/")[0]
    wp = WpAdminSession(http, sb.source.url)
    wp.login(sb.source.admin_user, sb.source.admin_password)
    wp.require_admin()
    assert not wp.is_installed(PROBE)

    assert wp.upload_plugin(_probe_zip()) == PROBE
    assert probe_dir.is_dir() and wp.is_installed(PROBE) and not wp.is_active(PROBE)
    # A second upload is refused without overwrite, and core's kept copy of the zip is
    # cancelled (no private attachment left behind, checked by the fixture); overwrite works.
    with pytest.raises(MigrationError) as exists:
        wp.upload_plugin(_probe_zip())
    assert exists.value.code is ErrorCode.EXPORT_FAILED and exists.value.details["reason"] == "already_exists"
    assert wp.upload_plugin(_probe_zip(), overwrite=True) == PROBE

    wp.activate(PROBE)
    assert wp.is_active(PROBE)
    assert PROBE in _sql(sb, f"SELECT option_value FROM {sb.source.table_prefix}options "
                             "WHERE option_name='active_plugins'")
    wp.deactivate(PROBE)
    assert not wp.is_active(PROBE) and wp.is_installed(PROBE)
    wp.activate(PROBE)
    wp.delete(PROBE)  # deactivates first
    assert not wp.is_installed(PROBE) and not probe_dir.exists()
    wp.delete(PROBE)  # gone already: nothing to do
    wp.logout()
    assert not wp.logged_in
    assert sb.source.admin_password not in caplog.text


def test_not_a_zip_is_incompatible_archive(source: SandboxState, http: httpx.Client) -> None:
    wp = WpAdminSession(http, source.source.url)
    wp.login(source.source.admin_user, source.source.admin_password)
    try:
        with pytest.raises(MigrationError) as bad:
            wp.upload_plugin(b"this is not a zip archive")
        assert bad.value.code is ErrorCode.EXPORT_FAILED and bad.value.permanent
        assert bad.value.details["reason"] == "incompatible_archive"
        assert "Incompatible Archive" in bad.value.message
    finally:
        wp.logout()


def test_wrong_password(source: SandboxState, http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = source.source.admin_password + "-not-" + secrets.token_hex(4)
    wp = WpAdminSession(http, source.source.url)
    with pytest.raises(MigrationError) as err:
        wp.login(source.source.admin_user, wrong)
    assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
    assert err.value.details["reason"] == Refusal.WRONG_LOGIN
    assert not wp.logged_in
    _assert_secret_free(err.value, wrong, caplog)


@pytest.fixture
def editor(source: SandboxState) -> Iterator[tuple[str, str, int]]:
    """A temporary Editor (can publish, may not manage plugins), deleted afterwards."""
    login, password = f"wpm_editor_{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    made = _wp_php(source, "$id = wp_insert_user(['user_login' => getenv('U'), 'user_pass' => getenv('P'),"
                           " 'user_email' => getenv('U') . '@example.test', 'role' => 'editor']);"
                           " wpsb_result(['id' => is_wp_error($id) ? null : $id]);", U=login, P=password)
    assert made["id"], made
    try:
        yield login, password, int(made["id"])
    finally:
        gone = _wp_php(source, "require_once ABSPATH . 'wp-admin/includes/user.php';"
                               " wpsb_result(['ok' => wp_delete_user((int) getenv('ID'))]);",
                       ID=str(made["id"]))
        assert gone["ok"]


def _session_count(sb: SandboxState, user_id: int) -> int:
    return int(_wp_php(sb, "wpsb_result(['n' => count(WP_Session_Tokens::get_instance("
                           "(int) getenv('ID'))->get_all())]);", ID=str(user_id))["n"])


def test_not_an_administrator(editor: tuple[str, str, int], source: SandboxState, http: httpx.Client,
                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login, password, user_id = editor
    wp = WpAdminSession(http, source.source.url)
    wp.login(login, password)  # a valid login ...
    try:
        with pytest.raises(MigrationError) as err:
            wp.require_admin()  # ... that may not install plugins
        assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
        assert err.value.details["reason"] == Refusal.NOT_ADMINISTRATOR
        assert "not an administrator" in err.value.message
        assert "not an administrator" in err.value.user_message and MANUAL_INSTALL in err.value.user_message
        with pytest.raises(MigrationError) as upload:
            wp.upload_plugin(_probe_zip())
        assert upload.value.details["reason"] == Refusal.NOT_ADMINISTRATOR
        _assert_secret_free(err.value, password, caplog)
        assert _session_count(source, user_id) == 1
    finally:
        wp.logout()
    assert _session_count(source, user_id) == 0  # the logout ended the server's session too


def test_second_factor_asks_for_the_manual_install(source: SandboxState, http: httpx.Client,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wp = WpAdminSession(http, source.source.url)
    with source_switches.second_factor(source.source.docroot), pytest.raises(MigrationError) as err:
        wp.login(source.source.admin_user, source.source.admin_password)
    assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
    assert err.value.details == {"reason": "second_factor", "manual_install": True, "fields": ["authcode"]}
    assert MANUAL_INSTALL in err.value.user_message
    assert err.value.to_dict()["user_message"] == err.value.user_message
    assert not wp.logged_in
    _assert_secret_free(err.value, source.source.admin_password, caplog)


def test_disallow_file_mods_is_a_permanent_error(source: SandboxState, http: httpx.Client) -> None:
    wp = WpAdminSession(http, source.source.url)
    with source_switches.disallow_file_mods(source.source.docroot):
        wp.login(source.source.admin_user, source.source.admin_password)
        try:
            with pytest.raises(MigrationError) as err:
                wp.upload_plugin(_probe_zip())
            assert err.value.permanent and err.value.code is ErrorCode.INVALID_CREDENTIALS
            assert err.value.details["reason"] == Refusal.FILE_MODS_DISALLOWED
            assert "DISALLOW_FILE_MODS" in err.value.message
            assert "DISALLOW_FILE_MODS" in err.value.user_message
            assert MANUAL_INSTALL in err.value.user_message
            assert not wp.is_installed(PROBE)
        finally:
            wp.logout()


def test_filesystem_needing_ftp_credentials_is_refused_before_the_upload(
        source: SandboxState, http: httpx.Client) -> None:
    wp = WpAdminSession(http, source.source.url)
    wp.login(source.source.admin_user, source.source.admin_password)
    try:
        with source_switches.filesystem_needs_credentials(source.source.docroot):
            with pytest.raises(MigrationError) as err:
                wp.upload_plugin(_probe_zip())
            assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
            assert err.value.details["reason"] == Refusal.FILESYSTEM_CREDENTIALS
            assert "FTP credentials" in err.value.user_message and MANUAL_INSTALL in err.value.user_message
        assert not wp.is_installed(PROBE)  # and no uploaded zip left (the fixture checks)
    finally:
        wp.logout()


def test_locked_out_login(source: SandboxState, http: httpx.Client) -> None:
    wp = WpAdminSession(http, source.source.url)
    with source_switches.login_locked_out(source.source.docroot), pytest.raises(MigrationError) as err:
        wp.login(source.source.admin_user, source.source.admin_password)
    assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
    assert err.value.details["reason"] == Refusal.LOCKED_OUT
    assert "locked" in err.value.user_message and MANUAL_INSTALL in err.value.user_message


def test_blocked_upload_form(source: SandboxState, http: httpx.Client) -> None:
    wp = WpAdminSession(http, source.source.url)
    wp.login(source.source.admin_user, source.source.admin_password)
    try:
        with source_switches.plugin_upload_blocked(source.source.docroot):
            with pytest.raises(MigrationError) as err:
                wp.require_admin()
            assert err.value.code is ErrorCode.INVALID_CREDENTIALS and err.value.permanent
            assert err.value.details["reason"] == Refusal.UPLOAD_BLOCKED
            assert MANUAL_INSTALL in err.value.user_message
        wp.require_admin()  # the same login has the form again once the block is gone
    finally:
        wp.logout()
