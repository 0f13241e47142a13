"""SSRF guard for every URL the service fetches from a source site, and for the other
URLs a conf names: the portal's webhook and redirects off the target site.

A source URL comes from a tenant, so it may point at the platform's own network
(``http://127.0.0.1:8080``, ``http://169.254.169.254/latest/meta-data``, a private
database host...). ``check_url`` resolves the host and refuses it when ANY of its
addresses is not public, unless it lies inside an explicit allow-list (the test
sandbox needs 127.0.0.1; production leaves the list empty).

``guarded_client`` returns an ``httpx.Client`` whose transport checks every request,
including each redirect hop, and then connects to the very address it checked
(pinning), so a DNS answer that changes between the check and the connect (DNS
rebinding) cannot slip a private address through. Connections are pooled by host name,
not by address, so each name's TLS certificate is checked on its own connection.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from wpmigrate.core.errors import ErrorCode, MigrationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The address table. Every special-purpose block of IANA's IPv4 and IPv6 registries is
# refused, including the few the registries mark "globally reachable" (anycast services such
# as PCP, TURN or AS112: no website lives there); Python's ``is_private``/``is_global`` stay
# as a second line but miss some (192.0.0.8 and fec0::/10 on 3.11). IPv6 outside 2000::/3,
# the only block IANA allocates for global unicast, is refused as a whole (site-local
# fec0::/10, ULA, link-local, multicast, IPv4-compatible ::/96, discard-only 100::/64 ...).
# 6to4 and NAT64 (64:ff9b::/96) are judged by the IPv4 address they embed.
SPECIAL_PURPOSE_SOURCES = (
    "IANA IPv4 Special-Purpose Address Registry, https://www.iana.org/assignments/iana-ipv4-special-registry/",
    "IANA IPv6 Special-Purpose Address Registry, https://www.iana.org/assignments/iana-ipv6-special-registry/",
    "IANA IPv6 Address Space (2000::/3 global unicast; fec0::/10 reserved, RFC 3879), "
    "https://www.iana.org/assignments/ipv6-address-space/",
    "IANA IPv4 Address Space (224.0.0.0/4 multicast, RFC 5771; 240.0.0.0/4 reserved, RFC 1112), "
    "https://www.iana.org/assignments/ipv4-address-space/",
    "RFC 6890 (Special-Purpose IP Address Registries), RFC 4380 (Teredo), RFC 3056 (6to4), "
    "RFC 6052 (NAT64 well-known prefix), RFC 8215 (local-use IPv4/IPv6 translation prefix)",
)
_SPECIAL_PURPOSE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), name) for net, name in (
        # IPv4 special-purpose registry (and the multicast/reserved blocks of the address space)
        ("0.0.0.0/8", "'this network' (RFC 791)"),
        ("10.0.0.0/8", "private-use (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback (RFC 1122)"),
        ("169.254.0.0/16", "link-local"),  # RFC 3927; cloud metadata 169.254.169.254
        ("172.16.0.0/12", "private-use (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890: service continuity, dummy "
                         "192.0.0.8, PCP/TURN anycast, NAT64 discovery)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1, RFC 5737)"),
        ("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
        ("192.52.193.0/24", "AMT (RFC 7450)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
        ("192.168.0.0/16", "private-use (RFC 1918)"),
        ("192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2, RFC 5737)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3, RFC 5737)"),
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        ("240.0.0.0/4", "reserved (RFC 1112)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919)"),
        # IPv6 special-purpose registry, inside 2000::/3 (the rest of it lies outside)
        ("2001::/23", "IETF protocol assignments (RFC 2928: Teredo, benchmarking, ORCHID, "
                      "AMT, AS112, PCP/TURN anycast ...)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
        ("3fff::/20", "documentation (RFC 9637)"),
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_TEREDO = ipaddress.ip_network("2001::/32")
# NAT64 well-known prefix embeds an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_ALLOWED_SCHEMES = frozenset({"http", "https"})
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class GuardedUrl:
    """A URL that passed the guard, with the addresses it was checked against."""

    url: str
    scheme: str
    host: str  # lower-case, IDNA-encoded, no brackets
    port: int
    addresses: tuple[str, ...]  # in getaddrinfo order; connect to these only


def _refused(url: str, reason: str, **details: Any) -> MigrationError:
    return MigrationError(
        ErrorCode.SOURCE_REFUSED, f"{reason}: {url}", permanent=True, details={"url": url, **details}
    )


def normalise_networks(networks: Iterable[IPNetwork | str] | None) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in (networks or ()))


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any.

    Teredo is not one of them: its address names a relay server as well as the client, and
    the whole block is refused."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _special_purpose(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip in _TEREDO and ip.teredo is not None:
        server, client = ip.teredo
        return f"a Teredo tunnel address (server {server}, client {client}; RFC 4380)"
    for net, name in _SPECIAL_PURPOSE:
        if ip.version == net.version and ip in net:
            return name
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        return "outside 2000::/3, the IPv6 global unicast space (IANA IPv6 address space)"
    return None


def non_public_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is public.

    The explicit table of special-purpose ranges (``_SPECIAL_PURPOSE``) first, then
    Python's own flags as a second line."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = non_public_reason(inner)
        return f"embeds {inner} ({why})" if why else None
    special = _special_purpose(ip)
    if special:
        return special
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def _allowed(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    candidates: list[IPAddress] = [ip]
    inner = _embedded_ipv4(ip)
    if inner is not None:
        candidates.append(inner)
    return any(c.version == n.version and c in n for c in candidates for n in networks)


def _resolve(host: str, port: int, url: str) -> tuple[str, ...]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (str(literal),)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        # DNS can fail transiently; the probe retries and decides when to give up.
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            f"cannot resolve host {host!r}: {exc}",
            permanent=False,
            details={"url": url, "host": host, "reason": "dns"},
        ) from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE, f"host {host!r} has no address", permanent=False,
            details={"url": url, "host": host, "reason": "dns"},
        )
    return tuple(addresses)


Origin = tuple[str, str, int]  # scheme, host (lower-case, IDNA, no brackets), port


def url_origin(url: str) -> Origin:
    """``url``'s scheme, host and port, as the guard compares them; ``SOURCE_REFUSED`` for a
    URL the guard never fetches (bad scheme, credentials, control characters, no host)."""
    if not isinstance(url, str) or not url.strip():
        raise _refused(str(url), "empty URL")
    if any(ch in url for ch in "\r\n\t\x00"):
        raise _refused(url, "control characters in URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise _refused(url, f"malformed URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise _refused(url, f"scheme {scheme or '(none)'!r} is not allowed (http/https only)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refused(url, "credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _refused(url, "no host in URL")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError as exc:
        raise _refused(url, f"invalid host name ({exc})") from exc
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_url(url: str, allowed_networks: Iterable[IPNetwork | str] = (), *,
              trusted_origins: Collection[Origin] = ()) -> GuardedUrl:
    """Validate ``url`` and every address its host resolves to.

    Raises ``MigrationError(SOURCE_REFUSED, permanent=True)`` for a bad scheme,
    credentials in the URL, or any non-public address outside ``allowed_networks``;
    ``MigrationError(SOURCE_UNREACHABLE, permanent=False)`` when the host does not resolve.
    ``trusted_origins`` (from ``url_origin``): origins the platform itself configured (the
    target site), reached whatever their address; still resolved once and pinned.
    """
    networks = normalise_networks(allowed_networks)
    scheme, host, port = url_origin(url)
    addresses = _resolve(host, port, url)
    if (scheme, host, port) not in trusted_origins:
        for addr in addresses:
            ip = ipaddress.ip_address(addr)
            why = non_public_reason(ip)
            if why and not _allowed(ip, networks):
                raise _refused(url, f"{host} resolves to {addr}, which is {why}", host=host, address=addr)
    return GuardedUrl(url=url, scheme=scheme, host=host, port=port, addresses=addresses)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the address the guard checked for the request being sent, never to what
    a name resolves to now (DNS rebinding).

    The URL keeps its host name, so the connection pool is keyed by name: a connection
    opened (and its certificate checked) for ``a.test`` is never reused for ``b.test`` on
    the same address, and TLS checks the certificate against the name the URL gives.
    httpcore connects in the thread that sends the request, so the pin is thread-local; a
    connect without a pin for that very host is refused."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()

    @contextmanager
    def pinned(self, host: str, address: str) -> Iterator[None]:
        self._local.pin = (host, address)
        try:
            yield
        finally:
            self._local.pin = None

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        pin = getattr(self._local, "pin", None)
        if pin is None or pin[0] != host:
            raise httpcore.ConnectError(f"no checked address for {host!r}: connection refused by the guard")
        return self._inner.connect_tcp(pin[1], port, timeout, local_address, socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable through the guard")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's


class _PinnedHTTPTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that connects through ``_PinnedBackend``."""

    def __init__(self, backend: _PinnedBackend, *, verify: Any = True,
                 limits: httpx.Limits = _LIMITS) -> None:
        super().__init__(verify=verify, limits=limits)
        # httpx builds its pool without a way to pass a network backend; replace it with the
        # same pool plus ours (httpx 0.28: ``_pool``). Fail loudly if httpx changes that.
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise TypeError("httpx.HTTPTransport has no httpcore pool to pin: update url_guard")
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class GuardedTransport(httpx.BaseTransport):
    """Checks (and pins) every request, so redirects are checked hop by hop.

    ``inner``: a transport that connects by itself (tests: ``httpx.MockTransport``); it gets
    the checks but no pinning."""

    def __init__(
        self,
        allowed_networks: Iterable[IPNetwork | str] = (),
        *,
        read_only: bool = False,
        inner: httpx.BaseTransport | None = None,
        verify: Any = True,
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.allowed_networks = normalise_networks(allowed_networks)
        self.trusted_origins = frozenset(url_origin(u) for u in trusted_origins)
        self.read_only = read_only
        self._backend = _PinnedBackend()
        self._inner = inner or _PinnedHTTPTransport(self._backend, verify=verify)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.read_only and request.method.upper() not in READ_ONLY_METHODS:
            # Sources are never written to (seed 8.3); make that structural.
            raise _refused(str(request.url), f"method {request.method} is not allowed on a source")
        guarded = check_url(str(request.url), self.allowed_networks, trusted_origins=self.trusted_origins)
        # httpcore hands connect_tcp the URL's host as it sends it (raw, ASCII).
        with self._backend.pinned(request.url.raw_host.decode("ascii"), guarded.addresses[0]):
            return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def guarded_client(
    allowed_networks: Iterable[IPNetwork | str] = (),
    *,
    read_only: bool = False,
    verify: Any = True,
    trusted_origins: Iterable[str] = (),
    **client_kwargs: Any,
) -> httpx.Client:
    """An ``httpx.Client`` whose every request (and redirect hop) passes ``check_url``.

    Environment proxies are ignored (a proxy would connect on our behalf, unchecked).
    ``trusted_origins``: URLs whose origin (scheme, host, port) is reached whatever its
    address; see ``target_client``.
    """
    client_kwargs.setdefault("follow_redirects", True)
    client_kwargs.setdefault("max_redirects", 10)
    transport = GuardedTransport(allowed_networks, read_only=read_only, verify=verify,
                                 trusted_origins=trusted_origins)
    return httpx.Client(transport=transport, trust_env=False, **client_kwargs)


def target_client(target_url: str, allowed_networks: Iterable[IPNetwork | str] = (),
                  **client_kwargs: Any) -> httpx.Client:
    """A guarded client for checks against the platform's own target site.

    The target's origin, as the platform configured it, is reached whatever its address
    (the platform runs it; the sandbox's is on 127.0.0.1); any other origin, such as a
    redirect the migrated site makes, passes the guard like a source URL would (refused
    unless public or inside ``allowed_networks``)."""
    return guarded_client(allowed_networks, trusted_origins=[target_url], **client_kwargs)


def webhook_client(allowed_networks: Iterable[IPNetwork | str] = (), **client_kwargs: Any) -> httpx.Client:
    """A guarded client for the portal's webhook: every hop checked, no environment proxy."""
    return guarded_client(allowed_networks, **client_kwargs)
