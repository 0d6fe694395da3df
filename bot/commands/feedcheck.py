"""Check that a URL answers with a real feed before `feeds add` saves it (SSRF-guarded).

It runs on the chat adapters' event loop, so it never blocks it: parsing (seconds for a
10 MB feed) happens in a thread, and the whole check has a total deadline, so a server that
drips its body byte by byte cannot hold `feeds add` for long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.commands.ssrf import BlockedURL, GuardedTransport, Policy, guarded_client

MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_TOTAL_TIMEOUT = 30.0  # seconds for the whole check: a person is waiting for it
USER_AGENT = "policybot/0.1 (+https://github.com/policybot/policybot; AI-governance news bot)"


@dataclass(frozen=True, slots=True)
class FeedCheck:
    ok: bool
    url: str  # as asked
    final_url: str | None = None  # after redirects
    title: str | None = None
    entries: int = 0
    error: str | None = None  # for a person: what is wrong and what to do
    hops: tuple[str, ...] = ()


FeedChecker = Callable[[str], Awaitable[FeedCheck]]


async def check_feed(
    url: str,
    policy: Policy,
    *,
    timeout: float = 20.0,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    max_redirects: int = 5,
    max_bytes: int = MAX_BODY_BYTES,
    user_agent: str = USER_AGENT,
) -> FeedCheck:
    """Fetch `url` (every hop guarded) and parse it, all within `total_timeout` seconds
    (`timeout` bounds each connect/read); never raises."""
    try:
        async with asyncio.timeout(total_timeout):
            return await _check(
                url,
                policy,
                timeout=timeout,
                max_redirects=max_redirects,
                max_bytes=max_bytes,
                user_agent=user_agent,
            )
    except TimeoutError:
        return FeedCheck(
            False,
            url,
            error=f"no complete feed arrived within {total_timeout:g} s: the server is too slow",
        )


async def _check(
    url: str,
    policy: Policy,
    *,
    timeout: float,
    max_redirects: int,
    max_bytes: int,
    user_agent: str,
) -> FeedCheck:
    from bot.ingest.parse import parse_feed

    client = guarded_client(
        policy, timeout=timeout, max_redirects=max_redirects, headers={"User-Agent": user_agent}
    )
    transport = client._transport
    hops: tuple[str, ...] = ()
    try:
        async with client, client.stream("GET", url) as resp:
            hops = tuple(transport.hops) if isinstance(transport, GuardedTransport) else ()
            if resp.status_code >= 400:
                return FeedCheck(
                    False,
                    url,
                    str(resp.url),
                    error=f"the server answered HTTP {resp.status_code}: check the address",
                    hops=hops,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    return FeedCheck(
                        False,
                        url,
                        str(resp.url),
                        error=f"the document is larger than {max_bytes // 1_000_000} MB",
                        hops=hops,
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
            headers = {k.lower(): v for k, v in resp.headers.items()}
            final = str(resp.url)
    except BlockedURL as exc:
        if isinstance(transport, GuardedTransport):
            hops = tuple(transport.hops)
        return FeedCheck(False, url, error=str(exc), hops=hops)
    except httpx.TooManyRedirects:
        return FeedCheck(False, url, error=f"more than {max_redirects} redirects")
    except httpx.TimeoutException:
        return FeedCheck(False, url, error="the server did not answer in time")
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return FeedCheck(False, url, error=f"cannot fetch it: {type(exc).__name__}: {exc}"[:300])
    # Seconds of CPU for a big feed: off the loop (the Discord gateway, the Slack socket).
    parsed = await asyncio.to_thread(parse_feed, body, url=final, headers=headers)
    if not parsed.ok:
        return FeedCheck(
            False, url, final, error=parsed.error or "this is not an RSS or Atom feed", hops=hops
        )
    return FeedCheck(True, url, final, title=parsed.title, entries=len(parsed.entries), hops=hops)
