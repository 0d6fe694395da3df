"""Feeds added from chat are fetched through the SSRF guard at every poll, every redirect hop
and every DNS answer; the operator's own feeds are not, unless nothing else is allowed."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.ingest.fetch import Fetcher
from bot.ingest.netguard import blocked_literal, blocked_url, literal_ip, uts46
from bot.ingest.types import FeedState, FetchStatus
from tests.httpserver import LocalHTTPServer, Reply

RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


class _Names(AbstractResolver):
    """A fixed DNS: each name maps to the addresses given."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": ip,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in self.names[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        srv.route("/feed.xml", Reply(body=RSS, headers={"Content-Type": "application/rss+xml"}))
        yield srv


def _fetcher(
    server: LocalHTTPServer, names: dict[str, list[str]], exempt: bool = True, **kw: object
) -> Fetcher:
    # The local test server plays a public site: its (ip, port) is exempt from the guard.
    return Fetcher(
        user_agent="policybot-test",
        total_timeout=5,
        allow_private=False,
        resolver=_Names(names),
        guard_exempt={("127.0.0.1", server.port)} if exempt else (),
        **kw,
    )  # type: ignore[arg-type]


async def test_a_guarded_feed_on_a_loopback_address_is_refused(server: LocalHTTPServer) -> None:
    async with _fetcher(server, {}, exempt=False) as f:
        guarded = await f.fetch(FeedState(url=server.url("/feed.xml"), guarded=True))
        trusted = await f.fetch(FeedState(url=server.url("/feed.xml")))
    assert guarded.status is FetchStatus.FAILED
    assert guarded.error is not None and "a loopback address" in guarded.error
    assert "POLICYBOT_ALLOW_PRIVATE_FEEDS" in guarded.error
    assert trusted.status is FetchStatus.OK  # the operator's own feeds may be local
    assert len(server.requests_to("/feed.xml")) == 1  # the refused one never connected


async def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    server: LocalHTTPServer,
) -> None:
    names = {"intranet.example": ["127.0.0.1"], "mixed.example": ["93.184.216.34", "10.0.0.1"]}
    async with _fetcher(server, names, exempt=False) as f:
        r = await f.fetch(
            FeedState(url=f"http://intranet.example:{server.port}/feed.xml", guarded=True)
        )
        mixed = await f.fetch(FeedState(url="http://mixed.example/feed.xml", guarded=True))
    assert r.status is FetchStatus.FAILED and "intranet.example (127.0.0.1)" in (r.error or "")
    assert "private network" in (mixed.error or "")  # one bad answer spoils the name
    assert server.requests_to("/feed.xml") == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",  # a literal loopback address
        "http://[::ffff:127.0.0.1]:{port}/secret",  # the same, IPv4-mapped
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://rebind.example:{port}/secret",  # a name that now resolves inside
    ],
)
async def test_every_redirect_hop_is_checked(server: LocalHTTPServer, target: str) -> None:
    with LocalHTTPServer() as inside:  # the internal service; not exempt
        inside.route("/secret", Reply(body=b"internal admin page"))
        server.route(
            "/moved", Reply(status=302, headers={"Location": target.format(port=inside.port)})
        )
        names = {"public.example": ["127.0.0.1"], "rebind.example": ["127.0.0.1"]}
        async with _fetcher(server, names) as f:
            r = await f.fetch(
                FeedState(url=f"http://public.example:{server.port}/moved", guarded=True)
            )
            assert len(server.requests_to("/moved")) == 1  # the public first hop went through
            assert r.status is FetchStatus.FAILED, r
            assert "refusing to fetch" in (r.error or ""), r.error
            assert inside.requests_to("/secret") == []
            if "169.254" in target:
                return  # no metadata service here to reach
            # The same redirect for an operator's feed is followed (it may be on our network).
            trusted = await f.fetch(FeedState(url=f"http://public.example:{server.port}/moved"))
        assert trusted.status is FetchStatus.OK and len(inside.requests_to("/secret")) == 1


