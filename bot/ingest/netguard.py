"""Which network addresses the bot must not fetch from (SSRF), and an aiohttp resolver that
refuses them.

A feed that a chat user added is a URL an outsider chose. Checking it once when it is added
is not enough: months later it may redirect to, or its name may resolve to, a loopback,
private or cloud-metadata address. The poller therefore fetches such feeds through
`GuardedResolver`: every DNS answer, for every redirect hop, is checked before aiohttp
connects, and aiohttp connects to exactly the addresses it was given, so an answer cannot
change between the check and the connection. Literal IP hosts skip resolvers in aiohttp;
`blocked_url` checks those, in every spelling that reaches an address: the host as aiohttp
(yarl) will connect to it, and UTS-46 mapped (full-width digits, ideographic full stops and
circled digits all become ASCII: "127。0。0。1" and "①②⑦.0.0.1" are 127.0.0.1), and the
numeric forms the system resolver reads as IPv4 (0177.0.0.1, 0x7f.1, 2130706433, 127.1).
Operators who want feeds on their own network set POLICYBOT_ALLOW_PRIVATE_FEEDS=1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

import idna
import yarl
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
URL_SHOWN_MAX = 200  # characters of a URL (or host) quoted in a message: some are megabytes
# What inet_aton, and so getaddrinfo, takes for an IPv4 address: one to four parts, each
# decimal, octal (leading 0) or hex (0x).
_NUMERIC_HOST_RE = re.compile(
    r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}"
)


def shorten(text: str, limit: int = URL_SHOWN_MAX) -> str:
    """A URL or host for a message: at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


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
    """The address a host names literally, in any form a resolver reads as one; else None."""
    host = host.strip().strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    numeric = host[:-1] if host.endswith(".") else host  # "127.0.0.1." resolves the same
    if len(numeric) <= 64 and _NUMERIC_HOST_RE.fullmatch(numeric):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(numeric))
        except OSError:  # a part out of range: no resolver takes it either
            return None
    return None


def uts46(host: str) -> str:
    """The host with IDNA's UTS-46 mapping applied (what resolvers and yarl look up):
    full-width and circled digits become ASCII digits, ideographic full stops dots. A host
    the mapping refuses is returned as it is (nothing will resolve it)."""
    if host.isascii():
        return host.lower()
    try:
        return str(idna.uts46_remap(host, std3_rules=False, transitional=False))
    except (idna.IDNAError, UnicodeError, ValueError):
        return host


def host_forms(url: str) -> tuple[str, list[str], int] | None:
    """The URL's host as written, every spelling of it that could reach an address, and its
    port; None for a URL no client would fetch."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or default_port(parts.scheme)
    except ValueError:
        return None
    forms = [host, uts46(host)]
    with contextlib.suppress(ValueError, TypeError, UnicodeError):
        forms.append(yarl.URL(url).raw_host or "")  # what aiohttp connects to
    return host, [f for f in dict.fromkeys(forms) if f], port


class BlockedAddress(OSError):
    """A feed URL leads to an address we refuse to fetch; str() says why."""


def _refusal(host: str, ip: IPAddress, why: str) -> str:
    host = shorten(host)
    shown = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
    return (
        f"refusing to fetch {shown}: {why} (feeds added from chat may not reach private"
        f" networks; the operator can allow it with {ALLOW_ENV}=1)"
    )


def blocked_literal(host: str, port: int, exempt: Collection[tuple[str, int]] = ()) -> str | None:
    """The refusal for a literal-IP host (in any spelling), or None (names go through
    GuardedResolver)."""
    return _first_refusal(host, dict.fromkeys((host, uts46(host))), port, exempt)


def _first_refusal(
    shown: str, forms: Collection[str], port: int, exempt: Collection[tuple[str, int]]
) -> str | None:
    for form in forms:
        ip = literal_ip(form)
        if ip is None or (str(ip), port) in exempt:
            continue
        why = forbidden_reason(ip)
        if why:
            return _refusal(shown, ip, why)
    return None


def blocked_url(url: str, exempt: Collection[tuple[str, int]] = ()) -> str | None:
    """The refusal for a URL whose host is a forbidden address written literally, however
    it is spelt; None for public addresses and for names (GuardedResolver checks those)."""
    found = host_forms(url)
    if found is None:
        return None  # the client refuses the URL itself, and says so
    host, forms, port = found
    return _first_refusal(host, forms, port, exempt)


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
