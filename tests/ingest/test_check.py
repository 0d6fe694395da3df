"""`feeds add`'s check (bot/ingest/check.py) against real local servers: one fetch through the
poller's Fetcher with the network guard on, parsed by the bounded parser; every refusal and
failure is a sentence, never an exception."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import bot.ingest.parse
from bot.ingest.check import FeedCheck, Policy, check_feed, url_problem
from tests.commands.feedserver import RSS, feed_server
from tests.httpserver import LocalHTTPServer, Reply
from tests.ingest.test_netguard import _Names

LOCAL = Policy(allow_private=True)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        srv.route("/feed.xml", Reply(body=RSS, headers={"Content-Type": "application/rss+xml"}))
        # A valid feed, 16 bytes every 50 ms: about 20 s for the whole body.
        srv.route(
            "/drip.xml",
            Reply(
                body=RSS * 4,
                headers={"Content-Type": "application/rss+xml"},
                drip=0.05,
                drip_size=16,
            ),
        )
        yield srv


async def test_a_local_feed_is_checked_when_private_addresses_are_allowed(
    server: LocalHTTPServer,
) -> None:
    check = await check_feed(server.url("/feed.xml"), LOCAL)
    assert check == FeedCheck(
        True,
        server.url("/feed.xml"),
        server.url("/feed.xml"),
        title="Local AI Policy",
        entries=2,
        hops=(server.url("/feed.xml"),),
    )
    # Through the poller's fetcher: its user agent and encodings.
    (req,) = server.requests_to("/feed.xml")
    assert req.headers["user-agent"].startswith("policybot/")
    assert req.headers["accept-encoding"] == "gzip, deflate"


async def test_a_slow_drip_server_meets_the_total_deadline(server: LocalHTTPServer) -> None:
    started = time.monotonic()
    # Each read is quick (the per-read timeout never fires); only the total deadline helps.
    check = await check_feed(server.url("/drip.xml"), LOCAL, timeout=5.0, total_timeout=1.0)
    elapsed = time.monotonic() - started
    assert not check.ok and check.error is not None
    assert "within 1 s" in check.error and "too slow" in check.error
    assert elapsed < 3.0
    assert server.requests_to("/drip.xml")


async def test_parsing_runs_off_the_event_loop(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bot.ingest.parse.parse_feed
    seen: list[int] = []

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.get_ident())
        time.sleep(0.3)  # a big feed: the loop must keep ticking meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.ingest.parse, "parse_feed", slow_parse)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        check = await check_feed(server.url("/feed.xml"), LOCAL)
    finally:
        task.cancel()
    assert check.ok and check.title == "Local AI Policy" and check.entries == 2
    assert seen and seen[0] != threading.get_ident()
    assert ticks >= 10  # ~30 ticks of 10 ms while parsing took 300 ms


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "0177.0.0.1",  # octal, as inet_aton reads it
        "2130706433",  # decimal
        "0x7f000001",  # hex
        "0x7f.1",
        "127.1",
        "127.0.0.1.",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "①②⑦.0.0.1",  # circled digits
        "１２７.０.０.１",  # full-width digits
        "127。0。0。1",  # ideographic full stops
        "127．0．0．1",  # full-width full stops
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "⑯⑨.②⑤④.⑯⑨.②⑤④",  # cloud metadata in circled digits
        "100.64.0.1",
        "0.0.0.0",
        "[fe80::1]",
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    ],
)
async def test_internal_addresses_in_every_spelling_are_refused(
    server: LocalHTTPServer, host: str
) -> None:
    url = f"http://{host}:{server.port}/feed.xml"
    check = await check_feed(url, Policy())
    assert not check.ok and check.error is not None
    assert check.error.startswith("refusing to fetch"), check.error
    assert server.requests == []


async def test_a_name_resolving_inside_is_refused_before_connecting(
    server: LocalHTTPServer,
) -> None:
    names = {"intranet.test": ["127.0.0.1"], "mixed.test": ["93.184.216.34", "10.1.2.3"]}
    policy = Policy(resolver=_Names(names))
    inside = await check_feed(f"http://intranet.test:{server.port}/feed.xml", policy)
    mixed = await check_feed("http://mixed.test/feed.xml", policy)
    assert "intranet.test (127.0.0.1): a loopback address" in (inside.error or "")
    assert "mixed.test (10.1.2.3): a private network address" in (mixed.error or "")
    assert server.requests == []


async def test_redirect_to_an_internal_address_is_refused_at_the_hop() -> None:
    # The first server plays a public site, only through the explicit test hook; the redirect
    # target is another local server, which the guard must treat as what it is.
    with feed_server() as outside, feed_server() as inside:
        names = {"localhost": ["127.0.0.1"]}
        policy = Policy(
            treat_as_public=frozenset({("127.0.0.1", outside.port)}), resolver=_Names(names)
        )
        ok = await check_feed(outside.url("/feed.xml"), policy)
        assert ok.ok and ok.title == "Local AI Policy" and ok.entries == 2

        for target in (
            inside.url("/feed.xml"),
            f"http://localhost:{inside.port}/feed.xml",
            f"http://0177.0.0.1:{inside.port}/feed.xml",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
        ):
            res = await check_feed(outside.url(f"/redirect?to={target}"), policy)
            assert not res.ok and (res.error or "").startswith("refusing to fetch"), target
            assert len(res.hops) == 2 and res.hops[1] == target
        assert inside.requests == []  # never reached


async def test_the_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    with feed_server() as srv:
        policy = Policy(
            resolver=_Names({"feeds.test": ["127.0.0.1"]}),
            treat_as_public=frozenset({("127.0.0.1", srv.port)}),
        )
        res = await check_feed(f"http://feeds.test:{srv.port}/redirect?to=/feed.xml", policy)
        assert res.ok, res.error
        # Both hops reached our checked IP, with the name the URL gave in Host.
        assert srv.requests == [
            ("/redirect?to=/feed.xml", f"feeds.test:{srv.port}"),
            ("/feed.xml", f"feeds.test:{srv.port}"),
        ]
        assert res.final_url == f"http://feeds.test:{srv.port}/feed.xml"


async def test_not_a_feed_and_http_errors_are_reported(server: LocalHTTPServer) -> None:
    with feed_server() as srv:
        page = await check_feed(srv.url("/page.html"), LOCAL)
        assert not page.ok and page.error == "not a feed: looks like an HTML page"
        missing = await check_feed(srv.url("/nothing"), LOCAL)
        assert missing.error == "the server answered HTTP 404 Not Found: check the address"
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    loop = await check_feed(server.url("/loop"), LOCAL)
    assert not loop.ok and (loop.error or "").startswith("redirect loop (more than 5 redirects)")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", "only http and https URLs can be added (got 'file')"),
        ("gopher://example.org/", "only http and https URLs can be added (got 'gopher')"),
        ("http://user:pw@example.org/", "URLs with a user name or password are not accepted"),
        ("http:///nohost", "the URL has no host name"),
        ("http://[::1/feed", "'http://[::1/feed' is not a valid URL (Invalid IPv6 URL)"),
        ("http://example.org:99999/", "'http://example.org:99999/' is not a valid URL"),
        ("http://exa mple.org/", "the host name 'exa mple.org' is not valid"),
    ],
)
async def test_bad_urls_get_a_clear_answer(url: str, error: str) -> None:
    check = await check_feed(url, Policy())
    assert not check.ok and (check.error or "").startswith(error), check.error
    assert url_problem(url) == check.error


async def test_a_huge_url_makes_a_short_message() -> None:
    url = "http://127.0.0.1/" + "a" * 9_000_000
    check = await check_feed(url, Policy())
    assert not check.ok and check.error is not None
    assert len(check.error) < 600 and check.error.startswith("refusing to fetch")
    bad = "http://[" + "1" * 9_000_000
    check = await check_feed(bad, Policy())
    assert check.error is not None and len(check.error) < 600


def _quadratic_entities(size: int = 1_000_000, entity: int = 50_000) -> bytes:
    refs = b"&a;" * ((size - entity) // 3)
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + b"x" * entity + b'">]>\n'
        b"<rss version='2.0'><channel><title>" + refs + b"</title>"
        b"<item><title>first</title><guid>1</guid></item></channel></rss>"
    )


async def test_a_quadratic_entity_feed_is_checked_without_expanding(
    server: LocalHTTPServer,
) -> None:
    body = _quadratic_entities()
    assert len(body) >= 1_000_000
    server.route("/q.xml", Reply(body=body, headers={"Content-Type": "application/rss+xml"}))
    tracemalloc.start()
    try:
        check = await check_feed(server.url("/q.xml"), LOCAL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The declarations were removed and the references with them: the title is empty (no
    # 1 GB of "x"), the entry is there, and memory stayed near the body's size.
    assert check.ok and check.entries == 1, check
    assert check.title is None
    assert peak < 60 * 1024 * 1024, peak


async def test_a_document_too_costly_to_parse_is_refused_with_the_reason(
    server: LocalHTTPServer,
) -> None:
    # 2 MB of empty elements outside any entry: ~500,000 tags, a minute of feedparser.
    body = b"<rss version='2.0'><channel><title>t</title>" + b"<b/>" * 500_000 + b"</channel></rss>"
    server.route("/tags.xml", Reply(body=body, headers={"Content-Type": "application/rss+xml"}))
    started = time.process_time()
    check = await check_feed(server.url("/tags.xml"), LOCAL)
    assert time.process_time() - started < 5
    assert not check.ok and check.error is not None
    assert check.error.startswith(
        "refused: the document has too much markup to parse safely (500,006 tags"
    )
