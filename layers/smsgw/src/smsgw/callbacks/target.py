"""Where a callback may go: the SSRF guard.

A callback URL is chosen by the client, and the gateway POSTs to it from inside its
network, so a URL naming (or resolving to) an internal address would let a client
probe or poke things only the gateway can reach: instance metadata (169.254.169.254),
the database, a VPC service. The guard resolves the host once, refuses the URL unless
every address is public, and returns the address to connect to, so a second DNS
answer (DNS rebinding) cannot swap in another one between the check and the request.

An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64,
6to4, Teredo) is judged by the IPv4 address it carries: 64:ff9b::a9fe:a9fe reaches
169.254.169.254 through a NAT64 gateway. Local and test stacks opt in to loopback
(their receivers listen on 127.0.0.1) and to plain http there; never to private
networks, so a test's callback URL cannot reach out of the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix (RFC 6052)
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use (RFC 8215)
# Not globally reachable (IANA special-purpose registries) yet global to the ipaddress
# module of some Python 3.12 releases: the Lambda runtime's may differ from ours.
_NOT_GLOBAL: Final = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.IPv6Network("5f00::/16"),  # SRv6 SIDs (RFC 9602)
)


class CallbackRefused(Exception):
    """The URL is not allowed; retrying cannot help. ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallbackUnreachable(Exception):
    """The endpoint could not be reached this time (DNS, connection, timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as in the URL: the Host header and the TLS server name
    port: int
    path: str  # path and query
    address: str  # the checked IP to connect to


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_target(
    url: str, *, allow_loopback: bool, allow_http: bool, resolver: Resolver = system_resolver
) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CallbackRefused("malformed_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise CallbackRefused("unsupported_scheme")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("credentials_in_url")
    host = parts.hostname
    if not host:
        raise CallbackRefused("malformed_url")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = [_ip(a) for a in resolver(host, port)]
    except (OSError, UnicodeError, ValueError):
        raise CallbackUnreachable("dns_failure") from None
    if not addresses:
        raise CallbackUnreachable("dns_failure")
    # Every address must pass: a name resolving to one public and one private address
    # would otherwise reach the private one on some attempts.
    if not all(is_public(ip) or (allow_loopback and _is_loopback(ip)) for ip in addresses):
        raise CallbackRefused("private_address")
    if scheme == "http" and not (allow_http and all(_is_loopback(ip) for ip in addresses)):
        raise CallbackRefused("https_required")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port, path, str(addresses[0]))


def _ip(text: str) -> IpAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


def is_public(ip: IpAddress) -> bool:
    """Whether a callback may go to ``ip``: a globally reachable unicast address, and,
    for an IPv6 address that carries an IPv4 one, that IPv4 address too."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_v4(ip)
    if (
        any(ip in network for network in _NOT_GLOBAL)
        or ip in _NAT64_LOCAL
        or ip in _IPV4_COMPATIBLE
    ):
        return False  # translated within a network, or deprecated and unroutable
    if ip.ipv4_mapped is not None:
        return _is_public_v4(ip.ipv4_mapped)
    if ip in _NAT64:
        return _is_public_v4(_low_ipv4(ip))  # DNS64 answers these for public names
    if ip.sixtofour is not None:  # 2002::/16, the IPv4 address in bits 16-48
        return _is_public_v4(ip.sixtofour)
    # Teredo, 2001::/32: the server in bits 32-64, the client inverted in the last 32
    # (and 2001::/32 is not globally reachable either, which the checks below say).
    if ip.teredo is not None and not all(_is_public_v4(v4) for v4 in ip.teredo):
        return False
    return not (
        ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_site_local  # fec0::/10, which is_global does not exclude
        or ip.is_private
        or ip.is_reserved
        or not ip.is_global
    )


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    # is_global alone excludes private, loopback, link-local, shared (CGNAT),
    # benchmarking, reserved and documentation ranges, but not multicast.
    return not (
        any(ip in network for network in _NOT_GLOBAL)
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or not ip.is_global
    )


def _is_loopback(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1
    return ip.is_loopback


def _low_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
