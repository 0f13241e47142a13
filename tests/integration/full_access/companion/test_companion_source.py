"""The companion plugin on the sandbox's real WordPress source (php -S, MariaDB): who it
answers, what it says, and that its exports are the same artifacts as today's routes.

The plugin is installed for this module only (``conftest.companion``); a few temporary
tables (odd types, keys and charsets) and a big option and file are added to the source
for the comparisons and removed afterwards."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import secrets
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.companion_site import InstalledCompanion, files_export_peak, source_sql
from tests.support.sftp_login import sftp_factory
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.client import Chunk, CompanionClient, CompanionUnavailable
from wpmigrate.full_access.companion.db_export import export_database_via_companion
from wpmigrate.full_access.companion.files_export import export_files_via_companion
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME, PLUGIN_DIR
from wpmigrate.full_access.companion.signing import ACTION_PARAM, signed_headers
from wpmigrate.full_access.companion.transfer import HostLimits
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.exporter import export_database
from wpmigrate.full_access.db.row_stream import RowReader
from wpmigrate.full_access.files.exporter import export_files
from wpmigrate.full_access.files.manifest import FILES_DIR, MANIFEST_NAME, iter_manifest, verify_tree
from wpsandbox.build import PHP_DIR
from wpsandbox.services import free_port, start_group, stop_group, wait_for_port
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox

BIG_OPTION = 6 * 1024 * 1024 + 17  # over the 5 MB of the issue; one row, bigger than any page
BIG_FILE = 9 * 1024 * 1024 + 3
ODD_TABLES = ("wpm_odd_keys", "wpm_no_key", "wpm_unique_only")


def _reader(sb: SandboxState) -> Any:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user=sb.db.reader_user,
                            password=sb.db.reader_password, database=sb.db.source_db))




@pytest.fixture(scope="module")
def source(companion: InstalledCompanion) -> Iterator[InstalledCompanion]:
    """The source with the plugin, plus odd tables, a 6 MB option and a 9 MB file."""
    sb = companion.sandbox
    p = sb.source.table_prefix
    source_sql(sb, f"""
