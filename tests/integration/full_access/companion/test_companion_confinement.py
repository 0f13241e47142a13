"""The companion plugin on the sandbox's real source: it reads nothing outside wp-content's
real path (a symlink at any depth is listed as skipped, never followed nor served), and a
request it cannot verify gets exactly the answer the site gives without the plugin.

Symlinks are added under ``uploads`` for this module only and removed afterwards (the
sandbox is shared); the plugin is switched off and on through ``active_plugins`` to get the
site's own answers."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.companion_site import InstalledCompanion, php_serialize_with, source_sql, sql_hex
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.files_export import OUTSIDE, export_files_via_companion
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME
from wpmigrate.full_access.companion.signing import ACTION_PARAM, sign, signed_headers

pytestmark = pytest.mark.sandbox


@dataclass
class Links:
    to_abspath: str  # uploads/<dir linked to ABSPATH>
    to_etc: str  # uploads/<dir linked to /etc>
    to_config: str  # uploads/<file linked to ABSPATH/wp-config.php>
    deep: str  # uploads/<real dir>/<dir linked to /etc>
    inside: str  # uploads/<dir linked to another folder of uploads>
    inside_target: str  # that folder (exported at its own path)
    wp_config: bytes
    passwd: bytes


@pytest.fixture(scope="module")
def links(companion: InstalledCompanion) -> Iterator[Links]:
    sb = companion.sandbox
    uploads = Path(sb.source.wp_content) / "uploads"
    tag = "wpm-link-" + secrets.token_hex(4)
    real = uploads / f"{tag}-real"
    made: list[Path] = []
    try:
        real.mkdir()
        made.append(real)
        (real / "kept.txt").write_text("inside wp-content\n")
        pairs = {f"{tag}-abspath": sb.source.docroot, f"{tag}-etc": "/etc",
                 f"{tag}-config.php": str(Path(sb.source.docroot) / "wp-config.php"),
                 f"{tag}-real/etc": "/etc", f"{tag}-inside": str(real)}
        for name, target in pairs.items():
            (uploads / name).symlink_to(target)
            made.append(uploads / name)
        yield Links(f"uploads/{tag}-abspath", f"uploads/{tag}-etc", f"uploads/{tag}-config.php",
                    f"uploads/{tag}-real/etc", f"uploads/{tag}-inside", f"uploads/{tag}-real",
                    (Path(sb.source.docroot) / "wp-config.php").read_bytes(),
                    Path("/etc/passwd").read_bytes())
    finally:
        for path in reversed(made):
            if path.is_symlink():
                path.unlink()
        with contextlib.suppress(FileNotFoundError):
            (real / "kept.txt").unlink()
        with contextlib.suppress(FileNotFoundError):
            real.rmdir()


def _signed(http: httpx.Client, companion: InstalledCompanion, action: str,
            params: dict[str, str]) -> httpx.Response:
    return http.get(companion.sandbox.source.url + "/", params={ACTION_PARAM: action, **params},
                    headers=signed_headers(companion.secret, action, params))


# --------------------------------------------------------------------------- wp-content only

def test_files_behind_a_symlink_are_never_served(companion: InstalledCompanion, links: Links,
                                                 http: httpx.Client) -> None:
    sb = companion.sandbox
    for path in (f"{links.to_abspath}/wp-config.php", f"{links.to_etc}/passwd", links.to_config,
                 f"{links.deep}/passwd", f"{links.to_abspath}/wp-content/uploads/../../wp-config.php"):
        r = _signed(http, companion, "file", {"path": path, "offset": "0", "length": "1048576"})
        assert r.status_code in (400, 404), (path, r.status_code)
        assert r.headers["X-WPM-Protocol"] == "1"
        assert "X-WPM-File-Size" not in r.headers
        assert sb.source.db_password not in r.text and "DB_PASSWORD" not in r.text
        assert "root:" not in r.text, path
    # A path through a symlink that stays inside wp-content is not served either: the
    # listing never names one, the file is listed (and served) at its own path.
    through = _signed(http, companion, "file", {"path": f"{links.inside}/kept.txt", "offset": "0",
                                                "length": "100"})
    assert through.status_code == 404
    own = _signed(http, companion, "file", {"path": f"{links.inside_target}/kept.txt", "offset": "0",
                                            "length": "100"})
    assert own.status_code == 200 and own.content == b"inside wp-content\n"


def test_the_listing_reports_symlinks_with_where_they_lead(companion: InstalledCompanion, links: Links,
                                                           http: httpx.Client) -> None:
    listing = companion.client(http).files(limit=10_000, max_hash_bytes=1 << 40)
    assert listing["next"] is None
    entries = {e["path"]: e for e in listing["entries"]}
    for path in (links.to_abspath, links.to_etc, links.to_config, links.deep):
        assert entries[path] == {"path": path, "skipped": "symlinks", "detail": OUTSIDE}, path
    assert entries[links.inside]["skipped"] == "symlinks"
    assert "within wp-content" in entries[links.inside]["detail"]
    assert f"{links.inside_target}/kept.txt" in entries
    # Nothing listed through a link.
    links_at = (links.to_abspath, links.to_etc, links.deep, links.inside)
    assert not [p for p in entries if any(p.startswith(link + "/") for link in links_at)]


def test_a_full_export_skips_and_reports_what_lies_outside(companion: InstalledCompanion, links: Links,
                                                           http: httpx.Client, tmp_path: Path) -> None:
    out = tmp_path / "files"
    summary = export_files_via_companion(companion.client(http), out, workers=2)
    samples = {s["path"]: s for s in summary["skipped_samples"]}
    for path in (links.to_abspath, links.to_etc, links.to_config, links.deep):
        assert samples[path] == {"path": path, "reason": "symlinks", "detail": OUTSIDE}, path
    assert samples[links.inside]["reason"] == "symlinks"
    assert summary["skipped"]["symlinks"] >= 5
    assert sorted(summary["symlinks_outside_wp_content"]) == sorted(
        (links.to_abspath, links.to_etc, links.to_config, links.deep))
    stored = [p for p in out.rglob("*") if p.is_file()]
    assert (out / "files" / links.inside_target / "kept.txt").read_bytes() == b"inside wp-content\n"
    # Not one byte of what lies behind the links: wp-config.php (its database password) or /etc.
    password = companion.sandbox.source.db_password.encode()
    for f in stored:
        data = f.read_bytes()
        assert password not in data and links.wp_config not in data and links.passwd not in data, f
        assert b"DB_PASSWORD" not in data, f
    assert not [f for f in stored if f.name in ("wp-config.php", "passwd")]


# --------------------------------------------------------------------------- invisible unless verified

@contextlib.contextmanager
def _plugin_inactive(companion: InstalledCompanion) -> Iterator[None]:
    """The site without the plugin: ``active_plugins`` as before its install, for a moment."""
    sb = companion.sandbox
    before = companion.active_plugins_before.decode("utf-8")
    update = (f"UPDATE {sb.source.table_prefix}options SET option_value = %s "
              "WHERE option_name = 'active_plugins'")
    source_sql(sb, update % sql_hex(before))
    try:
        yield
    finally:
        source_sql(sb, update % sql_hex(php_serialize_with(before, PLUGIN_BASENAME)))


def _answer(r: httpx.Response) -> tuple[int, str, list[str], str]:
    """What must not differ with or without the plugin: status, content type, header names
    (not Date's value), body."""
    names = sorted({k.lower() for k in r.headers})
    return r.status_code, r.headers.get("content-type", ""), names, r.text


def _request(http: httpx.Client, url: str, query: str, headers: dict[str, str]) -> httpx.Response:
    return http.get(url + "/?" + query, headers=headers)


def _garbage() -> dict[str, str]:
    return {"X-WPM-Signature": "garbage"}


def _wrong_secret(action: str, params: dict[str, str]) -> dict[str, str]:
    return signed_headers(secrets.token_hex(32), action, params)


def test_unverified_requests_get_the_sites_own_answer(companion: InstalledCompanion,
                                                       http: httpx.Client) -> None:
    sb = companion.sandbox
    url = sb.source.url
    now = str(int(time.time()))
    nonce = secrets.token_hex(16)
    right = sign(companion.secret, "preflight", {}, now, nonce)
    cases: dict[str, tuple[str, dict[str, str]]] = {
        "garbage signature": (f"{ACTION_PARAM}=preflight", _garbage()),
        "garbage with timestamp and nonce": (f"{ACTION_PARAM}=preflight",
                                             {**_garbage(), "X-WPM-Timestamp": now, "X-WPM-Nonce": nonce}),
        "wrong secret": (f"{ACTION_PARAM}=preflight", _wrong_secret("preflight", {})),
        "wrong secret, file": (f"{ACTION_PARAM}=file&path=index.php",
                               _wrong_secret("file", {"path": "index.php"})),
        "array parameter": (f"{ACTION_PARAM}=preflight&wpm[]=x",
                            signed_headers(companion.secret, "preflight", {})),
        "array action": (f"{ACTION_PARAM}[]=preflight", {**_garbage(), "X-WPM-Timestamp": now,
                                                         "X-WPM-Nonce": nonce}),
        "right signature, other timestamp": (f"{ACTION_PARAM}=preflight",
                                             {"X-WPM-Signature": right, "X-WPM-Nonce": nonce,
                                              "X-WPM-Timestamp": str(int(now) + 1)}),
        "stale": (f"{ACTION_PARAM}=preflight",
                  signed_headers(companion.secret, "preflight", {}, now=time.time() - 400)),
    }
    with_plugin = {name: _request(http, url, q, h) for name, (q, h) in cases.items()}
    with _plugin_inactive(companion):
        without = {name: _request(http, url, q, h) for name, (q, h) in cases.items()}
        home = http.get(url + "/")
    assert home.status_code == 200 and "<title>" in home.text
    for name, r in with_plugin.items():
        assert not [k for k in r.headers if k.lower().startswith("x-wpm")], name
        assert "application/json" not in r.headers.get("content-type", ""), name
        assert _answer(r) == _answer(without[name]), name


def test_a_replayed_request_gets_the_sites_own_answer(companion: InstalledCompanion,
                                                       http: httpx.Client) -> None:
    url = companion.sandbox.source.url
    headers = signed_headers(companion.secret, "preflight", {})
    first = _request(http, url, f"{ACTION_PARAM}=preflight", headers)
    assert first.status_code == 200 and first.json()["protocol"] == 1
    replayed = _request(http, url, f"{ACTION_PARAM}=preflight", headers)
    with _plugin_inactive(companion):
        without = _request(http, url, f"{ACTION_PARAM}=preflight", headers)
    assert not [k for k in replayed.headers if k.lower().startswith("x-wpm")]
    assert _answer(replayed) == _answer(without)


def test_an_expired_plugin_is_invisible_but_tells_a_verified_caller(companion: InstalledCompanion,
                                                                    http: httpx.Client) -> None:
    url = companion.sandbox.source.url
    last_use = companion.folder / "state" / "last-use"
    companion.client(http).preflight()
    companion.write_secret(companion.secret, idle_seconds=2)
    try:
        past = time.time() - 3
        os.utime(last_use, (past, past))
        garbage = _request(http, url, f"{ACTION_PARAM}=preflight", _garbage())
        wrong = _request(http, url, f"{ACTION_PARAM}=preflight", _wrong_secret("preflight", {}))
        with _plugin_inactive(companion):
            without = _request(http, url, f"{ACTION_PARAM}=preflight", _garbage())
        for r in (garbage, wrong):
            assert not [k for k in r.headers if k.lower().startswith("x-wpm")]
            assert _answer(r) == _answer(without)
        with pytest.raises(MigrationError) as info:  # the secret's holder may know why
            companion.client(http).preflight()
        assert info.value.code == ErrorCode.INVALID_CREDENTIALS and info.value.details["reason"] == "expired"
    finally:
        companion.write_secret(companion.secret, idle_seconds=3600)
        os.utime(last_use)
    assert companion.client(http).preflight()["protocol"] == 1


def test_the_client_reads_the_sites_own_page_as_not_answering(companion: InstalledCompanion,
                                                               http: httpx.Client) -> None:
    """Another secret gets the site's normal page: the plugin does not answer, which the
    wp_admin route repairs by installing it again."""
    with pytest.raises(MigrationError) as info:
        companion.client(http, secrets.token_hex(32)).preflight()
    assert info.value.code == ErrorCode.EXPORT_FAILED and info.value.permanent
    assert info.value.details["reason"] == "not_answering"
    assert "clock_skew_seconds" not in info.value.details
