"""Refuse feed URLs that point inside our network (SSRF), at every redirect hop, after DNS.

The address rules (what counts as private) live in bot/ingest/netguard.py, shared with the
poller, which guards feeds added from chat the same way at every poll.

A chat user can make the bot fetch a URL (`feeds add`). Without a guard that is a way to read
cloud metadata (169.254.169.254...), admin panels on localhost or anything on the private
network. So, for each request httpx makes (the first one and every redirect):
1. the host name is resolved here, and EVERY address it resolves to must be public
   (ip.is_global and not multicast; metadata addresses named explicitly for the message);
2. the connection then goes to the address we checked (the URL's host is replaced by the IP,
   with the Host header and TLS SNI/certificate name kept): a DNS answer that changes between
   check and connect (rebinding) cannot redirect us.
Operators who want feeds on their own network set `allow_private` (POLICYBOT_ALLOW_PRIVATE_FEEDS=1).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from bot.ingest.netguard import (  # the address rules are shared with the poller
    IPAddress,
    forbidden_reason,
)
from bot.ingest.netguard import literal_ip as _literal_ip

Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedURL(Exception):
    """The URL (or a redirect) leads somewhere we refuse to fetch; str() says why."""


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Policy:
    allow_private: bool = False
    # Test hook only: (ip, port) pairs to treat as public, e.g. a local server that plays an
    # outside site. Nothing in production sets it.
    treat_as_public: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    resolver: Resolver = system_resolver
    schemes: tuple[str, ...] = ("http", "https")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def check_target(url: str, policy: Policy) -> tuple[str, int, IPAddress]:
    """Validate one URL: returns (host, port, the address to connect to) or raises BlockedURL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        raise BlockedURL(f"only http and https URLs can be added (got {scheme or 'none'!r})")
    try:
        host = parts.hostname
        port = parts.port or _default_port(scheme)
    except ValueError:
        raise BlockedURL("the URL has an invalid host or port") from None
    if not host:
        raise BlockedURL("the URL has no host name")
    if parts.username or parts.password:
        raise BlockedURL("URLs with a user name or password are not accepted")
    literal = _literal_ip(host)
    if literal is not None:
        addrs = [literal]
    else:
        try:
            resolved = await policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedURL(f"cannot resolve {host!r}: {exc}") from None
        addrs = [a for a in (_literal_ip(r) for r in resolved) if a is not None]
        if not addrs:
            raise BlockedURL(f"{host!r} resolves to no address")
    if not policy.allow_private:
        for ip in addrs:
            if (str(ip), port) in policy.treat_as_public:
                continue
            why = forbidden_reason(ip)
            if why:
                shown = host if literal is not None else f"{host} ({ip})"
                raise BlockedURL(f"refusing to fetch {shown}: {why}")
    return host, port, addrs[0]


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every request (so every redirect hop) and pins the IP."""

    def __init__(self, policy: Policy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.hops: list[str] = []  # URLs requested, for logs and tests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.hops.append(url)
        host, _port, ip = await check_target(url, self.policy)
        if _literal_ip(host) is not None:
            return await self.inner.handle_async_request(request)
        # Connect to the checked address; Host and the TLS name stay the URL's host. A new
        # request, so that httpx resolves the next redirect against the original URL.
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(ip)),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return await self.inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self.inner.aclose()


def guarded_client(
    policy: Policy,
    *,
    timeout: float = 20.0,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient that follows redirects, each hop through the guard."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        follow_redirects=True,
        max_redirects=max_redirects,
        timeout=timeout,
        headers=headers,
        trust_env=False,  # a proxy from the environment would bypass the address check
    )


def describe_ranges() -> Iterable[str]:
    return (
        "loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local, multicast,"
        " reserved, carrier-grade NAT and cloud metadata addresses",
    )
