"""The fetcher against a real HTTP server on 127.0.0.1 (tests/httpserver.py)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given
from hypothesis import strategies as st

from bot.app.config import Defaults
from bot.ingest.fetch import (
    MAX_RETRY_AFTER,
    Fetcher,
    describe_error,
    next_poll_delay,
    parse_retry_after,
)
from bot.ingest.types import FeedState, FetchResult, FetchStatus
from tests.httpserver import LocalHTTPServer, Reply, Request

RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
<item><title>EU AI Act guidance</title><link>https://example.org/a</link></item>
</channel></rss>"""
UA = "policybot-test/1.0 (+https://example.org/bot)"
MiB = 1024 * 1024


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_fetcher(**kw: object) -> Fetcher:
    opts: dict[str, object] = {
        "user_agent": UA,
        "connect_timeout": 2,
        "read_timeout": 5,
        "total_timeout": 10,
    }
    opts.update(kw)
    return Fetcher(**opts)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with make_fetcher() as f:
        yield f


async def get(f: Fetcher, url: str, **state: str | None) -> FetchResult:
    return await f.fetch(FeedState(url=url, **state))  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 200, headers, conditional GET, unchanged body -------------------------------------------


async def test_200_returns_body_hash_validators_and_sends_polite_headers(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route(
        "/feed",
        Reply(
            body=RSS,
            headers={
                "Content-Type": "application/rss+xml; charset=utf-8",
                "ETag": '"v1"',
                "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
            },
        ),
    )
    r = await get(fetcher, server.url("/feed"))
    assert r.status is FetchStatus.OK, r.error
    assert r.http_status == 200
    assert r.body == RSS
    assert r.body_hash == sha(RSS)
    assert r.etag == '"v1"'
    assert r.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert r.final_url == server.url("/feed")
    assert r.permanent_redirect is None
    assert r.error is None
    (req,) = server.requests_to("/feed")
    assert req.headers["user-agent"] == UA
    assert req.headers["accept"].startswith("application/rss+xml")
    assert "application/atom+xml" in req.headers["accept"]
    assert "gzip" in req.headers["accept-encoding"]
    # A first fetch has no validators to send.
    assert "if-none-match" not in req.headers
    assert "if-modified-since" not in req.headers


async def test_304_sends_conditional_headers_and_keeps_old_validators(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    def handler(req: Request) -> Reply:
        if req.headers.get("if-none-match") == '"v1"':
            return Reply(status=304)
        return Reply(body=RSS, headers={"ETag": '"v1"'})

    server.route("/feed", handler)
    r = await get(
        fetcher,
        server.url("/feed"),
        etag='"v1"',
        last_modified="Wed, 01 Jan 2025 00:00:00 GMT",
        body_hash="abc",
    )
    assert r.status is FetchStatus.NOT_MODIFIED
    assert r.http_status == 304
    assert r.body is None
    assert r.etag == '"v1"'
    assert r.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert r.body_hash == "abc"
    (req,) = server.requests_to("/feed")
    assert req.headers["if-none-match"] == '"v1"'
    assert req.headers["if-modified-since"] == "Wed, 01 Jan 2025 00:00:00 GMT"


async def test_304_with_a_new_etag_returns_it(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/feed", Reply(status=304, headers={"ETag": '"v2"'}))
    r = await get(fetcher, server.url("/feed"), etag='"v1"')
    assert r.status is FetchStatus.NOT_MODIFIED
    assert r.etag == '"v2"'


async def test_identical_body_is_unchanged_without_body(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/feed", Reply(body=RSS, headers={"ETag": '"x"'}))
    first = await get(fetcher, server.url("/feed"))
    assert first.status is FetchStatus.OK
    again = await get(fetcher, server.url("/feed"), body_hash=first.body_hash)
    assert again.status is FetchStatus.UNCHANGED
    assert again.body is None
    assert again.body_hash == first.body_hash
    assert again.etag == '"x"'
    # A different body with the old hash is new again.
    server.route("/feed", Reply(body=RSS + b"<!-- new -->"))
    changed = await get(fetcher, server.url("/feed"), body_hash=first.body_hash)
    assert changed.status is FetchStatus.OK
    assert changed.body_hash != first.body_hash


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", RSS),  # wrong type: fetched, the parser decides
        ("text/html; charset=utf-8", b"<!doctype html><html><body>Not a feed</body></html>"),
        ("application/rss+xml", b""),  # empty body
    ],
    ids=["wrong-content-type", "html-page", "empty-body"],
)
async def test_any_200_body_is_fetched_and_left_to_the_parser(
    server: LocalHTTPServer, fetcher: Fetcher, content_type: str, body: bytes
) -> None:
    server.route("/x", Reply(body=body, headers={"Content-Type": content_type}))
    r = await get(fetcher, server.url("/x"))
    assert r.status is FetchStatus.OK, r.error
    assert r.body == body
    assert r.body_hash == sha(body)
    assert r.headers["content-type"] == content_type


async def test_header_names_are_lower_case_and_repeats_joined(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route(
        "/feed",
        Reply(
            body=RSS, headers=[("Content-Type", "text/xml"), ("X-Thing", "one"), ("x-thing", "two")]
        ),
    )
    r = await get(fetcher, server.url("/feed"))
    assert r.headers["content-type"] == "text/xml"
    assert r.headers["x-thing"] == "one, two"


async def _raw_server(answers: list[bytes | None]) -> tuple[asyncio.Server, list[int]]:
    """A server answering the n-th connection's first request with answers[n] (None: hang up)."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = len(connections)
        connections.append(n)
        await reader.readuntil(b"\r\n\r\n")
        answer = answers[min(n, len(answers) - 1)]
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    return srv, connections


async def test_a_connection_dropped_before_the_answer_is_retried_once(fetcher: Fetcher) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(RSS) + RSS
    srv, connections = await _raw_server([None, ok])
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        r = await get(fetcher, f"http://127.0.0.1:{port}/feed")
    assert r.status is FetchStatus.OK, r.error
    assert r.body == RSS and len(connections) == 2


async def test_a_server_that_never_answers_fails_clearly(fetcher: Fetcher) -> None:
    srv, connections = await _raw_server([None])
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        r = await get(fetcher, f"http://127.0.0.1:{port}/feed")
    assert r.status is FetchStatus.FAILED
    assert r.error == (
        "the server broke the HTTP protocol: it closed the connection without answering"
    )
    assert len(connections) == 2  # the one retry, no more


async def test_a_garbled_answer_fails_clearly(fetcher: Fetcher) -> None:
    srv, _ = await _raw_server([b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nxx"])
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        r = await get(fetcher, f"http://127.0.0.1:{port}/feed")
    assert r.status is FetchStatus.FAILED
    assert r.error is not None and r.error.startswith("the server broke the HTTP protocol: ")


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 308])
async def test_permanent_redirect_is_reported(
    server: LocalHTTPServer, fetcher: Fetcher, code: int
) -> None:
    server.route("/old", Reply(status=code, headers={"Location": "/new"}))  # relative
    server.route("/new", Reply(body=RSS))
    r = await get(fetcher, server.url("/old"))
    assert r.status is FetchStatus.OK
    assert r.body == RSS
    assert r.url == server.url("/old")
    assert r.final_url == server.url("/new")
    assert r.permanent_redirect == server.url("/new")


async def test_chain_of_301_and_308_is_permanent(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/a", Reply(status=301, headers={"Location": server.url("/b")}))
    server.route("/b", Reply(status=308, headers={"Location": "c"}))  # relative to /b
    server.route("/c", Reply(body=RSS))
    r = await get(fetcher, server.url("/a"))
    assert r.status is FetchStatus.OK
    assert r.permanent_redirect == server.url("/c")
    assert [q.path for q in server.requests] == ["/a", "/b", "/c"]


async def test_a_302_in_the_chain_is_not_permanent(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/a", Reply(status=301, headers={"Location": "/b"}))
    server.route("/b", Reply(status=302, headers={"Location": "/c"}))
    server.route("/c", Reply(body=RSS))
    r = await get(fetcher, server.url("/a"))
    assert r.status is FetchStatus.OK
    assert r.final_url == server.url("/c")
    assert r.permanent_redirect is None


async def test_permanent_redirect_to_an_error_is_not_stored(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/a", Reply(status=301, headers={"Location": "/missing"}))
    r = await get(fetcher, server.url("/a"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "HTTP 404 Not Found"
    assert r.permanent_redirect is None


async def test_conditional_get_after_redirect_still_gets_304(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/a", Reply(status=301, headers={"Location": "/b"}))
    server.route(
        "/b",
        lambda req: (
            Reply(status=304) if req.headers.get("if-none-match") == '"e"' else Reply(body=RSS)
        ),
    )
    r = await get(fetcher, server.url("/a"), etag='"e"')
    assert r.status is FetchStatus.NOT_MODIFIED
    assert r.permanent_redirect == server.url("/b")


async def test_redirect_loop_fails_clearly(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/a", Reply(status=302, headers={"Location": "/b"}))
    server.route("/b", Reply(status=302, headers={"Location": "/a"}))
    r = await get(fetcher, server.url("/a"))
    assert r.status is FetchStatus.FAILED
    assert r.error is not None
    assert r.error.startswith("redirect loop (more than 5 redirects)")
    assert len(server.requests) == 6  # the first request plus five redirects followed


async def test_too_many_redirects_fails_clearly(server: LocalHTTPServer) -> None:
    for i in range(5):
        server.route(f"/r{i}", Reply(status=307, headers={"Location": f"/r{i + 1}"}))
    server.route("/r5", Reply(body=RSS))
    async with make_fetcher(max_redirects=4) as f:
        r = await get(f, server.url("/r0"))
        assert r.status is FetchStatus.FAILED
        assert r.error is not None
        assert r.error.startswith("too many redirects (more than 4 redirects)")
    async with make_fetcher(max_redirects=5) as f:
        ok = await get(f, server.url("/r0"))
        assert ok.status is FetchStatus.OK
        assert ok.permanent_redirect is None


async def test_redirect_without_location_or_to_file_url_fails(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/noloc", Reply(status=301))
    r = await get(fetcher, server.url("/noloc"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "HTTP 301 Moved Permanently without a Location header"
    server.route("/evil", Reply(status=302, headers={"Location": "file:///etc/passwd"}))
    r = await get(fetcher, server.url("/evil"))
    assert r.status is FetchStatus.FAILED
    assert r.body is None
    assert r.error == "HTTP 302 redirect to a non-HTTP URL 'file:///etc/passwd'"


# --- error statuses --------------------------------------------------------------------------


async def test_410_is_gone(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/feed", Reply(status=410, body=b"bye"))
    r = await get(fetcher, server.url("/feed"))
    assert r.status is FetchStatus.GONE
    assert r.http_status == 410
    assert r.error is not None and r.error.startswith("HTTP 410 Gone")
    assert r.body is None


async def test_429_with_retry_after_seconds(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/feed", Reply(status=429, headers={"Retry-After": "120"}))
    r = await get(fetcher, server.url("/feed"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "HTTP 429 Too Many Requests"
    assert r.retry_after == 120


async def test_429_with_retry_after_http_date(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    server.route(
        "/feed", Reply(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    r = await get(fetcher, server.url("/feed"))
    assert r.status is FetchStatus.FAILED
    assert r.retry_after is not None
    assert 3500 < r.retry_after <= 3600


async def test_503_with_and_without_retry_after(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/a", Reply(status=503, headers={"Retry-After": "9999999"}))
    server.route("/b", Reply(status=503))
    a = await get(fetcher, server.url("/a"))
    assert a.error == "HTTP 503 Service Unavailable"
    assert a.retry_after == MAX_RETRY_AFTER  # capped
    b = await get(fetcher, server.url("/b"))
    assert b.status is FetchStatus.FAILED
    assert b.retry_after is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (500, "HTTP 500 Internal Server Error"),
        (404, "HTTP 404 Not Found"),
        (403, "HTTP 403 Forbidden"),
    ],
)
async def test_other_errors_fail_with_the_status_line(
    server: LocalHTTPServer, fetcher: Fetcher, code: int, message: str
) -> None:
    server.route("/feed", Reply(status=code, body=b"oops", headers={"Retry-After": "5"}))
    r = await get(fetcher, server.url("/feed"), etag='"old"', body_hash="h")
    assert r.status is FetchStatus.FAILED
    assert r.http_status == code
    assert r.error == message
    assert r.retry_after is None  # only honoured on 429/503
    assert r.body is None
    # Failure keeps what we knew, so nothing is lost for the next poll.
    assert r.etag == '"old"'
    assert r.body_hash == "h"


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30
    assert parse_retry_after("Wed, 01 Jan 2025 12:10:00 GMT", now=now) == 600
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after(str(10**12), now=now) == MAX_RETRY_AFTER


# --- network problems and timeouts -----------------------------------------------------------


async def test_connection_refused(fetcher: Fetcher) -> None:
    r = await get(fetcher, f"http://127.0.0.1:{closed_port()}/feed")
    assert r.status is FetchStatus.FAILED
    assert r.error == "connection refused (127.0.0.1)"
    assert r.http_status is None


async def test_tls_to_a_plain_server_is_a_tls_error(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route("/feed", Reply(body=RSS))
    r = await get(fetcher, f"https://127.0.0.1:{server.port}/feed")
    assert r.status is FetchStatus.FAILED
    assert r.error is not None and r.error.startswith("TLS error with 127.0.0.1")


def test_dns_failure_message() -> None:
    f = make_fetcher()
    exc = aiohttp.ClientConnectionError("Cannot connect to host no-such-host.invalid:443")
    exc.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    msg = describe_error(exc, "https://no-such-host.invalid/feed", f)
    assert msg == "DNS lookup failed for no-such-host.invalid: Name or service not known"


async def test_read_timeout(server: LocalHTTPServer) -> None:
    server.route("/slow", Reply(body=RSS, delay=3))
    async with make_fetcher(read_timeout=0.3, total_timeout=10) as f:
        r = await get(f, server.url("/slow"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "read timed out after 0.3 s (the server sent nothing for that long)"


async def test_slow_drip_is_cut_off_by_the_total_timeout(server: LocalHTTPServer) -> None:
    # One byte every 0.1 s never trips the 5 s read timeout; the 0.5 s total budget must.
    server.route("/drip", Reply(body=RSS, drip=0.1, drip_size=1))
    async with make_fetcher(read_timeout=5, total_timeout=0.5) as f:
        r = await get(f, server.url("/drip"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "timed out after 0.5 s (total)"
    assert r.body is None
    assert r.elapsed < 15  # cut off by the total budget, long before the drip's minutes


async def test_total_timeout_spans_the_whole_redirect_chain(server: LocalHTTPServer) -> None:
    server.route("/a", Reply(status=302, headers={"Location": "/b"}, delay=0.3))
    server.route("/b", Reply(status=302, headers={"Location": "/c"}, delay=0.3))
    server.route("/c", Reply(body=RSS, delay=0.3))
    async with make_fetcher(read_timeout=5, total_timeout=0.6) as f:
        r = await get(f, server.url("/a"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "timed out after 0.6 s (total)"


# --- body limits and decoding ----------------------------------------------------------------


async def test_oversized_body_with_content_length_is_refused_up_front(
    server: LocalHTTPServer,
) -> None:
    server.route("/big", Reply(body=b"x" * 5000))
    async with make_fetcher(max_body_bytes=1000) as f:
        r = await get(f, server.url("/big"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "body larger than 1000 bytes (Content-Length: 5000)"
    assert r.body is None


@pytest.mark.parametrize("how", ["chunked", "close-delimited"])
async def test_oversized_body_without_content_length_is_cut_off(
    server: LocalHTTPServer, how: str
) -> None:
    reply = Reply(
        body=b"x" * 200_000,
        chunked=how == "chunked",
        content_length=False,
        drip=0.001,
        drip_size=8192,
    )
    server.route("/big", reply)
    async with make_fetcher(max_body_bytes=10_000) as f:
        r = await get(f, server.url("/big"))
    assert r.status is FetchStatus.FAILED
    assert r.error == "body larger than 10000 bytes"
    assert "content-length" not in server.requests_to("/big")[0].headers


async def test_body_at_the_limit_is_fine(server: LocalHTTPServer) -> None:
    server.route("/exact", Reply(body=b"y" * 1000, chunked=True, content_length=False))
    async with make_fetcher(max_body_bytes=1000) as f:
        r = await get(f, server.url("/exact"))
    assert r.status is FetchStatus.OK
    assert r.body == b"y" * 1000


def gzip_bytes(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """~100 KB of gzip that inflates to 100 MiB of zeros, built without holding 100 MiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    return b"".join(c.compress(zeros) for _ in range(100)) + c.flush()


async def test_gzip_bomb_is_stopped_early_with_little_memory(
    server: LocalHTTPServer, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 200_000
    server.route("/bomb", Reply(body=gzip_bomb, headers={"Content-Encoding": "gzip"}))
    async with make_fetcher(max_decompressed_bytes=2 * MiB) as f:
        tracemalloc.start()
        try:
            r = await get(f, server.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status is FetchStatus.FAILED
    assert r.error == (
        f"decompressed body larger than {2 * MiB} bytes"
        " (Content-Encoding: gzip; a compression bomb?)"
    )
    assert r.body is None
    # The cap plus one inflate step and buffers, nowhere near the 100 MiB the body inflates to.
    assert peak < 12 * MiB, peak


async def test_gzip_bomb_with_default_limits(
    server: LocalHTTPServer, fetcher: Fetcher, gzip_bomb: bytes
) -> None:
    server.route("/bomb", Reply(body=gzip_bomb, headers={"Content-Encoding": "gzip"}))
    r = await get(fetcher, server.url("/bomb"))
    assert r.status is FetchStatus.FAILED
    # The parser is sized for max_body_bytes, compressed or not.
    assert fetcher.max_decompressed_bytes == fetcher.max_body_bytes
    assert r.error is not None
    assert r.error.startswith(f"decompressed body larger than {fetcher.max_body_bytes} bytes")


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip_bytes),
        ("x-gzip", gzip_bytes),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_bodies_are_decoded_and_hashed_decoded(
    server: LocalHTTPServer, fetcher: Fetcher, encoding: str, encode: object
) -> None:
    assert callable(encode)
    body = RSS * 200
    server.route("/z", Reply(body=encode(body), headers={"Content-Encoding": encoding}))
    r = await get(fetcher, server.url("/z"))
    assert r.status is FetchStatus.OK, r.error
    assert r.body == body
    assert r.body_hash == sha(body)


async def test_multi_member_gzip_is_decoded_whole(
    server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.route(
        "/z",
        Reply(
            body=gzip_bytes(b"part one, ") + gzip_bytes(b"part two"),
            headers={"Content-Encoding": "gzip"},
        ),
    )
    r = await get(fetcher, server.url("/z"))
    assert r.body == b"part one, part two"


@pytest.mark.parametrize(
    ("encoding", "body", "error"),
    [
        ("br", b"\x0b\x02\x80hello\x03", "unsupported Content-Encoding 'br'"),
        ("gzip", b"this is not gzip at all", "cannot decode the gzip body: "),
        ("gzip", gzip_bytes(RSS)[:-20], "the gzip body is truncated (stream incomplete)"),
    ],
    ids=["unsupported", "corrupt", "truncated"],
)
async def test_undecodable_bodies_fail_clearly(
    server: LocalHTTPServer, fetcher: Fetcher, encoding: str, body: bytes, error: str
) -> None:
    server.route("/z", Reply(body=body, headers={"Content-Encoding": encoding}))
    r = await get(fetcher, server.url("/z"))
    assert r.status is FetchStatus.FAILED
    assert r.error is not None and r.error.startswith(error)


# --- concurrency -----------------------------------------------------------------------------


async def test_per_host_limit_is_enforced(server: LocalHTTPServer) -> None:
    server.route("/feed", Reply(body=RSS, delay=0.15))
    async with make_fetcher(per_host_concurrency=2, concurrency=32) as f:
        results = await asyncio.gather(*(get(f, server.url("/feed") + f"?n={i}") for i in range(6)))
    assert all(r.status is FetchStatus.OK for r in results)
    assert len(server.requests_to("/feed")) == 6
    assert server.peak_in_flight() == 2


async def test_per_host_limit_counts_the_host_not_the_port() -> None:
    with LocalHTTPServer() as one, LocalHTTPServer() as two:
        for srv in (one, two):
            srv.route("/feed", Reply(body=RSS, delay=0.15))
        async with make_fetcher(per_host_concurrency=1) as f:
            await asyncio.gather(*(get(f, srv.url("/feed")) for srv in (one, two, one, two)))
        assert one.peak_in_flight() == 1 and two.peak_in_flight() == 1
        assert len(one.requests) == len(two.requests) == 2


async def test_global_limit_is_enforced(server: LocalHTTPServer) -> None:
    server.route("/feed", Reply(body=RSS, delay=0.15))
    async with make_fetcher(per_host_concurrency=10, concurrency=3) as f:
        results = await asyncio.gather(*(get(f, server.url("/feed")) for _ in range(8)))
    assert all(r.status is FetchStatus.OK for r in results)
    assert server.peak_in_flight() == 3


class _LocalNames(AbstractResolver):
    """Resolves every name to 127.0.0.1, so that two host names can share one local server."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


async def test_different_hosts_do_not_share_a_slot() -> None:
    # Each host's request waits until the other host's request has started.
    started = {"a.example": asyncio.Event(), "b.example": asyncio.Event()}

    async def handler(request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        started[host].set()
        other = "b.example" if host == "a.example" else "a.example"
        await asyncio.wait_for(started[other].wait(), timeout=5)
        return web.Response(body=RSS)

    app = web.Application()
    app.router.add_get("/feed", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with make_fetcher(per_host_concurrency=1, resolver=_LocalNames()) as f:
            a, b = await asyncio.gather(
                get(f, f"http://a.example:{port}/feed"), get(f, f"http://b.example:{port}/feed")
            )
    finally:
        await runner.cleanup()
    assert a.status is FetchStatus.OK and b.status is FetchStatus.OK, (a.error, b.error)


# --- file: URLs and odd input ----------------------------------------------------------------


async def test_file_urls(tmp_path: Path, fetcher: Fetcher) -> None:
    path = tmp_path / "sample feed.xml"
    path.write_bytes(RSS)
    r = await get(fetcher, path.as_uri())
    assert r.status is FetchStatus.OK, r.error
    assert r.body == RSS
    assert r.body_hash == sha(RSS)
    assert r.final_url == path.as_uri()
    again = await get(fetcher, path.as_uri(), body_hash=r.body_hash)
    assert again.status is FetchStatus.UNCHANGED
    assert again.body is None


async def test_file_url_problems(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2000)
    missing = tmp_path / "missing.xml"
    async with make_fetcher(max_body_bytes=1000) as f:
        r = await get(f, missing.as_uri())
        assert r.status is FetchStatus.FAILED
        assert r.error == f"no such file: {missing}"
        r = await get(f, big.as_uri())
        assert r.error == "body larger than 1000 bytes"
        r = await get(f, tmp_path.as_uri())
        assert r.error == f"not a file: {tmp_path}"
        r = await get(f, "file://elsewhere/etc/hosts")
        assert r.status is FetchStatus.FAILED
        assert r.error == "file: URL on another host 'elsewhere'"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.org/feed", "unsupported URL scheme ftp: (use http:, https: or file:)"),
        ("example.org/feed", "unsupported URL scheme (none) (use http:, https: or file:)"),
        ("http://", "invalid URL 'http://'"),
    ],
)
async def test_bad_urls_fail_without_raising(fetcher: Fetcher, url: str, error: str) -> None:
    r = await get(fetcher, url)
    assert r.status is FetchStatus.FAILED
    assert r.error is not None and r.error.startswith(error)
    assert r.url == url


def test_from_defaults_uses_the_config() -> None:
    d = Defaults(
        connect_timeout=3,
        read_timeout=4,
        total_timeout=5,
        max_body_bytes=1234,
        max_redirects=2,
        concurrency=7,
        per_host_concurrency=1,
    )
    f = Fetcher.from_defaults(d)
    assert (f.user_agent, f.connect_timeout, f.read_timeout, f.total_timeout) == (
        d.user_agent,
        3,
        4,
        5,
    )
    assert (f.max_body_bytes, f.max_redirects, f.concurrency, f.per_host_concurrency) == (
        1234,
        2,
        7,
        1,
    )
    assert f.max_decompressed_bytes == 1234


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="total_timeout must be positive"):
        make_fetcher(total_timeout=0)
    with pytest.raises(ValueError, match="user_agent must not be empty"):
        make_fetcher(user_agent=" ")


# --- next_poll_delay -------------------------------------------------------------------------

HOUR = timedelta(hours=1)


def result(status: FetchStatus, retry_after: float | None = None) -> FetchResult:
    return FetchResult(status=status, url="http://x/", retry_after=retry_after)


@given(
    status=st.sampled_from([FetchStatus.OK, FetchStatus.UNCHANGED, FetchStatus.NOT_MODIFIED]),
    minutes=st.integers(1, 24 * 60),
    seed=st.integers(0, 2**32),
)
def test_healthy_polls_wait_the_interval_with_small_jitter(
    status: FetchStatus, minutes: int, seed: int
) -> None:
    interval = timedelta(minutes=minutes)
    d = next_poll_delay(
        result(status), interval=interval, failures=0, max_backoff=HOUR, rng=random.Random(seed)
    )
    assert interval * 0.9 <= d <= interval * 1.1


@given(
    failures=st.integers(1, 10_000),
    minutes=st.integers(1, 600),
    cap_hours=st.integers(1, 48),
    seed=st.integers(0, 2**32),
)
def test_failures_back_off_exponentially_up_to_the_cap(
    failures: int, minutes: int, cap_hours: int, seed: int
) -> None:
    interval, cap = timedelta(minutes=minutes), timedelta(hours=cap_hours)
    d = next_poll_delay(
        result(FetchStatus.FAILED),
        interval=interval,
        failures=failures,
        max_backoff=cap,
        rng=random.Random(seed),
    )
    expected = min(interval.total_seconds() * 2.0 ** min(failures - 1, 60), cap.total_seconds())
    assert expected * 0.9 - 1e-6 <= d.total_seconds() <= expected + 1e-6
    assert d <= cap


def test_backoff_doubles_per_failure() -> None:
    interval = timedelta(minutes=10)
    delays = [
        next_poll_delay(
            result(FetchStatus.FAILED),
            interval=interval,
            failures=n,
            max_backoff=timedelta(days=30),
            rng=random.Random(1),  # same jitter each time: isolates the doubling
        )
        for n in range(1, 6)
    ]
    assert [round(d / delays[0]) for d in delays] == [1, 2, 4, 8, 16]


@given(retry_after=st.floats(0, 2 * 86400), failures=st.integers(1, 30), seed=st.integers(0, 99))
def test_backoff_never_undercuts_retry_after(retry_after: float, failures: int, seed: int) -> None:
    d = next_poll_delay(
        result(FetchStatus.FAILED, retry_after=retry_after),
        interval=timedelta(minutes=5),
        failures=failures,
        max_backoff=timedelta(hours=12),
        rng=random.Random(seed),
    )
    assert d >= timedelta(seconds=retry_after)
    assert d <= max(timedelta(hours=12), timedelta(seconds=retry_after))


def test_gone_waits_max_backoff_and_zero_failures_count_as_one() -> None:
    cap = timedelta(hours=12)
    assert (
        next_poll_delay(result(FetchStatus.GONE), interval=HOUR, failures=3, max_backoff=cap) == cap
    )
    d = next_poll_delay(
        result(FetchStatus.FAILED),
        interval=HOUR,
        failures=0,
        max_backoff=cap,
        rng=random.Random(3),
    )
    assert HOUR * 0.9 <= d <= HOUR


def test_jitter_spreads_feeds_out() -> None:
    rng = random.Random(42)
    delays = {
        next_poll_delay(
            result(FetchStatus.OK), interval=HOUR, failures=0, max_backoff=HOUR, rng=rng
        )
        for _ in range(20)
    }
    assert len(delays) > 10


def test_the_environment_is_read_only_when_it_has_proxies_or_netrc(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.ingest import fetch

    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "NETRC",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not fetch._environment_matters()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert fetch._environment_matters()
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine feeds.example login u password p\n")
    assert fetch._environment_matters()


def test_a_fetcher_outlives_an_event_loop(server: LocalHTTPServer) -> None:
    server.route("/feed", Reply(body=RSS))
    f = make_fetcher()

    async def once() -> FetchResult:
        return await get(f, server.url("/feed"))

    assert asyncio.run(once()).status is FetchStatus.OK
    assert asyncio.run(once()).status is FetchStatus.OK  # a new session for the new loop

    async def close() -> None:
        await f.aclose()

    asyncio.run(close())
