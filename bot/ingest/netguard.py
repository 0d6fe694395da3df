"""Which network addresses the bot must not fetch from (SSRF), and an aiohttp resolver that
refuses them.

A feed that a chat user added is a URL an outsider chose. Checking it once when it is added
is not enough: months later it may redirect to, or its name may resolve to, a loopback,
private or cloud-metadata address. The poller therefore fetches such feeds through
`GuardedResolver`: every DNS answer, for every redirect hop, is checked before aiohttp
connects, and aiohttp connects to exactly the addresses it was given, so an answer cannot
change between the check and the connection. Literal IP hosts skip resolvers in aiohttp;
`blocked_literal` checks those. Operators who want feeds on their own network set
POLICYBOT_ALLOW_PRIVATE_FEEDS=1.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Collection

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named so the refusal says what it is; all of them are non-global anyway.
METADATA_ADDRESSES: dict[str, str] = {
    "169.254.169.254": "cloud metadata service (AWS, GCP, Azure, OpenStack...)",
    "169.254.170.2": "AWS ECS task metadata",
    "fd00:ec2::254": "AWS metadata service (IPv6)",
    "100.100.100.200": "Alibaba Cloud metadata service",
    "168.63.129.16": "Azure host services",
    "192.0.0.192": "Oracle Cloud metadata service",
}
_METADATA = {ipaddress.ip_address(a): why for a, why in METADATA_ADDRESSES.items()}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not ours to reach
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

ALLOW_ENV = "POLICYBOT_ALLOW_PRIVATE_FEEDS"


def allow_private_from_env() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why this address must not be fetched, or None when it is a public address."""
    inner = _embedded_v4(ip)
    if inner is not None:
        why = forbidden_reason(inner)
        return f"{why} (inside the IPv6 address {ip})" if why else None
    if ip in _METADATA:
        return _METADATA[ip]
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_private:
        return "a private network address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a carrier-grade NAT address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


class BlockedAddress(OSError):
    """A feed URL leads to an address we refuse to fetch; str() says why."""


def _refusal(host: str, ip: IPAddress, why: str) -> str:
    shown = host if literal_ip(host) is not None else f"{host} ({ip})"
    return (
        f"refusing to fetch {shown}: {why} (feeds added from chat may not reach private"
        f" networks; the operator can allow it with {ALLOW_ENV}=1)"
    )


def blocked_literal(host: str, port: int, exempt: Collection[tuple[str, int]] = ()) -> str | None:
    """The refusal for a literal-IP host, or None (names go through GuardedResolver)."""
    ip = literal_ip(host)
    if ip is None or (str(ip), port) in exempt:
        return None
    why = forbidden_reason(ip)
    return _refusal(host, ip, why) if why else None


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, and refuses the whole name when ANY of its addresses is not
    public (a name with one public and one private address is a classic rebinding trick).

    `exempt` lists (ip, port) pairs to treat as public: a test hook only.
    """

    def __init__(
        self,
        inner: AbstractResolver | None = None,
        exempt: Collection[tuple[str, int]] = (),
    ) -> None:
        self._inner = inner or DefaultResolver()
        self._exempt = frozenset(exempt)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            ip = literal_ip(str(r["host"]))
            if ip is None:
                raise BlockedAddress(f"refusing to fetch {host}: it resolves to {r['host']!r}")
            if (str(ip), port) in self._exempt:
                continue
            why = forbidden_reason(ip)
            if why:
                raise BlockedAddress(_refusal(host, ip, why))
        return results

    async def close(self) -> None:
        await self._inner.close()
