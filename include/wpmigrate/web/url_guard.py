"""SSRF guard for every URL the service fetches from a source site.

A source URL comes from a tenant, so it may point at the platform's own network
(``http://127.0.0.1:8080``, ``http://169.254.169.254/latest/meta-data``, a private
database host...). ``check_url`` resolves the host and refuses it when ANY of its
addresses is not public, unless it lies inside an explicit allow-list (the test
sandbox needs 127.0.0.1; production leaves the list empty).

``guarded_client`` returns an ``httpx.Client`` whose transport checks every request,
including each redirect hop, and then connects to the very address it checked
(pinning), so a DNS answer that changes between the check and the connect (DNS
rebinding) cannot slip a private address through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from wpmigrate.core.errors import ErrorCode, MigrationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Shared address space (carrier-grade NAT); not "private" for Python < 3.11.? but never public.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
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
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def non_public_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is public."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = non_public_reason(inner)
        return f"embeds {inner} ({why})" if why else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),  # includes 169.254.169.254 (cloud metadata)
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("shared address space (CGNAT)", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
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


def check_url(url: str, allowed_networks: Iterable[IPNetwork | str] = ()) -> GuardedUrl:
    """Validate ``url`` and every address its host resolves to.

    Raises ``MigrationError(SOURCE_REFUSED, permanent=True)`` for a bad scheme,
    credentials in the URL, or any non-public address outside ``allowed_networks``;
    ``MigrationError(SOURCE_UNREACHABLE, permanent=False)`` when the host does not resolve.
    """
    networks = normalise_networks(allowed_networks)
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
    port = port or (443 if scheme == "https" else 80)

    addresses = _resolve(host, port, url)
    for addr in addresses:
        ip = ipaddress.ip_address(addr)
        why = non_public_reason(ip)
        if why and not _allowed(ip, networks):
            raise _refused(url, f"{host} resolves to {addr}, which is {why}", host=host, address=addr)
    return GuardedUrl(url=url, scheme=scheme, host=host, port=port, addresses=addresses)


def _pinned_request(request: httpx.Request, guarded: GuardedUrl) -> httpx.Request:
    """A copy of ``request`` that connects to the checked address, keeping Host and TLS SNI."""
    ip = guarded.addresses[0]
    if ip == guarded.host:
        return request
    extensions = dict(request.extensions)
    if guarded.scheme == "https":
        # httpcore uses sni_hostname for SNI and for certificate hostname checks.
        extensions["sni_hostname"] = guarded.host
    return httpx.Request(
        request.method,
        request.url.copy_with(host=ip),
        headers=request.headers,  # already carries Host: <original host>
        stream=request.stream,
        extensions=extensions,
    )


class GuardedTransport(httpx.BaseTransport):
    """Checks (and pins) every request, so redirects are checked hop by hop."""

    def __init__(
        self,
        allowed_networks: Iterable[IPNetwork | str] = (),
        *,
        read_only: bool = False,
        inner: httpx.BaseTransport | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.allowed_networks = normalise_networks(allowed_networks)
        self.read_only = read_only
        self._inner = inner or httpx.HTTPTransport(**transport_kwargs)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.read_only and request.method.upper() not in READ_ONLY_METHODS:
            # Sources are never written to (seed 8.3); make that structural.
            raise _refused(str(request.url), f"method {request.method} is not allowed on a source")
        guarded = check_url(str(request.url), self.allowed_networks)
        return self._inner.handle_request(_pinned_request(request, guarded))

    def close(self) -> None:
        self._inner.close()


def guarded_client(
    allowed_networks: Iterable[IPNetwork | str] = (),
    *,
    read_only: bool = False,
    verify: Any = True,
    **client_kwargs: Any,
) -> httpx.Client:
    """An ``httpx.Client`` whose every request (and redirect hop) passes ``check_url``.

    Environment proxies are ignored (a proxy would connect on our behalf, unchecked).
    """
    client_kwargs.setdefault("follow_redirects", True)
    client_kwargs.setdefault("max_redirects", 10)
    transport = GuardedTransport(allowed_networks, read_only=read_only, verify=verify)
    return httpx.Client(transport=transport, trust_env=False, **client_kwargs)

