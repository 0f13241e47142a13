"""The platform's login for a target (``WordPressSiteHook.client_for``) reaches the target's
own origin and nothing else, against real HTTP servers on loopback: a redirect to another
origin is refused before it is sent, environment proxies are ignored, and any other origin
passes the address guard like a source URL."""

from __future__ import annotations

import json

import pytest

from tests.support.local_http import recording_server
from wpmigrate.core.errors import MigrationError
from wpmigrate_airflow.hooks import WordPressSiteHook

SECRET = "abcd efgh ijkl mnop qrst uvwx"


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch):
    with recording_server("127.0.0.1") as target, recording_server("127.0.0.2") as collector:
        monkeypatch.setenv("AIRFLOW_CONN_WPM_T_WP", json.dumps({
            "conn_type": "http", "host": target.origin, "login": "platform", "password": SECRET}))
        target.routes["/away"] = (302, {"Location": collector.url("/loot")}, b"")
        target.routes["/wp-json/"] = (200, {"Content-Type": "application/json"}, b"{}")
        yield target, collector


@pytest.mark.parametrize("allowed", ["", "127.0.0.0/8"])
def test_a_redirect_off_the_target_is_refused_before_it_is_sent(servers, monkeypatch, allowed) -> None:
    target, collector = servers
    monkeypatch.setenv("WPMIGRATE_ALLOWED_SOURCE_NETWORKS", allowed)
    with WordPressSiteHook("wpm_t_wp").client_for(target.origin) as client:
        assert client.get("/wp-json/").status_code == 200  # the target itself: reached
        with pytest.raises(MigrationError):
            client.get("/away")
        with pytest.raises(MigrationError):
            client.get(collector.url("/direct"))
    assert [s.path for s in target.seen] == ["/wp-json/", "/away"]
    assert collector.seen == []


def test_environment_proxies_are_ignored(servers, monkeypatch) -> None:
    target, collector = servers
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, collector.origin)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with WordPressSiteHook("wpm_t_wp").client_for(target.origin) as client:
        assert client.get("/wp-json/").status_code == 200
    assert collector.seen == [] and not target.seen[0].via_proxy


def test_the_metadata_address_is_not_a_target_by_default(servers) -> None:
    """Only the origin given is trusted; a link-local address elsewhere is refused unsent."""
    target, _ = servers
    with WordPressSiteHook("wpm_t_wp").client_for(target.origin) as client, pytest.raises(MigrationError):
        client.get("http://169.254.169.254/latest/meta-data/")
