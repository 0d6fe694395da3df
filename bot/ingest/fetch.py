"""Fetch feeds over HTTP(S) (and file: URLs) politely and defensively.

One `Fetcher` is shared by all polls. It limits concurrency globally and per host, enforces
connect/read timeouts plus a total wall-clock budget per fetch, streams bodies with a cap on both
the bytes on the wire and the decompressed size (so a gzip bomb is stopped early), follows
redirects by hand (so a chain of 301/308 can update the stored URL), sends conditional GETs and
recognises an unchanged body by its SHA-256. `fetch` never raises for network or HTTP problems:
they come back as `FetchStatus.FAILED` (or `GONE`) with a message a person can act on.

The HTTP client is aiohttp: a poll cycle is a thousand small requests, and its C HTTP parser
and connection pool cost about a tenth of the CPU httpx did per request (httpcore's pool
scans every connection for every request, and re-tries a failing `import sniffio` each time).

Retries: a connection reset while opening is retried once at once, and aiohttp retries a GET
whose connection dropped before the answer (a stale pooled socket); that covers the transient
cases without tenacity. Anything else is left to the scheduler, which backs off with
`next_poll_delay`.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import socket
import ssl
import time
import urllib.request
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver

from bot.ingest.backoff import next_poll_delay
from bot.ingest.netguard import (
    BlockedAddress,
    GuardedResolver,
    allow_private_from_env,
    blocked_url,
    shorten,
)
from bot.ingest.types import FeedState, FetchResult, FetchStatus


class FetchLimits(Protocol):
    """The HTTP limits Fetcher.from_defaults reads (the config file's `defaults`)."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_body_bytes: int
    max_redirects: int
    concurrency: int
    per_host_concurrency: int


__all__ = ["ACCEPT", "MAX_RETRY_AFTER", "Fetcher", "next_poll_delay", "parse_retry_after"]

MiB = 1024 * 1024
# Feed types first; anything else is still accepted (the parser decides what it really is).
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
# Only encodings we decode ourselves, with a bound on the output.
ACCEPT_ENCODING = "gzip, deflate"
MAX_RETRY_AFTER = 24 * 3600.0  # a server asking for more than a day is capped at a day
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_INFLATE_STEP = 256 * 1024  # decompress at most this much per zlib call
ERROR_MAX = 1_000  # characters of a failure message: each URL in it is cut to 200 already
_GZIP_MAGIC = b"\x1f\x8b"


class _TooLarge(Exception):
    pass


class _Undecodable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Redirect:
    status: int
    location: str


def _fmt_seconds(s: float) -> str:
    return f"{s:g} s"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date; capped at a day.

    A date in the past gives 0; an unreadable value gives None.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


def _zlib_header(data: bytes) -> bool:
    """True when `data` starts with a zlib (RFC 1950) header: deflate method, valid check bits."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


class _BoundedDecoder:
    """Decodes one Content-Encoding incrementally, refusing to produce more than `limit` bytes.

    zlib is asked for at most _INFLATE_STEP bytes per call, so a bomb is stopped after about
    `limit` bytes of output instead of inflating a whole network chunk (~1000x) in one go.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._mode = "identity"
        elif enc in ("gzip", "x-gzip"):
            self._mode = "gzip"
        elif enc == "deflate":
            self._mode = "deflate"
        else:
            raise _Undecodable(f"unsupported Content-Encoding {encoding!r}")
        self.encoding = enc or "identity"
        self._limit = limit
        self._out = bytearray()
        self._d = self._new()
        self._fed = False
        self._ended = False  # the current stream reached its end marker
        self._junk = False  # ignoring trailing bytes
        self._tail = b""  # bytes after an ended stream, until we know what they are

    def _new(self) -> zlib._Decompress:
        # 32 + MAX_WBITS accepts a gzip or zlib header (servers mislabel); deflate starts as zlib.
        return zlib.decompressobj(32 + zlib.MAX_WBITS if self._mode == "gzip" else zlib.MAX_WBITS)

    def _emit(self, data: bytes) -> None:
        if len(self._out) + len(data) > self._limit:
            raise _TooLarge(
                f"decompressed body larger than {self._limit} bytes"
                f" (Content-Encoding: {self.encoding}; a compression bomb?)"
            )
        self._out += data

    def feed(self, data: bytes) -> None:
        if self._mode == "identity":
            self._emit(data)
            return
        if not data:
            return
        if not self._fed and self._mode == "deflate" and not _zlib_header(data):
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._fed = True
        try:
            self._inflate(data)
        except zlib.error as exc:
            raise _Undecodable(f"cannot decode the {self.encoding} body: {exc}") from None

    def _inflate(self, data: bytes) -> None:
        buf = data
        while True:
            if self._ended:
                # Bytes after a finished stream: another gzip member (possibly split across
                # network chunks), else trailing junk, which is ignored as browsers do.
                if self._junk:
                    return
                self._tail += buf
                if len(self._tail) < 2:
                    return
                if self._mode == "gzip" and self._tail[:2] == _GZIP_MAGIC:
                    buf, self._tail, self._ended = self._tail, b"", False
                    self._d = self._new()
                    continue
                self._junk, self._tail = True, b""
                return
            out = self._d.decompress(buf, _INFLATE_STEP)
            self._emit(out)
            if self._d.eof:
                self._ended = True
                buf = self._d.unused_data
                continue
            buf = self._d.unconsumed_tail
            # A full step may leave output pending inside zlib even when the input is used up.
            if not buf and len(out) < _INFLATE_STEP:
                return

    def finish(self) -> bytes:
        if self._mode != "identity":
            if self._fed and not self._ended:
                raise _Undecodable(f"the {self.encoding} body is truncated (stream incomplete)")
            try:
                self._emit(self._d.flush())
            except zlib.error as exc:
                raise _Undecodable(f"cannot decode the {self.encoding} body: {exc}") from None
        return bytes(self._out)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and the OS/TLS errors aiohttp keeps aside."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        for attr in ("certificate_error", "os_error"):
            inner = getattr(cur, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        nxt = cur.__cause__ or cur.__context__
        if nxt is not None:
            todo.append(nxt)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _environment_matters() -> bool:
    """Whether proxy variables or a netrc file are there for aiohttp's trust_env to read."""
    if urllib.request.getproxies_environment() or os.environ.get("NETRC"):
        return True
    try:
        return (Path.home() / ".netrc").exists()
    except (OSError, RuntimeError):  # no home directory
        return False


def _has_host(url: str) -> bool:
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:
        return False


def describe_error(exc: BaseException, url: str, fetcher: Fetcher) -> str:
    """A short, human-readable reason for a transport-level failure."""
    host = _host_of(url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"connect timed out after {_fmt_seconds(fetcher.connect_timeout)} ({host})"
    if isinstance(exc, aiohttp.ServerTimeoutError):  # socket read timeout
        return (
            f"read timed out after {_fmt_seconds(fetcher.read_timeout)}"
            f" (the server sent nothing for that long)"
        )
    if isinstance(exc, aiohttp.InvalidURL):
        # str(exc) is the URL again, sometimes with why: never quote a megabyte of it twice.
        why = getattr(exc, "description", None)
        return f"invalid URL {shorten(url)!r}" + (f": {shorten(str(why))}" if why else "")
    for e in _exception_chain(exc):
        if isinstance(e, BlockedAddress):
            return str(e)
        if getattr(e, "os_error", None) or getattr(e, "certificate_error", None):
            continue  # an aiohttp wrapper (some subclass ssl.SSLError): read what it wraps
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed for {host}: {e.strerror or e}"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate problem for {host}: {e.verify_message or e.reason or e}"
        if isinstance(e, ssl.SSLError):
            return f"TLS error with {host}: {e.reason or e}"
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return f"connection refused ({host})"
        if isinstance(e, ConnectionResetError):
            return f"connection reset by {host}"
        if getattr(e, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"network unreachable ({host})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server broke the HTTP protocol: it closed the connection without answering"
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        message = getattr(exc, "message", None) or str(exc)
        return f"the server broke the HTTP protocol: {message}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {shorten(host)}: {exc.os_error or exc}"
    return f"{type(exc).__name__}: {shorten(str(exc))}" if str(exc) else type(exc).__name__


def _http_error(resp: aiohttp.ClientResponse) -> str:
    try:
        phrase = resp.reason or HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {resp.status} {phrase}".rstrip()


def _header_dict(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """Response headers with lower-case names, repeated ones joined with ", "."""
    out: dict[str, str] = {}
    for name, value in resp.headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class Fetcher:
    """Fetches feeds. Share one instance; close it with `aclose()` or `async with`."""

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout: float = 10,
        read_timeout: float = 20,
        total_timeout: float = 60,
        max_body_bytes: int = 10 * MiB,
        max_decompressed_bytes: int | None = None,
        max_redirects: int = 5,
        concurrency: int = 32,
        per_host_concurrency: int = 2,
        resolver: AbstractResolver | None = None,
        allow_private: bool | None = None,
        guard_exempt: Collection[tuple[str, int]] = (),
    ) -> None:
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("total_timeout", total_timeout),
            ("max_body_bytes", max_body_bytes),
            ("concurrency", concurrency),
            ("per_host_concurrency", per_host_concurrency),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be 0 or more, not {max_redirects!r}")
        if not user_agent.strip():
            raise ValueError("user_agent must not be empty")
        self.user_agent = user_agent
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.total_timeout = float(total_timeout)
        self.max_body_bytes = int(max_body_bytes)
        # What is parsed is bounded by the body cap whatever the transfer encoding: the parser's
        # budget and memory are sized for it, and a bomb stops as soon as it passes it (a body
        # inflating to 48 MB under the old 50 MiB default was parsed for ten minutes).
        self.max_decompressed_bytes = (
            int(max_decompressed_bytes)
            if max_decompressed_bytes is not None
            else self.max_body_bytes
        )
        if self.max_decompressed_bytes <= 0:
            raise ValueError("max_decompressed_bytes must be positive")
        self.max_redirects = max_redirects
        self.concurrency = concurrency
        self.per_host_concurrency = per_host_concurrency
        self._global = asyncio.Semaphore(concurrency)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._resolver = resolver  # tests map host names to 127.0.0.1 with one
        # Guarded feeds (FeedState.guarded: added from chat) may not reach private addresses.
        self.allow_private = allow_private_from_env() if allow_private is None else allow_private
        self._guard_exempt = frozenset(guard_exempt)  # (ip, port) pairs: a test hook only
        # Made on first use: an aiohttp session belongs to the event loop it was made in.
        # Guarded fetches get a session of their own, whose resolver checks every answer.
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _client(self, guarded: bool = False) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session_loop is not loop:
            self._sessions = {}  # a session from a finished loop cannot be reused
            self._session_loop = loop
        session = self._sessions.get(guarded)
        if session is None or session.closed:
            resolver = self._resolver
            if guarded:
                resolver = GuardedResolver(self._resolver, self._guard_exempt)
            connector = aiohttp.TCPConnector(
                limit=self.concurrency,
                limit_per_host=0,  # the per-host semaphores do this, counting redirects too
                resolver=resolver,
                ttl_dns_cache=300,
            )
            session = self._sessions[guarded] = aiohttp.ClientSession(
                connector=connector,
                headers={
                    "User-Agent": self.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                timeout=aiohttp.ClientTimeout(
                    total=None,  # the total budget is ours, spanning redirects
                    sock_connect=self.connect_timeout,
                    sock_read=self.read_timeout,
                ),
                auto_decompress=False,  # bodies are decoded by _BoundedDecoder, with a cap
                # Proxies and .netrc from the environment, as with httpx; but only when there
                # are any, since aiohttp scans the whole environment for every request. Never
                # for guarded fetches: a proxy would resolve names past our resolver.
                trust_env=not guarded and _environment_matters(),
            )
        return session

    @classmethod
    def from_defaults(cls, d: FetchLimits) -> Fetcher:
        return cls(
            user_agent=d.user_agent,
            connect_timeout=d.connect_timeout,
            read_timeout=d.read_timeout,
            total_timeout=d.total_timeout,
            max_body_bytes=d.max_body_bytes,
            max_redirects=d.max_redirects,
            concurrency=d.concurrency,
            per_host_concurrency=d.per_host_concurrency,
        )

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- public ------------------------------------------------------------------------------
    async def fetch(self, state: FeedState) -> FetchResult:
        """Fetch one feed. Never raises for network or HTTP problems (see FetchResult)."""
        started = time.monotonic()
        url = state.url.strip()
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 host
            scheme = ""
            result = self._failed(state, url, f"invalid URL {shorten(url)!r}: {exc}")
        else:
            if scheme == "file":
                result = await self._fetch_file(state, url)
            elif scheme in ("http", "https"):
                if not _has_host(url):
                    result = self._failed(state, url, f"invalid URL {shorten(url)!r}: no host name")
                else:
                    result = await self._fetch_http(state, url)
            else:
                result = self._failed(
                    state,
                    url,
                    f"unsupported URL scheme {shorten(scheme, 20) + ':' if scheme else '(none)'}"
                    " (use http:, https: or file:)",
                )
        error = result.error
        if error is not None and len(error) > ERROR_MAX:
            error = error[: ERROR_MAX - 1] + "…"
        return replace(result, url=state.url, error=error, elapsed=time.monotonic() - started)

    # --- HTTP --------------------------------------------------------------------------------
    def _host_limit(self, url: str) -> asyncio.Semaphore:
        # Keyed by host name only: two ports on one machine share the politeness budget.
        key = _host_of(url).lower()
        sem = self._per_host.get(key)
        if sem is None:
            sem = self._per_host[key] = asyncio.Semaphore(self.per_host_concurrency)
        return sem

    async def _fetch_http(self, state: FeedState, url: str) -> FetchResult:
        visited = [url]
        result = await self._follow(state, url, visited)
        return replace(result, hops=tuple(visited))

    async def _follow(self, state: FeedState, url: str, visited: list[str]) -> FetchResult:
        """Request `url`, following redirects; `visited` gets every URL requested."""
        budget = self.total_timeout  # spent only while a hop is running, not while queued
        hops: list[int] = []
        current = url
        guarded = state.guarded and not self.allow_private
        while True:
            if guarded:  # names are checked by the resolver; literal addresses here
                refusal = blocked_url(current, self._guard_exempt)
                if refusal is not None:
                    return self._failed(state, current, refusal)
            # Host slot first, then a global slot: a task waiting for a busy host must not
            # hold one of the global slots other hosts could use.
            async with self._host_limit(current), self._global:
                hop_started = time.monotonic()
                deadline = asyncio.timeout(budget)
                try:
                    async with deadline:
                        outcome = await self._hop(state, current, guarded)
                except TimeoutError as exc:
                    if not deadline.expired():  # a socket-level timeout, not our budget
                        return self._failed(state, current, describe_error(exc, current, self))
                    return self._failed(
                        state,
                        current,
                        f"timed out after {_fmt_seconds(self.total_timeout)} (total)",
                    )
                except aiohttp.ClientError as exc:
                    return self._failed(state, current, describe_error(exc, current, self))
                except OSError as exc:  # belt and braces: transports may leak raw socket errors
                    return self._failed(state, current, describe_error(exc, current, self))
                finally:
                    budget -= time.monotonic() - hop_started
            if isinstance(outcome, FetchResult):
                permanent = (
                    outcome.final_url
                    if hops
                    and all(s in _PERMANENT for s in hops)
                    and outcome.status is not FetchStatus.FAILED
                    and outcome.status is not FetchStatus.GONE
                    else None
                )
                return replace(outcome, permanent_redirect=permanent)
            hops.append(outcome.status)
            try:
                target = str(yarl.URL(current).join(yarl.URL(outcome.location)))
            except (ValueError, TypeError) as exc:
                return self._failed(
                    state,
                    current,
                    f"HTTP {outcome.status} to an invalid Location"
                    f" {shorten(outcome.location)!r}: {shorten(str(exc))}",
                )
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                # Never let a remote server point us at file: or other local resources.
                return self._failed(
                    state,
                    current,
                    f"HTTP {outcome.status} redirect to a non-HTTP URL"
                    f" {shorten(outcome.location)!r}",
                )
            if len(hops) > self.max_redirects:
                loop = target in visited
                chain = " -> ".join(shorten(u, 100) for u in [*visited, target])
                what = "redirect loop" if loop else "too many redirects"
                return self._failed(
                    state,
                    current,
                    f"{what} (more than {self.max_redirects} redirects): {chain}",
                )
            visited.append(target)
            current = target

    async def _hop(
        self, state: FeedState, url: str, guarded: bool = False
    ) -> FetchResult | _Redirect:
        headers: dict[str, str] = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        for attempt in (1, 2):
            try:
                async with self._client(guarded).get(
                    url, headers=headers, allow_redirects=False
                ) as resp:
                    return await self._handle(state, url, resp)
            except aiohttp.ClientConnectorError as exc:
                # One immediate retry for a connection reset while opening (aiohttp itself
                # retries a request whose connection dropped before the answer); not for
                # refusals, timeouts, DNS or TLS problems.
                transient = isinstance(exc.os_error, ConnectionResetError | ConnectionAbortedError)
                if attempt == 2 or not transient or isinstance(exc, aiohttp.ClientSSLError):
                    raise
        raise AssertionError("unreachable")

    async def _handle(
        self, state: FeedState, url: str, resp: aiohttp.ClientResponse
    ) -> FetchResult | _Redirect:
        code = resp.status
        headers = _header_dict(resp)
        etag = resp.headers.get("etag")
        last_modified = resp.headers.get("last-modified")
        base = FetchResult(
            status=FetchStatus.FAILED,
            url=url,
            final_url=url,
            http_status=code,
            headers=headers,
            etag=etag or state.etag,
            last_modified=last_modified or state.last_modified,
            body_hash=state.body_hash,
        )
        if code in _REDIRECTS:
            location = resp.headers.get("location", "").strip()
            if not location:
                return replace(base, error=f"{_http_error(resp)} without a Location header")
            return _Redirect(code, location)
        if code == 304:
            return replace(base, status=FetchStatus.NOT_MODIFIED)  # keep the old validators
        if code == 410:
            return replace(
                base,
                status=FetchStatus.GONE,
                error=f"{_http_error(resp)}: the feed was removed for good",
            )
        if not 200 <= code < 300:
            retry_after = (
                parse_retry_after(resp.headers.get("retry-after"))
                if code in _RETRY_AFTER_STATUSES
                else None
            )
            return replace(base, error=_http_error(resp), retry_after=retry_after)

        declared = resp.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return replace(
                base,
                error=f"body larger than {self.max_body_bytes} bytes"
                f" (Content-Length: {int(declared)})",
            )
        try:
            body = await self._read_body(resp)
        except (_TooLarge, _Undecodable) as exc:
            return replace(base, error=str(exc))
        # A fresh 200 carries its own validators; do not keep stale ones it did not send.
        return self._body_result(replace(base, etag=etag, last_modified=last_modified), state, body)

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        decoder = _BoundedDecoder(
            resp.headers.get("content-encoding", ""), self.max_decompressed_bytes
        )
        received = 0
        async for chunk in resp.content.iter_any():  # de-chunked, still content-encoded
            received += len(chunk)
            if received > self.max_body_bytes:
                raise _TooLarge(f"body larger than {self.max_body_bytes} bytes")
            decoder.feed(chunk)
        return decoder.finish()

    # --- file: URLs ----------------------------------------------------------------------------
    async def _fetch_file(self, state: FeedState, url: str) -> FetchResult:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return self._failed(state, url, f"file: URL on another host {shorten(parts.netloc)!r}")
        path = Path(unquote(parts.path))
        base = FetchResult(status=FetchStatus.FAILED, url=url, final_url=url)
        try:
            body = await asyncio.to_thread(self._read_file, path)
        except FileNotFoundError:
            return replace(base, error=f"no such file: {shorten(str(path))}")
        except IsADirectoryError:
            return replace(base, error=f"not a file: {shorten(str(path))}")
        except _TooLarge as exc:
            return replace(base, error=str(exc))
        except OSError as exc:
            return replace(base, error=f"cannot read {shorten(str(path))}: {exc.strerror or exc}")
        return self._body_result(base, state, body)

    def _read_file(self, path: Path) -> bytes:
        with path.open("rb") as fh:
            body = fh.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            raise _TooLarge(f"body larger than {self.max_body_bytes} bytes")
        return body

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _body_result(base: FetchResult, state: FeedState, body: bytes) -> FetchResult:
        digest = hashlib.sha256(body).hexdigest()
        if state.body_hash is not None and digest == state.body_hash:
            return replace(base, status=FetchStatus.UNCHANGED, body=None, body_hash=digest)
        return replace(base, status=FetchStatus.OK, body=body, body_hash=digest)

    @staticmethod
    def _failed(state: FeedState, url: str, error: str) -> FetchResult:
        return FetchResult(
            status=FetchStatus.FAILED,
            url=state.url,
            final_url=url,
            etag=state.etag,
            last_modified=state.last_modified,
            body_hash=state.body_hash,
            error=error,
        )
