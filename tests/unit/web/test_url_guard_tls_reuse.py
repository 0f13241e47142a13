"""Issue 10 item 5: a certificate is checked for every host name, also when the guarded
client already holds a connection to the same address for another name.

A real HTTPS server on 127.0.0.1 whose certificate is valid for ``localhost`` only; the
second name for the same address is the literal ``127.0.0.1`` (and the machine's own name
when it resolves to 127.0.0.1 alone)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.local_tls import TlsFiles, TlsServer, make_certificates, tls_server
from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.web.url_guard import guarded_client

LOOPBACK = ("127.0.0.0/8", "::1/128")
REFUSED_CERT = r"CERTIFICATE_VERIFY_FAILED"


def _other_names() -> list[str]:
    names = ["127.0.0.1"]
    own = socket.gethostname()
    try:
        addrs = {i[4][0] for i in socket.getaddrinfo(own, 443, type=socket.SOCK_STREAM)}
    except OSError:
        addrs = set()
    if own != "localhost" and addrs == {"127.0.0.1"}:
        names.append(own)
    return names


def _localhost_is_ipv4_only() -> bool:
    return {i[4][0] for i in socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)} == {"127.0.0.1"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificates(Path(tmp_path_factory.mktemp("tls")), ["localhost"])


@pytest.fixture
def server(certs: TlsFiles) -> Iterator[TlsServer]:
    if not _localhost_is_ipv4_only():
        pytest.skip("localhost must resolve to 127.0.0.1 alone for a server on 127.0.0.1")
    with tls_server(certs) as srv:
        yield srv


@pytest.mark.parametrize("other", _other_names())
def test_a_fresh_client_refuses_the_other_name(certs: TlsFiles, server: TlsServer, other: str) -> None:
    with (guarded_client(LOOPBACK, verify=certs.client_context()) as client,
          pytest.raises(httpx.ConnectError, match=REFUSED_CERT)):
        client.get(f"https://{other}:{server.port}/")


@pytest.mark.parametrize("other", _other_names())
def test_a_reused_connection_does_not_skip_the_certificate_check(
        certs: TlsFiles, server: TlsServer, other: str) -> None:
    with guarded_client(LOOPBACK, verify=certs.client_context()) as client:
        first = client.get(f"https://localhost:{server.port}/a")
        assert first.status_code == 200 and first.text == f"hello from localhost:{server.port}"
        # The same name again reuses its connection (pooling still works) ...
        assert client.get(f"https://localhost:{server.port}/b").status_code == 200
        assert server.handshakes == 1
        # ... but another name on the same address gets its own, checked, connection.
        with pytest.raises(httpx.ConnectError, match=REFUSED_CERT):
            client.get(f"https://{other}:{server.port}/secret")
    assert [r.path for r in server.requests] == ["/a", "/b"]
    assert all(r.sni == "localhost" for r in server.requests)


def test_polite_fetcher_checks_each_host_on_its_shared_client(certs: TlsFiles, server: TlsServer) -> None:
    with guarded_client(LOOPBACK, read_only=True, verify=certs.client_context()) as client:
        fetcher = PoliteFetcher(client, respect_robots=False, attempts=1, rate_per_second=1000)
        assert fetcher.get(f"https://localhost:{server.port}/page").ok
        with pytest.raises(MigrationError, match=REFUSED_CERT):
            fetcher.get(f"https://127.0.0.1:{server.port}/page")
    assert [r.path for r in server.requests] == ["/page"]
