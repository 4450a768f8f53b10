"""Which addresses a feed may be fetched from, and the check after DNS resolution."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensiond.exceptions import BlockedAddressError, FetchError
from tensiond.feeds.netguard import check_host, is_public_address

BLOCKED_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
BLOCKED_V6 = ["::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        pytest.param("93.184.216.34", True, id="public-v4"),
        pytest.param("8.8.8.8", True, id="dns-v4"),
        pytest.param("2606:4700:4700::1111", True, id="public-v6"),
        pytest.param("127.0.0.1", False, id="loopback"),
        pytest.param("127.8.9.10", False, id="loopback-range"),
        pytest.param("10.1.2.3", False, id="private-10"),
        pytest.param("172.31.255.255", False, id="private-172"),
        pytest.param("192.168.1.1", False, id="private-192"),
        pytest.param("169.254.169.254", False, id="metadata"),
        pytest.param("100.64.0.1", False, id="shared-cgnat"),
        pytest.param("0.0.0.0", False, id="unspecified-v4"),
        pytest.param("224.0.0.1", False, id="multicast-v4"),
        pytest.param("255.255.255.255", False, id="broadcast"),
        pytest.param("240.0.0.1", False, id="reserved"),
        pytest.param("::1", False, id="loopback-v6"),
        pytest.param("::", False, id="unspecified-v6"),
        pytest.param("fe80::1", False, id="link-local-v6"),
        pytest.param("fe80::1%eth0", False, id="link-local-with-zone"),
        pytest.param("fd00::1", False, id="unique-local"),
        pytest.param("ff02::1", False, id="multicast-v6"),
        pytest.param("::ffff:127.0.0.1", False, id="mapped-loopback"),
        pytest.param("::ffff:169.254.169.254", False, id="mapped-metadata"),
        pytest.param("::ffff:10.0.0.1", False, id="mapped-private"),
        pytest.param("::ffff:93.184.216.34", True, id="mapped-public"),
        pytest.param("64:ff9b::7f00:1", False, id="nat64-loopback"),
        pytest.param("2002:7f00:1::", False, id="6to4-loopback"),
        pytest.param("not an address", False, id="garbage"),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@given(st.sampled_from(BLOCKED_V4).flatmap(lambda net: st.ip_addresses(network=net)))
def test_blocked_ipv4_ranges_are_never_public(address: ipaddress.IPv4Address) -> None:
    assert not is_public_address(address)
    assert not is_public_address(f"::ffff:{address}")


@given(st.sampled_from(BLOCKED_V6).flatmap(lambda net: st.ip_addresses(network=net)))
def test_blocked_ipv6_ranges_are_never_public(address: ipaddress.IPv6Address) -> None:
    assert not is_public_address(str(address))


@given(st.ip_addresses(v=4))
def test_a_mapped_address_is_judged_by_its_ipv4_address(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_public_address(mapped) == is_public_address(address)


@given(st.ip_addresses())
def test_public_addresses_are_global_unicast(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if is_public_address(address):
        assert address.is_global and not address.is_multicast and not address.is_loopback


@pytest.mark.parametrize(
    ("addresses", "blocked"),
    [
        pytest.param(["93.184.216.34"], None, id="public"),
        pytest.param(["93.184.216.34", "127.0.0.1"], "127.0.0.1", id="any-private-address"),
        pytest.param(["169.254.169.254"], "169.254.169.254", id="metadata"),
        pytest.param(["::1"], "::1", id="loopback-v6"),
    ],
)
def test_check_host(addresses: list[str], blocked: str | None) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return addresses

    if blocked is None:
        assert check_host("feeds.test", 443, False, resolver=resolver) == addresses
        return
    with pytest.raises(BlockedAddressError) as caught:
        check_host("feeds.test", 443, False, url="https://feeds.test/rss", resolver=resolver)
    assert caught.value.address == blocked and caught.value.kind == "blocked"
    assert caught.value.url == "https://feeds.test/rss"


def test_private_addresses_pass_when_allowed() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "127.0.0.1"]

    assert check_host("localhost", 80, True, resolver=resolver) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(socket.gaierror(socket.EAI_NONAME, "unknown"), id="unknown-name"),
        pytest.param([], id="no-addresses"),
    ],
)
def test_unresolvable_host_is_a_network_error(failure: object) -> None:
    def resolver(host: str, port: int) -> list[str]:
        if isinstance(failure, Exception):
            raise failure
        return []

    with pytest.raises(FetchError) as caught:
        check_host("nowhere.test", 80, False, resolver=resolver)
    assert caught.value.kind == "network" and not isinstance(caught.value, BlockedAddressError)


def test_the_system_resolver_refuses_loopback_by_default() -> None:
    with pytest.raises(BlockedAddressError):
        check_host("127.0.0.1", 80, False)
