"""The companion plugin on the sandbox's real source: a request it cannot verify gets
exactly the answer the site gives without the plugin.

The plugin is switched off and on through ``active_plugins`` to get the site's own answers."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.companion_site import InstalledCompanion, php_serialize_with, source_sql, sql_hex
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME
from wpmigrate.full_access.companion.signing import ACTION_PARAM, sign, signed_headers

pytestmark = pytest.mark.sandbox


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