async def test_allow_private_lets_guarded_feeds_reach_the_local_network(
    server: LocalHTTPServer,
) -> None:
    async with Fetcher(user_agent="policybot-test", allow_private=True) as f:
        r = await f.fetch(FeedState(url=server.url("/feed.xml"), guarded=True))
    assert r.status is FetchStatus.OK


def test_allow_private_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_ALLOW_PRIVATE_FEEDS", "1")
    assert Fetcher(user_agent="x").allow_private
    monkeypatch.delenv("POLICYBOT_ALLOW_PRIVATE_FEEDS")
    assert not Fetcher(user_agent="x").allow_private


@pytest.mark.parametrize(
    ("host", "blocked"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("::ffff:192.168.0.1", True),
        ("93.184.216.34", False),
        ("example.org", False),
    ],
)
def test_literal_addresses(host: str, blocked: bool) -> None:
    assert (blocked_literal(host, 80) is not None) is blocked


@pytest.mark.parametrize(
    "host",
    [
        "127。0。0。1",  # ideographic full stops: yarl maps them, so aiohttp skips the resolver
        "①②⑦.0.0.1",  # circled digits
        "１２７.０.０.１",  # full-width digits
        "0177.0.0.1",  # octal
        "2130706433",  # decimal
        "0x7f.0.0.1",  # hex
        "127.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
    ],
)
async def test_a_guarded_feed_cannot_reach_loopback_in_another_spelling(
    server: LocalHTTPServer, host: str
) -> None:
    async with _fetcher(server, {}, exempt=False) as f:
        r = await f.fetch(FeedState(url=f"http://{host}:{server.port}/feed.xml", guarded=True))
    assert r.status is FetchStatus.FAILED
    shown = host.strip("[]")
    assert r.error is not None and r.error.startswith(f"refusing to fetch {shown}"), r.error
    assert "a loopback address" in r.error
    assert server.requests_to("/feed.xml") == []


async def test_the_operators_own_feed_may_use_any_spelling(server: LocalHTTPServer) -> None:
    async with _fetcher(server, {}, exempt=False) as f:
        r = await f.fetch(FeedState(url=f"http://127。0。0。1:{server.port}/feed.xml"))
    assert r.status is FetchStatus.OK


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("example.org", None),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
        ("9" * 5000, None),
    ],
)
def test_literal_addresses_in_resolver_forms(host: str, address: str | None) -> None:
    ip = literal_ip(host)
    assert (str(ip) if ip is not None else None) == address


def test_uts46_maps_what_resolvers_map() -> None:
    assert uts46("127。0。0。1") == "127.0.0.1"
    assert uts46("①②⑦.０.0.1") == "127.0.0.1"
    assert uts46("ExAmple.ORG") == "example.org"
    assert uts46("bücher.example") == "bücher.example"


def test_refusals_quote_a_long_host_briefly() -> None:
    refusal = blocked_url("http://127.0.0.1/" + "x" * 10_000)
    assert refusal is not None and len(refusal) < 300
    assert blocked_url("http://[::1") is None  # the fetcher reports a broken URL itself
    assert blocked_url("http://example.org/") is None
    assert blocked_url("http://93.184.216.34/") is None


async def test_a_broken_or_huge_url_fails_without_raising(server: LocalHTTPServer) -> None:
    async with _fetcher(server, {}) as f:
        broken = await f.fetch(FeedState(url="http://[::1/feed", guarded=True))
        huge = await f.fetch(FeedState(url="http://[" + "1" * 9_000_000 + "/", guarded=True))
    assert broken.status is FetchStatus.FAILED
    assert broken.error == "invalid URL 'http://[::1/feed': Invalid IPv6 URL"
    assert huge.status is FetchStatus.FAILED and huge.error is not None
    assert len(huge.error) <= 300 and huge.error.startswith("invalid URL 'http://[111")
