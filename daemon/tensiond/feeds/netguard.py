"""Refuse feed hosts that resolve to private, loopback, link-local or other non-public addresses.

A feed URL comes from configuration, but redirects come from the network: without this check a
feed (or a redirect it answers with) could make tensiond read a cloud metadata endpoint or an
admin page on the local network. The check runs after DNS resolution, on every address the name
resolves to, and refuses the host if any one of them is not public.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Final

from tensiond.exceptions import BlockedAddressError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""Resolves ``(host, port)`` to IP address strings; the system resolver unless a test passes one."""

_BLOCKED_NETWORKS: Final = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, includes the metadata address 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast
        "::/128",
        "::1/128",
        "::/96",  # deprecated IPv4-compatible addresses
        "100::/64",  # discard-only
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public_address(ip: str | IPAddress) -> bool:
    """Tell whether ``ip`` is a public unicast address that a feed may be fetched from.

    Private, loopback, link-local (and so the metadata address), multicast, reserved,
    unspecified, shared (100.64/10), documentation and unique-local addresses are not public;
    an IPv6 address that embeds an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address.
    A string that is not an IP address is not public.
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0]) if isinstance(ip, str) else ip
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # drops a zone such as %eth0
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    if any(address in network for network in _BLOCKED_NETWORKS):
        return False
    flags = (
        address.is_private,
        address.is_loopback,
        address.is_link_local,
        address.is_multicast,
        address.is_reserved,
        address.is_unspecified,
    )
    return not any(flags) and address.is_global


def system_resolve(host: str, port: int) -> list[str]:
    """Resolve ``host`` with getaddrinfo; :class:`socket.gaierror` when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_host(
    host: str,
    port: int,
    allow_private: bool,
    *,
    url: str | None = None,
    resolver: Resolver | None = None,
) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing it if any address is not public.

    Raises :class:`BlockedAddressError` (unless ``allow_private``) naming the first non-public
    address, and :class:`FetchError` of kind ``network`` when the name does not resolve.
    ``url`` is the resource named on the error (the host itself when not given).
    """
    resource = url or host
    try:
        resolved = (resolver or system_resolve)(host.strip("[]"), port)
    except (OSError, UnicodeError) as error:
        raise FetchError(resource, f"cannot resolve {host}: {error}", kind="network") from error
    addresses = list(dict.fromkeys(resolved))
    if not addresses:
        raise FetchError(resource, f"cannot resolve {host}: no addresses", kind="network")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise BlockedAddressError(resource, address)
    return addresses
