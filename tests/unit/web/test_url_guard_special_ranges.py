"""Issue 10 item 6: the guard refuses IANA special-purpose ranges that Python's
``ipaddress`` flags miss (site-local IPv6, 192.0.0.8, Teredo with a private server part)."""

from __future__ import annotations

import ipaddress

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.web.url_guard import SPECIAL_PURPOSE_SOURCES, check_url, non_public_reason

# Addresses the issue found admitted, and their neighbours in the same registries.
REFUSED = [
    "fec0::1",  # site-local (deprecated, RFC 3879)
    "fefe::1",  # still inside fec0::/10
    "192.0.0.8",  # IPv4 dummy address (RFC 7600)
    "192.0.0.9",  # PCP anycast: IETF protocol assignment, no website lives there
    "192.0.0.170",  # NAT64/DNS64 discovery
    "2001:0:7f00:1::f7f7:f7f7",  # Teredo: server 127.0.0.1, client 8.8.8.8
    "2001:0:a9fe:a9fe::f7f7:f7f7",  # Teredo: server 169.254.169.254
    "2001:0:808:808::7f7f:fffe",  # Teredo: public server, client 128.128.0.1 ... any Teredo
    "2001:2::1",  # benchmarking
    "2001:10::1",  # ORCHID (deprecated)
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
    "5f00::1",  # SRv6 SIDs (RFC 9602)
    "100::1",  # discard-only
    "64:ff9b:1::a00:1",  # local-use IPv4/IPv6 translation (RFC 8215)
    "::7f00:1",  # IPv4-compatible (deprecated), outside 2000::/3
    "4000::1",  # outside 2000::/3: not allocated for unicast
    "192.88.99.1",  # deprecated 6to4 relay anycast
    "198.18.0.1",  # benchmarking
    "192.31.196.1",  # AS112-v4
]


@pytest.mark.parametrize("address", REFUSED)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert non_public_reason(ip) is not None
    url = f"http://[{address}]/" if ip.version == 6 else f"http://{address}/"
    with pytest.raises(MigrationError) as err:
        check_url(url)
    assert err.value.code == ErrorCode.SOURCE_REFUSED and err.value.permanent


def test_teredo_reason_names_both_parts() -> None:
    why = non_public_reason(ipaddress.ip_address("2001:0:7f00:1::f7f7:f7f7"))
    assert why is not None and "Teredo" in why and "127.0.0.1" in why


@pytest.mark.parametrize("address", [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34: judged by the address it embeds
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
])
def test_public_addresses_still_pass(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


def test_allow_list_still_admits_the_sandbox() -> None:
    assert check_url("http://127.0.0.1:8080/", ["127.0.0.0/8"]).addresses == ("127.0.0.1",)
    # ... and does not widen to a Teredo address whose server part is allowed.
    with pytest.raises(MigrationError):
        check_url("http://[2001:0:7f00:1::f7f7:f7f7]/", ["127.0.0.0/8"])


def test_the_table_lists_its_sources() -> None:
    assert any("iana-ipv4-special-registry" in s for s in SPECIAL_PURPOSE_SOURCES)
    assert any("iana-ipv6-special-registry" in s for s in SPECIAL_PURPOSE_SOURCES)
