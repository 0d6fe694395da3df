"""Check that a URL answers with a real feed before `feeds add` saves it.

The check is one poll without storing: the poller's Fetcher, with the network guard on from
the first request (the feed will be a guarded one: every redirect hop and every DNS answer is
checked, see bot/ingest/netguard.py), and the poller's bounded parser. So what `feeds add`
accepts is what the poller can fetch, and a hostile document costs the chat adapters' process
no more than it would cost a poll.

It runs on the chat adapters' event loop, so it never blocks it: parsing happens in a thread.
The fetch has a total deadline across redirects, so a server that drips its body byte by byte
cannot hold `feeds add` for long; the parse needs none, being bounded by its own budget.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yarl
from aiohttp.abc import AbstractResolver

from bot.ingest import parse as parse_module
from bot.ingest.fetch import Fetcher
from bot.ingest.netguard import allow_private_from_env, literal_ip, shorten
from bot.ingest.types import FeedState, FetchStatus
from bot.log import get_logger

__all__ = ["FeedCheck", "FeedChecker", "Policy", "check_feed", "url_problem"]

log = get_logger("policybot.feedcheck")

MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_TOTAL_TIMEOUT = 30.0  # seconds for the whole fetch: a person is waiting for it
# A host name as DNS takes it once IDNA-encoded: letters, digits, hyphens, dots (and the
# underscores some real hosts have).
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*\.?")
USER_AGENT = "policybot/0.1 (+https://github.com/policybot/policybot; AI-governance news bot)"


@dataclass(frozen=True, slots=True)
class Policy:
    """Where a checked URL may lead. `allow_private` lifts the guard (the operator's
    POLICYBOT_ALLOW_PRIVATE_FEEDS); the other two are test hooks that nothing in production
    sets: (ip, port) pairs to treat as public, e.g. a local server that plays an outside site,
    and a resolver to use instead of the system's."""

    allow_private: bool = False
    treat_as_public: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    resolver: AbstractResolver | None = None

    @classmethod
    def from_env(cls) -> Policy:
        return cls(allow_private=allow_private_from_env())


@dataclass(frozen=True, slots=True)
class FeedCheck:
    ok: bool
    url: str  # as asked
    final_url: str | None = None  # after redirects
    title: str | None = None
    entries: int = 0  # entries a poll would take (at most the per-poll cap)
    error: str | None = None  # for a person: what is wrong and what to do
    hops: tuple[str, ...] = ()  # the URLs requested, redirects included


FeedChecker = Callable[[str], Awaitable[FeedCheck]]


def url_problem(url: str) -> str | None:
    """Why `feeds add` cannot take this URL, in words; None when it is worth fetching."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError as exc:
        return f"{shorten(url)!r} is not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"only http and https URLs can be added (got {shorten(scheme, 20) or 'none'!r})"
    if not parts.hostname:
        return "the URL has no host name"
    if parts.username is not None or parts.password is not None:
        return "URLs with a user name or password are not accepted"
    try:
        host = yarl.URL(url).raw_host  # what the fetcher will connect to, IDNA-encoded
    except (ValueError, TypeError, UnicodeError):
        host = None
    if not host or not (literal_ip(host) or _HOST_NAME_RE.fullmatch(host)):
        return f"the host name {shorten(parts.hostname)!r} is not valid"
    return None


def _fetch_error(error: str | None, http_status: int | None, total_timeout: float) -> str:
    if error is None:
        return "the server gave no feed"
    if http_status is not None and http_status >= 400:
        return f"the server answered {error}: check the address"
    if error.startswith("timed out after") and error.endswith("(total)"):
        return f"no complete feed arrived within {total_timeout:g} s: the server is too slow"
    return error


async def check_feed(
    url: str,
    policy: Policy | None = None,
    *,
    timeout: float = 20.0,
    connect_timeout: float | None = None,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    max_redirects: int = 5,
    max_bytes: int = MAX_BODY_BYTES,
    user_agent: str = USER_AGENT,
    max_entries: int = parse_module.MAX_ENTRIES,
) -> FeedCheck:
    """Fetch `url` once through the guard and parse it as a poll would; never raises.

    `timeout` bounds each read (and connect, unless `connect_timeout` is given) and
    `total_timeout` the whole fetch across redirects. `policy` defaults to the environment's.
    """
    policy = policy if policy is not None else Policy.from_env()
    problem = url_problem(url)
    if problem is not None:
        return FeedCheck(False, url, error=problem)
    try:
        return await _check(
            url,
            policy,
            timeout=timeout,
            connect_timeout=connect_timeout if connect_timeout is not None else timeout,
            total_timeout=total_timeout,
            max_redirects=max_redirects,
            max_bytes=max_bytes,
            user_agent=user_agent,
            max_entries=max_entries,
        )
    except Exception:  # a bug here must not cost the chat command its answer
        log.exception("feed check failed", url=shorten(url))
        return FeedCheck(
            False, url, error="the check itself failed (logged for the operator): try later"
        )


async def _check(
    url: str,
    policy: Policy,
    *,
    timeout: float,
    connect_timeout: float,
    total_timeout: float,
    max_redirects: int,
    max_bytes: int,
    user_agent: str,
    max_entries: int,
) -> FeedCheck:
    fetcher = Fetcher(
        user_agent=user_agent,
        connect_timeout=connect_timeout,
        read_timeout=timeout,
        total_timeout=total_timeout,
        max_body_bytes=max_bytes,
        max_redirects=max_redirects,
        concurrency=1,
        per_host_concurrency=1,
        resolver=policy.resolver,
        allow_private=policy.allow_private,
        guard_exempt=policy.treat_as_public,
    )
    async with fetcher:
        result = await fetcher.fetch(FeedState(url=url, guarded=True))
    final = result.final_url or url
    if result.status is not FetchStatus.OK or result.body is None:
        error = _fetch_error(result.error, result.http_status, total_timeout)
        return FeedCheck(False, url, final, error=error, hops=result.hops)
    # Seconds of CPU for a big feed: off the loop (the Discord gateway, the Slack socket).
    parsed = await asyncio.to_thread(
        parse_module.parse_feed,
        result.body,
        url=final,
        headers=result.headers,
        max_entries=max_entries,
    )
    if not parsed.ok:
        error = parsed.error or "this is not an RSS or Atom feed"
        return FeedCheck(False, url, final, error=error, hops=result.hops)
    return FeedCheck(
        True, url, final, title=parsed.title, entries=len(parsed.entries), hops=result.hops
    )
