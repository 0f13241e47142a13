"""SSRF guard: literal addresses and ``localhost`` only (no external DNS here)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import httpx
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.web.url_guard import (
    GuardedTransport,
    check_url,
    guarded_client,
    non_public_reason,
)

REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/wp-admin",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a00:1]/",  # ::ffff:10.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[ff02::1]/",
    "http://2130706433/",  # decimal 127.0.0.1, as curl/browsers read it
    "http://0x7f.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(MigrationError) as err:
        check_url(url)
    # Odd spellings (decimal, hex) either resolve to loopback (refused) or not at all.
    assert err.value.code in (ErrorCode.SOURCE_REFUSED, ErrorCode.SOURCE_UNREACHABLE)
    if err.value.code == ErrorCode.SOURCE_REFUSED:
        assert err.value.permanent


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://localhost/", "http://[::ffff:127.0.0.1]/"])
def test_refusal_codes_are_permanent_source_refused(url: str) -> None:
    with pytest.raises(MigrationError) as err:
        check_url(url)
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert err.value.permanent


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/",
        "file:///etc/passwd",
        "gopher://93.184.216.34/",
        "javascript:alert(1)",
        "http://user:pw@93.184.216.34/",
        "http://user@93.184.216.34/",
        "http:///nohost",
        "",
        "http://93.184.216.34/\r\nHost: evil",
        "http://93.184.216.34:99999/",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(MigrationError) as err:
        check_url(url)
    assert err.value.code == ErrorCode.SOURCE_REFUSED


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/", "https://8.8.8.8:8443/x?y=1", "http://[2606:4700:4700::1111]/"]
)
def test_public_literals_pass(url: str) -> None:
    guarded = check_url(url)
    assert guarded.addresses and guarded.scheme in ("http", "https")


def test_allow_list_admits_sandbox_addresses() -> None:
    guarded = check_url("http://127.0.0.1:8080/", ["127.0.0.0/8"])
    assert guarded.addresses == ("127.0.0.1",)
    assert guarded.port == 8080
    # An IPv4 allow-list also covers the IPv4-mapped IPv6 spelling.
    check_url("http://[::ffff:127.0.0.1]/", [ipaddress.ip_network("127.0.0.0/8")])
    # ... but not other private ranges.
    with pytest.raises(MigrationError):
        check_url("http://169.254.169.254/", ["127.0.0.0/8"])


def test_localhost_refused_if_any_address_is_not_allowed() -> None:
    addrs = {i[4][0] for i in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}
    if "::1" in addrs:
        # localhost -> 127.0.0.1 and ::1: allowing only the IPv4 loopback is not enough.
        with pytest.raises(MigrationError):
            check_url("http://localhost/", ["127.0.0.0/8"])
    check_url("http://localhost/", ["127.0.0.0/8", "::1/128"])


def test_unresolvable_host_is_unreachable() -> None:
    with pytest.raises(MigrationError) as err:
        check_url("http://no-such-host.invalid/")
    assert err.value.code == ErrorCode.SOURCE_UNREACHABLE


def test_reason_helper() -> None:
    assert non_public_reason(ipaddress.ip_address("169.254.169.254")) == "link-local"
    assert non_public_reason(ipaddress.ip_address("100.100.100.100")).startswith("shared")
    assert non_public_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert "127.0.0.1" in non_public_reason(ipaddress.ip_address("::ffff:127.0.0.1"))


def _mock_client(handler, allowed=(), **kw) -> httpx.Client:
    transport = GuardedTransport(allowed, inner=httpx.MockTransport(handler), **kw)
    return httpx.Client(transport=transport, follow_redirects=True)


def test_redirect_to_loopback_is_refused_at_the_hop() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "93.184.216.34":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1:22/"})
        return httpx.Response(200, text="internal secret")

    with _mock_client(handler) as client, pytest.raises(MigrationError) as err:
        client.get("http://93.184.216.34/")
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert seen == ["http://93.184.216.34/"]  # the private hop was never sent


def test_redirect_to_metadata_is_refused_even_with_loopback_allowed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with _mock_client(handler, ["127.0.0.0/8"]) as client, pytest.raises(MigrationError) as err:
        client.get("http://127.0.0.1:8080/")
    assert err.value.code == ErrorCode.SOURCE_REFUSED


class _EchoHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = f"{self.headers.get('Host')} {self.client_address[0]} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_connection_is_pinned_to_the_checked_address() -> None:
    """A real server on 127.0.0.1: the request reaches the checked address with its Host
    name, and the transport's connector refuses a host it was not given a checked address for
    (it never resolves a name itself)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with guarded_client(["127.0.0.0/8", "::1/128"]) as client:
            guarded = check_url(f"http://localhost:{port}/", ["127.0.0.0/8", "::1/128"])
            if guarded.addresses[0] != "127.0.0.1":
                pytest.skip("localhost does not resolve to 127.0.0.1 first here")
            response = client.get(f"http://localhost:{port}/path?q=1")
            assert response.status_code == 200
            assert response.text == f"localhost:{port} 127.0.0.1 /path?q=1"
            assert str(response.url) == f"http://localhost:{port}/path?q=1"  # callers see the original URL
            transport = client._transport
            assert isinstance(transport, GuardedTransport)
            with pytest.raises(httpcore.ConnectError, match="no checked address"):
                transport._backend.connect_tcp("localhost", port)
    finally:
        server.shutdown()
        server.server_close()


def test_read_only_client_refuses_writes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # pragma: no cover - never reached
        raise AssertionError("a write reached the source")

    with _mock_client(handler, read_only=True) as client:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            with pytest.raises(MigrationError):
                client.request(method, "http://93.184.216.34/wp-json/wp/v2/posts")


def test_guarded_client_ignores_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    with guarded_client() as client, pytest.raises(MigrationError) as err:
        client.get("http://127.0.0.1:1/")
    assert err.value.code == ErrorCode.SOURCE_REFUSED
