"""Issue 10 item 4: the portal's webhook and the target-side checks go through the SSRF
guard (real HTTP servers on 127.0.0.1 and 127.0.0.2)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.local_http import RecordingServer, recording_server
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.notifications import post_webhook
from wpmigrate.core.settings import Settings
from wpmigrate.web.url_guard import target_client, webhook_client

PAYLOAD = {"event": "migration.completed", "migration_id": "x"}


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server("127.0.0.1") as srv:
        yield srv


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    """Another loopback address: what an internal service looks like to a redirect."""
    with recording_server("127.0.0.2") as srv:
        yield srv


def test_webhook_to_an_internal_address_is_refused(server: RecordingServer) -> None:
    with webhook_client() as client, pytest.raises(MigrationError) as err:
        post_webhook(server.url("/internal-admin"), PAYLOAD, client=client)
    assert err.value.code == ErrorCode.SOURCE_REFUSED and err.value.permanent
    assert server.seen == []  # nothing was posted


def test_webhook_to_the_metadata_address_is_refused_before_connecting() -> None:
    with webhook_client(["127.0.0.0/8"]) as client, pytest.raises(MigrationError) as err:
        post_webhook("http://169.254.169.254/latest/meta-data/", PAYLOAD, client=client)
    assert err.value.code == ErrorCode.SOURCE_REFUSED


def test_webhook_on_an_allowed_network_is_posted(server: RecordingServer) -> None:
    with webhook_client(["127.0.0.1/32"]) as client:
        assert post_webhook(server.url("/hook"), PAYLOAD, client=client) == 200
    assert [(s.method, s.path) for s in server.seen] == [("POST", "/hook")]
    assert json.loads(server.seen[0].body) == PAYLOAD


def test_webhook_redirect_to_a_refused_address_is_not_followed(
        server: RecordingServer, elsewhere: RecordingServer) -> None:
    server.routes["/hook"] = (307, {"Location": elsewhere.url("/internal-admin")}, b"")
    with webhook_client(["127.0.0.1/32"]) as client, pytest.raises(MigrationError) as err:
        post_webhook(server.url("/hook"), PAYLOAD, client=client)
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert [s.path for s in server.seen] == ["/hook"]
    assert elsewhere.seen == []


def test_webhook_ignores_proxy_variables(server: RecordingServer, elsewhere: RecordingServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would connect on our behalf to whatever the URL names, unchecked.
    monkeypatch.setenv("HTTP_PROXY", elsewhere.origin)
    monkeypatch.setenv("http_proxy", elsewhere.origin)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with webhook_client(["127.0.0.1/32"]) as client:
        assert post_webhook(server.url("/hook"), PAYLOAD, client=client) == 200
    assert elsewhere.seen == [] and len(server.seen) == 1


def test_webhook_networks_add_to_the_source_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPMIGRATE_ALLOWED_SOURCE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("WPMIGRATE_ALLOWED_WEBHOOK_NETWORKS", "10.1.0.0/16")
    assert [str(n) for n in Settings.from_env().webhook_networks] == ["127.0.0.0/8", "10.1.0.0/16"]
    monkeypatch.delenv("WPMIGRATE_ALLOWED_SOURCE_NETWORKS")
    monkeypatch.delenv("WPMIGRATE_ALLOWED_WEBHOOK_NETWORKS")
    assert Settings.from_env().webhook_networks == ()


def test_target_client_reaches_the_configured_target_on_loopback(server: RecordingServer) -> None:
    server.routes["/"] = (200, {"Content-Type": "text/html"}, b"<title>target</title>")
    with target_client(server.url("/")) as client:  # no allow-list: the target is the platform's
        assert client.get(server.url("/")).text == "<title>target</title>"
        assert client.get(server.url("/?p=1")).status_code == 200


def test_target_redirect_off_the_target_is_refused(server: RecordingServer,
                                                   elsewhere: RecordingServer) -> None:
    server.routes["/moved"] = (302, {"Location": elsewhere.url("/latest/meta-data/")}, b"")
    with (target_client(server.url("/"), follow_redirects=True) as client,
          pytest.raises(MigrationError) as err):
        client.get(server.url("/moved"))
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert elsewhere.seen == []


def test_target_trust_is_for_its_origin_only(server: RecordingServer) -> None:
    with recording_server("127.0.0.1") as other_port:
        server.routes["/moved"] = (301, {"Location": other_port.url("/admin")}, b"")
        with target_client(server.url("/")) as client, pytest.raises(MigrationError):
            client.get(server.url("/moved"), follow_redirects=True)
        assert other_port.seen == []
        # The sandbox's allow-list (loopback) still admits it, as it admits sandbox sources.
        with target_client(server.url("/"), ["127.0.0.0/8"]) as client:
            assert client.get(server.url("/moved"), follow_redirects=True).status_code == 200
        assert [s.path for s in other_port.seen] == ["/admin"]
