"""Where a callback may go: the SSRF guard.

A callback URL is chosen by the client, and the gateway POSTs to it from inside its
network, so a URL naming (or resolving to) an internal address would let a client
probe or poke things only the gateway can reach: instance metadata (169.254.169.254),
the database, a VPC service. The guard resolves the host once, refuses the URL unless
every address is public, and returns the address to connect to, so a second DNS
answer (DNS rebinding) cannot swap in another one between the check and the request.
Local and test stacks opt in to private addresses and to plain http on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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
    url: str, *, allow_private: bool, allow_http: bool, resolver: Resolver = system_resolver
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
    if not allow_private and not all(_is_public(ip) for ip in addresses):
        raise CallbackRefused("private_address")
    if scheme == "http" and not (allow_http and all(ip.is_loopback for ip in addresses)):
        raise CallbackRefused("https_required")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port, path, str(addresses[0]))


def _ip(text: str) -> IpAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


def _is_public(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    # is_global excludes private, loopback, link-local, shared (CGNAT), reserved and
    # documentation ranges.
    return ip.is_global and not ip.is_multicast
