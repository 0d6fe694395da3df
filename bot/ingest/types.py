"""Small typed values passed between the ingestion stages (reader-style dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FetchStatus(StrEnum):
    OK = "ok"  # 200 with a new body: parse it
    UNCHANGED = "unchanged"  # 200 with the same body as last time: nothing to parse
    NOT_MODIFIED = "not_modified"  # 304
    GONE = "gone"  # 410: the feed should be disabled
    FAILED = "failed"  # anything else: back off


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the fetcher needs to know about a feed from the last poll."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    consecutive_failures: int = 0
    guarded: bool = False  # refuse private, loopback and metadata addresses (SSRF)


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: FetchStatus
    url: str  # the URL that was requested
    final_url: str | None = None  # where redirects ended
    permanent_redirect: str | None = None  # set when the chain was all 301/308: store it
    http_status: int | None = None
    body: bytes | None = None  # only for OK
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After on 429/503
    error: str | None = None  # a human-readable reason for FAILED/GONE
    elapsed: float = 0.0
    hops: tuple[str, ...] = ()  # the URLs requested, in order (redirects), for HTTP(S)


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One feedparser entry reduced to the fields we use (still raw: may hold HTML)."""

    guid: str | None
    link: str | None
    title: str | None
    title_type: str | None  # e.g. "text/html", "text/plain"
    summary: str | None
    summary_type: str | None
    published: datetime | None  # UTC, from published/updated/created when parseable
    language: str | None
    authors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedChunks:
    """What a poll remembers of a body whose entries are all stored (see bot/ingest/chunks).

    `context` is a hash of what an entry's meaning depends on outside its own bytes (the base
    URL, the response's content type and language, the start tags around the entries);
    `hashes` are hashes of the entry elements' bytes.
    """

    context: int
    hashes: frozenset[int]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    ok: bool  # False when the document is not a feed at all
    entries: tuple[RawEntry, ...]
    title: str | None = None
    link: str | None = None
    language: str | None = None
    error: str | None = None  # clear message for not-a-feed; a warning for a bozo feed
    # The split of this body into entries, to pass back as `seen` once they are stored; None
    # when the body cannot be split safely (then every parse is a full one).
    chunks: FeedChunks | None = None
    skipped: int = 0  # entries left out because `seen` had them
    dropped: int = 0  # entries left out by the per-poll cap, or as too costly to parse


@dataclass(frozen=True, slots=True)
class Item:
    """A normalised entry: plain text, canonical URL, UTC time, stable identity."""

    uid: str  # stable within its feed: guid, else canonical link, else hash(title, date)
    url: str | None  # canonical: tracking parameters and fragment dropped
    title: str  # plain text, bounded
    summary: str  # plain text, bounded
    published: datetime  # UTC; first-seen time when the feed gives none
    published_known: bool
    language: str | None  # ISO 639-1
    authors: tuple[str, ...] = ()