CREATE TABLE {p}wpm_odd_keys (
  k VARCHAR(40) CHARACTER SET latin1 NOT NULL, n INT NOT NULL, y YEAR NULL, b BIT(9) NULL,
  d DECIMAL(12,4) NULL, f DOUBLE NULL, ts TIMESTAMP NULL, raw LONGBLOB NULL, legacy TEXT CHARACTER SET latin1,
  g INT AS (n * 2) VIRTUAL, PRIMARY KEY (k, n)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO {p}wpm_odd_keys (k, n, y, b, d, f, ts, raw, legacy)
SELECT CONCAT('key-', seq % 7), seq, 1990 + seq % 30, seq % 512, seq / 7, seq / 3,
  FROM_UNIXTIME(1700000000 + seq), IF(seq % 5 = 0, NULL, UNHEX(CONCAT('00FF', HEX(seq)))),
  IF(seq % 3 = 0, X'C3A9C3A0', 'plain') FROM seq_1_to_700;
CREATE TABLE {p}wpm_no_key (a INT NULL, v TEXT NULL) ENGINE=InnoDB;
INSERT INTO {p}wpm_no_key SELECT IF(seq % 4 = 0, NULL, seq % 9), REPEAT('x', seq % 50) FROM seq_1_to_333;
CREATE TABLE {p}wpm_unique_only (slug VARBINARY(64) NOT NULL, note TEXT, UNIQUE KEY slug (slug))
  ENGINE=InnoDB;
INSERT INTO {p}wpm_unique_only SELECT UNHEX(CONCAT(HEX(1000 - seq), 'FF00')), CONCAT('n', seq)
  FROM seq_1_to_250;
INSERT INTO {p}options (option_name, option_value, autoload)
  VALUES ('wpm_big_option', REPEAT('0123456789abcdef', {BIG_OPTION // 16}), 'no');
UPDATE {p}options SET option_value = CONCAT(option_value, REPEAT('z', {BIG_OPTION % 16}))
  WHERE option_name = 'wpm_big_option';
""")
    big = Path(sb.source.wp_content) / "uploads" / "wpm-test" / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(BIG_FILE))
    try:
        yield companion
    finally:
        source_sql(sb, f"DROP TABLE IF EXISTS {', '.join(p + t for t in ODD_TABLES)}; "
                       f"DELETE FROM {p}options WHERE option_name = 'wpm_big_option';")
        big.unlink()
        big.parent.rmdir()


def _get(http: httpx.Client, sb: SandboxState, action: str, params: dict[str, str],
         headers: dict[str, str]) -> httpx.Response:
    return http.get(sb.source.url + "/", params={ACTION_PARAM: action, **params}, headers=headers)


def _title(html: str) -> str:
    m = re.search(r"<title>(.*?)</title>", html, re.S)
    return m.group(1).strip() if m else ""


# --------------------------------------------------------------------------- who it answers

def test_unsigned_requests_get_the_normal_wordpress_page(source: InstalledCompanion,
                                                         http: httpx.Client) -> None:
    sb = source.sandbox
    home = http.get(sb.source.url + "/")
    assert home.status_code == 200 and "X-WPM-Protocol" not in home.headers
    for action, params in (("preflight", {}), ("rows", {"table": f"{sb.source.table_prefix}users"}),
                           ("file", {"path": "../wp-config.php"}), ("files", {})):
        r = _get(http, sb, action, params, {})
        assert r.status_code == 200, action
        assert "X-WPM-Protocol" not in r.headers and "application/json" not in r.headers["content-type"]
        assert _title(r.text) == _title(home.text) != ""
        assert "wp_version" not in r.text and sb.db.source_db not in r.text and "DB_PASSWORD" not in r.text
    # Timestamp and nonce alone, without a signature, are not ours either.
    r = _get(http, sb, "preflight", {}, {"X-WPM-Timestamp": str(int(time.time())), "X-WPM-Nonce": "0" * 32})
    assert r.status_code == 200 and "X-WPM-Protocol" not in r.headers


def test_bad_signature_old_timestamp_and_replayed_nonce_are_ignored(source: InstalledCompanion,
                                                                   http: httpx.Client) -> None:
    """Refused by not answering at all: the site's normal page, as without the plugin
    (test_companion_confinement compares the two answers in full)."""
    sb, secret = source.sandbox, source.secret
    params = {"table": f"{sb.source.table_prefix}options"}
    home = _title(http.get(sb.source.url + "/").text)

    def refused(r: httpx.Response, why: str) -> None:
        assert r.status_code == 200, (why, r.status_code, r.text[:200])
        assert "X-WPM-Protocol" not in r.headers and "application/json" not in r.headers["content-type"]
        assert _title(r.text) == home != "" and "wpm_odd_keys" not in r.text

    refused(_get(http, sb, "schema", params, signed_headers(secrets.token_hex(32), "schema", params)), "key")
    # Signed for other parameters or another action: the signature covers both.
    h = signed_headers(secret, "schema", params)
    refused(_get(http, sb, "schema", {"table": f"{sb.source.table_prefix}users"}, h), "params")
    refused(_get(http, sb, "preflight", {}, signed_headers(secret, "schema", {})), "action")
    refused(_get(http, sb, "schema", params, signed_headers(secret, "schema", params, now=time.time() - 301)),
            "old")
    refused(_get(http, sb, "schema", params, signed_headers(secret, "schema", params, now=time.time() + 301)),
            "future")
    h = signed_headers(secret, "schema", params)
    ok = _get(http, sb, "schema", params, h)
    assert ok.status_code == 200 and ok.json()["table"] == params["table"]
    refused(_get(http, sb, "schema", params, h), "replay")
    # To the client, another secret is a plugin that does not answer (a new install helps).
    with pytest.raises(MigrationError) as info:
        source.client(http, secrets.token_hex(32)).preflight()
    assert info.value.code == ErrorCode.EXPORT_FAILED and info.value.permanent
    assert info.value.details["reason"] == "not_answering"


def test_signed_requests_cannot_reach_outside_the_site(source: InstalledCompanion,
                                                       http: httpx.Client) -> None:
    """Even with the secret: files only under wp-content (never the plugin's own folder),
    tables only of the site's prefix."""
    sb = source.sandbox

    def status(action: str, params: dict[str, str]) -> int:
        r = _get(http, sb, action, params, signed_headers(source.secret, action, params))
        assert r.headers["X-WPM-Protocol"] == "1"
        assert "DB_PASSWORD" not in r.text and source.secret not in r.text
        return r.status_code

    for path in ("../wp-config.php", "/etc/passwd", "uploads/../../wp-config.php", "./index.php",
                 "uploads//x", "uploads\\..\\x"):
        assert status("file", {"path": path, "offset": "0", "length": "100"}) == 400, path
    for path in (f"plugins/{PLUGIN_DIR}/secret.php", f"plugins/{PLUGIN_DIR}/state/last-use", "nope.txt"):
        assert status("file", {"path": path, "offset": "0", "length": "100"}) == 404, path
    for table in ("mysql.user", "user", f"{sb.source.table_prefix}nope", "wptgt_options"):
        assert status("rows", {"table": table, "limit": "1", "max_bytes": "1"}) == 404, table
        assert status("schema", {"table": table}) == 404, table
    assert status("nonsense", {}) == 400


def test_idle_plugin_answers_410_and_nothing_else(source: InstalledCompanion, http: httpx.Client) -> None:
    sb = source.sandbox
    last_use = source.folder / "state" / "last-use"
    source.client(http).preflight()  # a first use: the idle clock runs from here
    assert last_use.exists()
    source.write_secret(source.secret, idle_seconds=2)
    # No wait: the plugin reads secret.php as text each time (php -S runs OPcache, which would
    # keep an included file for revalidate_freq seconds).
    try:
        past = time.time() - 3
        os.utime(last_use, (past, past))
        r = _get(http, sb, "preflight", {}, signed_headers(source.secret, "preflight", {}))
        assert r.status_code == 410 and r.headers["X-WPM-Protocol"] == "1"
        assert "wp_version" not in r.text
        with pytest.raises(MigrationError) as info:
            source.client(http).preflight()
        assert info.value.code == ErrorCode.INVALID_CREDENTIALS and info.value.permanent
        assert "time is up" in info.value.message
        # Refusing does not count as a use: it stays expired.
        again = _get(http, sb, "preflight", {}, signed_headers(source.secret, "preflight", {}))
        assert again.status_code == 410
        unsigned = _get(http, sb, "preflight", {}, {})
        assert unsigned.status_code == 200 and "X-WPM-Protocol" not in unsigned.headers
    finally:
        source.write_secret(source.secret, idle_seconds=3600)
        os.utime(last_use)
    assert source.client(http).preflight()["protocol"] == 1


def test_a_site_without_the_plugin_is_reported_as_not_answering(source: InstalledCompanion,
                                                                http: httpx.Client) -> None:
    sb = source.sandbox
    # The static (non-WordPress) site of the sandbox stands for a site where the plugin is gone.
    client = CompanionClient(http, sb.static.url, source.secret)
    with pytest.raises(MigrationError) as info:
        client.preflight()
    assert info.value.code == ErrorCode.EXPORT_FAILED and "not answering" in info.value.message


# --------------------------------------------------------------------------- preflight

def test_preflight_reports_the_site_and_its_limits(source: InstalledCompanion, http: httpx.Client) -> None:
    sb = source.sandbox
    p = sb.source.table_prefix
    pre = source.client(http).preflight()
    version = (Path(sb.source.docroot) / "wp-includes" / "version.php").read_text()
    assert f"$wp_version = '{pre['wp_version']}';" in version
    assert re.fullmatch(r"\d+\.\d+\.\d+", pre["php_version"])
    assert isinstance(pre["max_execution_time"], int) and isinstance(pre["memory_limit"], int)
    assert pre["upload_max_filesize"] > 0 and pre["post_max_size"] > 0
    assert pre["table_prefix"] == p and pre["home"] == sb.source.url and pre["siteurl"] == sb.source.url
    assert pre["wp_content_dir"] == sb.source.wp_content and pre["multisite"] is False
    assert pre["abspath"].rstrip("/") == sb.source.docroot.rstrip("/")
    listed = source_sql(sb, "SELECT TABLE_NAME FROM information_schema.TABLES "
                            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
                            f"AND TABLE_NAME LIKE '{p}%'").split()
    tables = {t["name"]: t for t in pre["tables"]}
    assert sorted(tables) == sorted(listed)
    for name in (f"{p}posts", f"{p}postmeta", f"{p}wpm_odd_keys", f"{p}wpm_no_key"):
        assert tables[name]["rows"] == int(source_sql(sb, f"SELECT COUNT(*) FROM {name}"))
    assert tables[f"{p}postmeta"]["rows"] >= 50_000
    assert tables[f"{p}options"]["primary_key"] == ["option_id"]
    assert tables[f"{p}options"]["unique_key"] == ["option_name"]
    assert tables[f"{p}term_relationships"]["primary_key"] == ["object_id", "term_taxonomy_id"]
    assert tables[f"{p}wpm_odd_keys"]["primary_key"] == ["k", "n"]
    assert tables[f"{p}wpm_no_key"]["primary_key"] == [] and tables[f"{p}wpm_no_key"]["unique_key"] == []
    assert tables[f"{p}wpm_unique_only"]["unique_key"] == ["slug"]
    assert tables[f"{p}posts"]["engine"] == "InnoDB" and tables[f"{p}posts"]["data_length"] > 0
    server = source_sql(sb, "SELECT VERSION(), @@character_set_database").split()
    assert pre["db"]["server_version"] == server[0] and pre["db"]["charset"] == server[1]
    content = Path(sb.source.wp_content)
    files = [f for f in content.rglob("*") if f.is_file() and not f.is_symlink()
             and PLUGIN_DIR not in f.relative_to(content).parts]
    assert pre["wp_content"] == {"files": len(files), "bytes": sum(f.stat().st_size for f in files),
                                 "complete": True}


# --------------------------------------------------------------------------- database

def _compare_exports(a: Path, b: Path, active_before: bytes) -> dict[str, Any]:
    """``b`` (through the plugin) holds the same artifacts as ``a`` (export_database), row for
    row and byte for byte, except ``active_plugins``: without the plugin, as before its install."""
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert list(ma["tables"]) == list(mb["tables"])
    options = ma["source_prefix"] + "options"
    assert mb["adjusted"] == [{"table": options, "option": "active_plugins", "removed": PLUGIN_BASENAME}]
    same = ("schema_file", "data_file", "create_table", "rows", "bytes", "sha256", "engine", "primary_key",
            "columns")
    no_key = 0
    for table, ta in ma["tables"].items():
        tb = mb["tables"][table]
        keys = same if table != options else tuple(k for k in same if k not in ("bytes", "sha256"))
        assert {k: ta[k] for k in keys} == {k: tb[k] for k in keys}, table
        assert (a / ta["schema_file"]).read_bytes() == (b / tb["schema_file"]).read_bytes()
        ra, rb = RowReader(a / ta["data_file"], ta["sha256"]), RowReader(b / tb["data_file"], tb["sha256"])
        assert ra.columns == rb.columns
        n = 0
        for row_a, row_b in zip(ra, rb, strict=True):  # row for row
            if table == options and row_a[1] == b"active_plugins":
                assert PLUGIN_BASENAME.encode() in row_a[2] and row_b[2] == active_before
                row_a = (*row_a[:2], active_before, *row_a[3:])
            assert row_a == row_b, (table, n)
            n += 1
        assert n == ta["rows"]
        if table != options:
            assert (a / ta["data_file"]).read_bytes() == (b / tb["data_file"]).read_bytes()  # byte for byte
        no_key += not ta["primary_key"]
    assert no_key >= 2
    for k in ("format", "version", "codec", "server_version", "database_charset", "database_collation",
              "source_prefix", "skipped"):
        assert ma[k] == mb[k], k
    assert ma["totals"]["rows"] == mb["totals"]["rows"] and ma["totals"]["tables"] == mb["totals"]["tables"]
    return mb


def test_database_through_the_plugin_equals_export_database(source: InstalledCompanion, http: httpx.Client,
                                                           tmp_path: Path) -> None:
    sb = source.sandbox
    p = sb.source.table_prefix
    conn = _reader(sb)
    try:
        export_database(conn, tmp_path / "sql", table_prefix=p)
    finally:
        conn.close()
    client = source.client(http)
    events: list[dict[str, Any]] = []
    # Small first pages: many pages per table, composite and text keys paged for real.
    manifest = export_database_via_companion(client, tmp_path / "plugin", initial_rows=50,
                                             initial_page_bytes=16 << 10, progress=events.append,
                                             progress_interval=0)
    mb = _compare_exports(tmp_path / "sql", tmp_path / "plugin", source.active_plugins_before)
    assert manifest == mb and manifest["route"] == "wp_admin" and manifest["resumed_tables"] == 0
    assert all(t["consistent"] is False for t in manifest["tables"].values())
    assert manifest["page_sizes"]["grown"] > 0
    big = [r for r in RowReader(tmp_path / "plugin" / mb["tables"][f"{p}options"]["data_file"])
           if r[1] == b"wpm_big_option"]
    assert len(big) == 1 and len(big[0][2]) == BIG_OPTION
    odd = list(RowReader(tmp_path / "plugin" / mb["tables"][f"{p}wpm_odd_keys"]["data_file"]))
    assert odd[0][:4] == (b"key-0", 7, 1997, b"\x00\x07")  # (k, n) order; YEAR an int; BIT(9) its 2 bytes
    assert any(r[8] == b"\xc3\xa9\xc3\xa0" for r in odd)  # latin1 column holding UTF-8: stored bytes
    assert {e["table"] for e in events} == set(mb["tables"])


class _FailingClient(CompanionClient):
    """Fails every request of one kind after ``after`` of them (as if the task were killed)."""

    def __init__(self, base: InstalledCompanion, http: httpx.Client, action: str, after: int,
                 match: str = "") -> None:
        super().__init__(http, base.sandbox.source.url, base.secret)
        self.action, self.after, self.match, self.seen = action, after, match, 0

    def _check(self, what: str) -> None:
        if self.match in what:
            self.seen += 1
            if self.seen > self.after:
                raise CompanionUnavailable("connection", "injected: the task died here")

    def rows(self, table: str, **kw: Any) -> dict[str, Any]:
        if self.action == "rows":
            self._check(table)
        return super().rows(table, **kw)

    def chunk(self, path: str, offset: int, length: int) -> Chunk:
        if self.action == "chunk":
            self._check(path)
        return super().chunk(path, offset, length)


def test_a_retried_database_export_resumes_from_the_stored_tables(source: InstalledCompanion,
                                                                  http: httpx.Client, tmp_path: Path) -> None:
    sb = source.sandbox
    p = sb.source.table_prefix
    out = tmp_path / "plugin"
    failing = _FailingClient(source, http, "rows", after=3, match=f"{p}postmeta")
    with pytest.raises(MigrationError) as info:
        export_database_via_companion(failing, out, attempts=1, max_rows=2000)
    assert info.value.code == ErrorCode.EXPORT_FAILED and not info.value.permanent
    assert info.value.details.get("table") == f"{p}postmeta"
    assert not (out / "manifest.json").exists()
    done_before = {f.name: f.stat().st_mtime_ns for f in out.glob("*.done.json")}
    assert done_before and not any("postmeta" in n for n in done_before)
    client = source.client(http)
    manifest = export_database_via_companion(client, out)
    assert manifest["resumed_tables"] == len(done_before)
    kept = {f.name: f.stat().st_mtime_ns for f in out.glob("*.done.json") if f.name in done_before}
    assert kept == done_before  # not rewritten: those tables were not fetched again
    conn = _reader(sb)
    try:
        export_database(conn, tmp_path / "sql", table_prefix=p)
    finally:
        conn.close()
    _compare_exports(tmp_path / "sql", out, source.active_plugins_before)


# --------------------------------------------------------------------------- files

def _manifest(out: Path) -> dict[str, tuple[int, int, str, int]]:
    return {e.path: (e.size, e.mtime, e.sha256, e.mode) for e in iter_manifest(out / MANIFEST_NAME)}


def test_files_through_the_plugin_match_the_sftp_export(source: InstalledCompanion, http: httpx.Client,
                                                       tmp_path: Path) -> None:
    sb = source.sandbox
    sftp = sftp_factory(sb.sftp.port, sb.sftp.key_file, host=sb.sftp.host, user=sb.sftp.user)
    sftp_summary = export_files(sftp, sb.source.wp_content, tmp_path / "sftp", workers=2)
    client = source.client(http)
    summary = export_files_via_companion(client, tmp_path / "plugin", initial_chunk=64 << 10,
                                         max_hash_bytes=1 << 20, list_limit=40)
    expected = {k: v for k, v in _manifest(tmp_path / "sftp").items()
                if not k.startswith(f"plugins/{PLUGIN_DIR}")}
    got = _manifest(tmp_path / "plugin")
    assert got == expected  # paths, sizes, mtimes, sha256, modes
    assert not any(PLUGIN_DIR in path for path in got)  # never the plugin (nor its secret)
    assert "uploads/wpm-test/big.bin" in got
    stored = iter_manifest(tmp_path / "plugin" / MANIFEST_NAME)
    assert list(verify_tree(tmp_path / "plugin" / FILES_DIR, stored)) == []
    content = Path(sb.source.wp_content)
    for path, (size, _m, sha, _mode) in got.items():  # byte-identical to the source's own files
        data = (content / path).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha
    assert summary["skipped"] == sftp_summary["skipped"] and summary["skipped"]["excluded"] >= 3
    assert summary["files"] == len(got) and summary["transferred_files"] == len(got)
    assert summary["requests"]["listing_pages"] > 5
    assert summary["requests"]["chunks"] > len(got)  # big files came in many checked chunks
    assert summary["chunk_size"]["grown"] > 0


def test_listing_pages_resume_exactly_after_the_last_path(source: InstalledCompanion,
                                                          http: httpx.Client) -> None:
    client = source.client(http)
    whole = client.files(limit=10_000, max_hash_bytes=1 << 40)
    assert whole["next"] is None
    paged: list[dict[str, Any]] = []
    after = None
    while True:
        page = client.files(limit=7, max_hash_bytes=1 << 40, after=after)
        paged += page["entries"]
        if page["next"] is None:
            break
        assert page["next"] == page["entries"][-1]["path"]
        after = page["next"]
    assert paged == whole["entries"] and len(paged) > 100


def test_a_retried_files_export_resumes_from_the_stored_files(source: InstalledCompanion, http: httpx.Client,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "plugin"
    failing = _FailingClient(source, http, "chunk", after=60)
    with pytest.raises(MigrationError) as info:
        export_files_via_companion(failing, out, attempts=1, workers=1, part_files=10)
    assert info.value.code == ErrorCode.EXPORT_FAILED and not info.value.permanent
    stored = info.value.details["stored_files"]
    assert stored >= 50
    summary = export_files_via_companion(source.client(http), out)
    assert summary["resumed_files"] >= 50 and summary["attempt"] == 2
    assert summary["transferred_files"] + summary["resumed_files"] == summary["files"]
    fresh = export_files_via_companion(source.client(http), tmp_path / "fresh")
    assert _manifest(out) == _manifest(tmp_path / "fresh") and fresh["files"] == summary["files"]


# --------------------------------------------------------------------------- leaves the source as it was

def _db_fingerprint(sb: SandboxState) -> dict[str, str]:
    p = sb.source.table_prefix
    names = source_sql(sb, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                           f"AND TABLE_NAME LIKE '{p}%'").split()
    out = source_sql(sb, f"CHECKSUM TABLE {', '.join(names)} EXTENDED")
    return dict(line.split("\t") for line in out.splitlines() if line)


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    return {str(f.relative_to(root)): (f.stat().st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest())
            for f in sorted(root.rglob("*")) if f.is_file() and not f.is_symlink()}


def test_a_full_export_writes_nothing_outside_the_plugin_folder(source: InstalledCompanion,
                                                               http: httpx.Client, tmp_path: Path) -> None:
    sb = source.sandbox
    content = Path(sb.source.wp_content)
    own = f"plugins/{PLUGIN_DIR}/"
    db_before = _db_fingerprint(sb)
    files_before = {k: v for k, v in _tree(content).items() if not k.startswith(own)}
    client = source.client(http)
    pre = client.preflight()
    export_database_via_companion(client, tmp_path / "db", preflight=pre)
    export_files_via_companion(client, tmp_path / "files", preflight=pre)
    assert _db_fingerprint(sb) == db_before  # every table of the site, content and all
    after = _tree(content)
    assert {k: v for k, v in after.items() if not k.startswith(own)} == files_before
    # Inside its own folder: the two shipped files and its state (nonces, last use), nothing else.
    mine = {k[len(own):] for k in after if k.startswith(own)}
    assert {"wpmigrate-companion.php", "secret.php", "state/last-use"} <= mine
    assert all(m in ("wpmigrate-companion.php", "secret.php", "state/last-use") or
               re.fullmatch(r"state/nonces/[0-9a-f]{32}", m) for m in mine)


# --------------------------------------------------------------------------- a small host

class _SmallHost:
    """The same source served by a second ``php -S`` with a shared host's limits: 5 s of
    execution time and 64 MB of memory per request. ``restart()`` stops it and starts it
    again on the same port after ``pause`` seconds (in the background)."""

    def __init__(self, sb: SandboxState, log: Path) -> None:
        self.sb, self.log, self.port = sb, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid = 0
        self.restarts = 0

    def start(self) -> None:
        self.pid = start_group(["php", "-d", "memory_limit=64M", "-d", "max_execution_time=5",
                                "-S", f"127.0.0.1:{self.port}", "-t", self.sb.source.docroot,
                                str(PHP_DIR / "router.php")], self.log,
                               env={k: v for k, v in os.environ.items() if k != "WPSB_REQUEST_LOG"})
        wait_for_port(self.port)

    def restart(self, pause: float) -> threading.Thread:
        stop_group(self.pid)
        self.restarts += 1

        def later() -> None:
            time.sleep(pause)
            self.start()
        t = threading.Thread(target=later)
        t.start()
        return t

    def stop(self) -> None:
        stop_group(self.pid)


@pytest.fixture
def small_host(source: InstalledCompanion, tmp_path: Path) -> Iterator[_SmallHost]:
    host = _SmallHost(source.sandbox, tmp_path / "php-small.log")
    host.start()
    try:
        yield host
    finally:
        host.stop()


def test_a_5s_64mb_host_exports_everything_with_bounded_client_memory(
        source: InstalledCompanion, small_host: _SmallHost, http: httpx.Client, tmp_path: Path) -> None:
    sb = source.sandbox
    p = sb.source.table_prefix
    client = CompanionClient(http, small_host.url, source.secret)
    pre = client.preflight()
    assert pre["max_execution_time"] == 5 and pre["memory_limit"] == 64 << 20
    # Small ceilings, so that holding a table or a file whole would show in the peak.
    limits = HostLimits(target_seconds=1.25, max_chunk_bytes=1 << 20, max_page_bytes=128 << 10)
    peaks: dict[str, int] = {}
    base: dict[str, int] = {}

    def per_table(event: dict[str, Any]) -> None:  # peak above what was held when the table started
        if event["rows_done"] == 0:
            tracemalloc.reset_peak()
            base[event["table"]] = tracemalloc.get_traced_memory()[0]
        elif event["rows_done"] == event["rows_total"]:
            peaks[event["table"]] = tracemalloc.get_traced_memory()[1] - base[event["table"]]

    tracemalloc.start()
    try:
        manifest = export_database_via_companion(client, tmp_path / "db", preflight=pre, limits=limits,
                                                 progress=per_table, progress_interval=0)
    finally:
        tracemalloc.stop()
    # The files in a fresh interpreter: what a long session left behind must not count.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        files_peak, summary = child.submit(files_export_peak, small_host.url, source.secret,
                                           tmp_path / "files", pre, limits).result(timeout=600)
    print(f"client peak: postmeta {peaks[f'{p}postmeta'] / 1e6:.1f} MB, files {files_peak / 1e6:.1f} MB")
    postmeta = manifest["tables"][f"{p}postmeta"]
    assert postmeta["rows"] >= 50_000 and postmeta["bytes"] > 4 << 20
    # Pages, not the table: held whole as Python objects it would take several times its artifact.
    assert peaks[f"{p}postmeta"] < postmeta["bytes"]
    # Chunks of at most 1 MiB (a few copies in flight), not the 9 MB file.
    assert files_peak < BIG_FILE * 0.6
    conn = _reader(sb)
    try:
        export_database(conn, tmp_path / "sql", table_prefix=p)
    finally:
        conn.close()
    # The 6 MB option came through intact, as every other row.
    _compare_exports(tmp_path / "sql", tmp_path / "db", source.active_plugins_before)
    stored = _manifest(tmp_path / "files")
    big = (Path(sb.source.wp_content) / "uploads/wpm-test/big.bin").read_bytes()
    assert stored["uploads/wpm-test/big.bin"][2] == hashlib.sha256(big).hexdigest()
    assert summary["files"] == len(stored) > 100


class _RestartingClient(CompanionClient):
    """Restarts the host's PHP server once, right before the ``at``-th request of ``action``."""

    def __init__(self, http: httpx.Client, host: _SmallHost, secret: str, action: str, at: int) -> None:
        super().__init__(http, host.url, secret)
        self.host, self.action, self.at, self.count = host, action, at, 0
        self.lock = threading.Lock()
        self.restarted: threading.Thread | None = None

    def _maybe_restart(self, action: str) -> None:
        with self.lock:
            if action == self.action:
                self.count += 1
                if self.count == self.at:
                    self.restarted = self.host.restart(pause=1.5)

    def rows(self, table: str, **kw: Any) -> dict[str, Any]:
        self._maybe_restart("rows")
        return super().rows(table, **kw)

    def chunk(self, path: str, offset: int, length: int) -> Chunk:
        self._maybe_restart("chunk")
        return super().chunk(path, offset, length)


def test_the_php_server_restarting_mid_transfer_loses_and_duplicates_nothing(
        source: InstalledCompanion, small_host: _SmallHost, http: httpx.Client, tmp_path: Path) -> None:
    sb = source.sandbox
    p = sb.source.table_prefix
    limits = HostLimits(target_seconds=1.25, max_chunk_bytes=1 << 20, max_page_bytes=128 << 10)
    rows_client = _RestartingClient(http, small_host, source.secret, "rows", at=30)
    export_database_via_companion(rows_client, tmp_path / "db", limits=limits)
    chunk_client = _RestartingClient(http, small_host, source.secret, "chunk", at=40)
    export_files_via_companion(chunk_client, tmp_path / "files", limits=limits, workers=2)
    for c in (rows_client, chunk_client):
        assert c.restarted is not None
        c.restarted.join()
    assert small_host.restarts == 2
    conn = _reader(sb)
    try:
        export_database(conn, tmp_path / "sql", table_prefix=p)
    finally:
        conn.close()
    _compare_exports(tmp_path / "sql", tmp_path / "db", source.active_plugins_before)
    fresh = export_files_via_companion(source.client(http), tmp_path / "fresh")
    assert _manifest(tmp_path / "files") == _manifest(tmp_path / "fresh") and fresh["files"] > 100
    stored = iter_manifest(tmp_path / "files" / MANIFEST_NAME)
    assert list(verify_tree(tmp_path / "files" / FILES_DIR, stored)) == []
