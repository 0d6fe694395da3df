"""Fetched bytes -> ParsedFeed, with feedparser doing the format work.

feedparser is lenient: it recovers entries from broken XML (a "bozo" feed) and we keep them.
What it cannot do is tell a feed from an HTML error page or a JSON API answer, so when it finds
no feed we say what the document looks like instead. Nothing here raises on bad input.

feedparser's HTML sanitizer and relative-URI rewriting of HTML content are switched off:
normalise turns every text into plain text with its own parser (so they add no safety), and
the sanitizer's unclosed-comment handling is quadratic on hostile input (an 80 KB summary of
"<!--" took seconds). RawEntry text is therefore raw HTML: never render it as HTML.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.ingest import chunks
from bot.ingest.lang import normalise_language_tag
from bot.ingest.normalise import canonical_url, text_of
from bot.ingest.types import FeedChunks, ParsedFeed, RawEntry

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # no news feed predates the web
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones drift; a week ahead is a bug
ERROR_MAX = 200  # characters of parser error kept in ParsedFeed.error
_GENERIC_XML = "not a feed: XML without an RSS, Atom or RDF root element"
_DATE_KEYS = ("published_parsed", "updated_parsed", "created_parsed")
# Response headers feedparser uses when it is handed bytes. Content-Encoding is deliberately
# absent: the HTTP client already decoded the body.
_PASSED_HEADERS = ("content-type", "content-language")


def _short(exc: object) -> str:
    text = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def _sniff(body: bytes) -> str:
    """A human description of a document feedparser found no feed in."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "empty body"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 BOM: look at the text
        with contextlib.suppress(UnicodeDecodeError):
            head = body[:4096].decode("utf-16").lstrip("\ufeff \t\r\n").encode("utf-8")
    lower = head.lower()
    if head[:1] in (b"{", b"["):
        return "not a feed: looks like JSON"
    if b"<html" in lower or b"<!doctype html" in lower or b"<body" in lower or b"<head" in lower:
        return "not a feed: looks like an HTML page"
    sample = body[:1024]
    textish = sum(1 for b in sample if b >= 0x20 or b in (9, 10, 13))
    if textish < len(sample) * 0.9:
        return "not a feed: looks like binary data"
    if head.startswith(b"<"):
        return _GENERIC_XML
    return "not a feed: no RSS, Atom or RDF document found"


_URLJOIN_CACHE_MAX = 512  # longer (base, uri) pairs are joined uncached: no hostile bloat


def _speed_up_feedparser() -> None:
    """Memoise feedparser's URL joining, a pure function of two strings.

    feedparser re-joins the base URI with itself at every element start (xml:base handling)
    and joins each link against it: a quarter of its time on ordinary feeds, nearly all of it
    for the same few pairs. Results are unchanged; only the module globals it calls through
    are replaced, and only if they are what this was written against.
    """
    from feedparser import mixin, urls

    original = urls._urljoin
    if getattr(original, "__wrapped__", None) is not None or mixin._urljoin is not original:
        return  # already done, or a feedparser this does not know

    cached = functools.lru_cache(maxsize=4096)(original)

    @functools.wraps(original)
    def urljoin(base: str, uri: str) -> str:
        if len(base) + len(uri) > _URLJOIN_CACHE_MAX:
            return str(original(base, uri))
        return str(cached(base, uri))

    urls._urljoin = urljoin
    mixin._urljoin = urljoin


_speed_up_feedparser()

_FIRST_ELEMENT_RE = re.compile(rb"<[A-Za-z_]")


def _expose_entity_declarations(body: bytes) -> bytes:
    """Put each <!ENTITY ...> of the prolog on a line of its own.

    feedparser drops entity declarations that reference other entities (the "billion
    laughs"), but only finds declarations at the start of a line; a one-line DOCTYPE slips
    through and leaves expat to expand it until its amplification limit trips seconds later.
    """
    m = _FIRST_ELEMENT_RE.search(body)
    end = m.start() if m else len(body)
    head = body[:end]
    if b"<!ENTITY" not in head:
        return body
    return head.replace(b"<!ENTITY", b"\n<!ENTITY") + body[end:]


def _to_datetime(value: Any, now: datetime) -> datetime | None:
    """feedparser's UTC struct_time -> aware datetime, None if missing or absurd."""
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        y, mo, d, h, mi, s = (int(v) for v in value[:6])
        dt = datetime(y, mo, d, h, mi, min(s, 59), tzinfo=UTC)  # leap seconds exist
    except (TypeError, ValueError, OverflowError):
        return None
    if dt < EARLIEST or dt > now + FUTURE_SLACK:
        return None
    return dt


def _first_date(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    for key in _DATE_KEYS:
        dt = _to_datetime(entry.get(key), now)
        if dt is not None:
            return dt
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _detail_type(entry: Mapping[str, Any], key: str) -> str | None:
    detail = entry.get(key)
    if isinstance(detail, Mapping):
        return _str(detail.get("type"))
    return None


def _link(entry: Mapping[str, Any], base: str) -> str | None:
    link = _str(entry.get("link"))
    if link is None:
        for candidate in entry.get("links") or ():
            if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
                link = _str(candidate.get("href"))
                if link:
                    break
    if link is None:
        return None
    try:
        # feedparser already resolved against xml:base/Content-Location; this only
        # matters for links it left relative.
        return urljoin(base, link)
    except ValueError:
        return None


def _summary(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    summary = _str(entry.get("summary"))
    if summary is not None:
        return summary, _detail_type(entry, "summary_detail")
    for content in entry.get("content") or ():
        if isinstance(content, Mapping) and _str(content.get("value")):
            return _str(content.get("value")), _str(content.get("type"))
    return None, None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or ():
        if isinstance(author, Mapping):
            name = _str(author.get("name")) or _str(author.get("email"))
            if name and name not in names:
                names.append(name)
    if not names:
        single = _str(entry.get("author"))
        if single:
            names.append(single)
    return tuple(names)


def _language(entry: Mapping[str, Any]) -> str | None:
    lang = _str(entry.get("language"))
    if lang is None:
        # feedparser records xml:lang (or the inherited feed language) on each text construct
        for key in ("title_detail", "summary_detail"):
            detail = entry.get(key)
            if isinstance(detail, Mapping) and _str(detail.get("language")):
                lang = _str(detail.get("language"))
                break
    return lang


def _raw_entry(entry: Mapping[str, Any], base: str, now: datetime) -> RawEntry:
    summary, summary_type = _summary(entry)
    return RawEntry(
        guid=_str(entry.get("id")),
        link=_link(entry, base),
        title=_str(entry.get("title")),
        title_type=_detail_type(entry, "title_detail"),
        summary=summary,
        summary_type=summary_type,
        published=_first_date(entry, now),
        language=_language(entry),
        authors=_authors(entry),
    )


def _base_url(url: str, headers: Mapping[str, str]) -> str:
    """Where relative links resolve: Content-Location (if http(s)) resolved against the URL."""
    loc = headers.get("content-location")
    if loc:
        try:
            resolved = urljoin(url, loc.strip())
            if urlsplit(resolved).scheme in ("http", "https"):
                return resolved
        except ValueError:
            pass
    return url


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    seen: FeedChunks | None = None,
    track: bool = False,
) -> ParsedFeed:
    """Parse a fetched feed body. Never raises; `ok` is False when it is not a feed at all.

    `headers` are the HTTP response headers (any case); Content-Type carries the charset and
    Content-Location, if any, the base for relative links. `now` bounds plausible dates.

    With `track`, the result's `chunks` describe the body's entry elements (when it can be
    split safely). Given such a `seen` from an earlier body whose entries are all stored, only
    the entries not in it are parsed and returned (`skipped` counts the others), as long as
    that provably gives what a full parse would; otherwise this falls back to a full parse.
    """
    now = now or datetime.now(UTC)
    if not body or not body.strip():
        return ParsedFeed(ok=False, entries=(), error="empty body")

    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    base = _base_url(url, lower)
    passed = {k: lower[k] for k in _PASSED_HEADERS if k in lower}
    # Any header dict makes feedparser act as if it saw an HTTP response, and a response
    # without Content-Type defaults to ISO-8859-1. application/xml keeps its
    # no-headers behaviour (BOM / XML declaration / UTF-8) while still passing the base URL.
    passed.setdefault("content-type", "application/xml")
    passed["content-location"] = base

    split = chunks.split_entries(body) if track or seen is not None else None
    context = chunks.context_of(split, base, lower) if split is not None else 0
    if split is not None and seen is not None and seen.context == context:
        reduced = _parse_new_entries(body, split, context, seen, passed, base, now)
        if reduced is not None:
            return reduced

    try:
        result = _feedparse(body, passed)
    except Exception as exc:  # hostile bytes must not take the poller down
        return ParsedFeed(ok=False, entries=(), error=f"parser failure: {_short(exc)}")
    remembered = None
    if (
        split is not None
        and _clean(result)
        and chunks.ascii_safe(result.get("encoding"))
        and len(result.get("entries") or ()) == len(split.entries)
    ):
        remembered = chunks.remember(split, context)
    return _parsed(result, body, base, now, remembered)


def _feedparse(doc: bytes, passed: Mapping[str, str]) -> Any:
    # A BytesIO, never the bytes themselves: feedparser treats a bytes/str argument that
    # names an existing file or URL as a path to open.
    return feedparser.parse(
        io.BytesIO(_expose_entity_declarations(doc)),
        response_headers=dict(passed),
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _clean(result: Any) -> bool:
    """Parsed by the strict parser, in the encoding the document and headers declare.

    A non-XML Content-Type makes feedparser complain but changes nothing else, and depends on
    the headers alone, so it is the same complaint for any document served with them.
    """
    return not result.get("bozo") or isinstance(
        result.get("bozo_exception"), feedparser.NonXMLContentType
    )


def _parse_new_entries(
    body: bytes,
    split: chunks.Split,
    context: int,
    seen: FeedChunks,
    passed: Mapping[str, str],
    base: str,
    now: datetime,
) -> ParsedFeed | None:
    """Parse head + unseen entries + tail; None unless that is what a full parse gives.

    The full parse would be a strict one exactly when the whole body is well-formed in the
    encoding feedparser settles on, and that encoding is the one the head and headers decide,
    the same for both documents when the reduced one needed no fallback. A strict parse turns
    each entry element into one entry from its own bytes and the context around it (checked
    through `context`), so the reduced document's entries are the full one's, minus the seen.
    """
    hashes = chunks.chunk_hashes(split)
    keep = [i for i, h in enumerate(hashes) if h not in seen.hashes]
    try:
        result = _feedparse(split.without(keep), passed)
    except Exception:
        return None
    encoding = result.get("encoding")
    if (
        not result.get("version")
        or not _clean(result)
        or len(result.get("entries") or ()) != len(keep)
        or not chunks.ascii_safe(encoding)
        or not chunks.well_formed(body, encoding)
    ):
        return None
    remembered = FeedChunks(context, frozenset(hashes))
    return _parsed(result, body, base, now, remembered, skipped=len(hashes) - len(keep))


def _parsed(
    result: Any,
    body: bytes,
    base: str,
    now: datetime,
    remembered: FeedChunks | None,
    skipped: int = 0,
) -> ParsedFeed:
    raw_entries = []
    for entry in result.get("entries") or ():
        try:
            raw_entries.append(_raw_entry(entry, base, now))
        except Exception:  # one odd entry must not cost the others
            continue
    entries = tuple(raw_entries)

    version = result.get("version") or ""
    feed = result.get("feed") or {}
    if not version and not entries and not skipped:
        verdict = _sniff(body)
        # XML in which feedparser still found channel data (an itemless CDF channel) is an
        # empty feed, not an error.
        if verdict != _GENERIC_XML or not feed:
            return ParsedFeed(ok=False, entries=(), error=verdict)

    title = text_of(_str(feed.get("title")), _detail_type(feed, "title_detail")) or None
    link = canonical_url(_str(feed.get("link")))
    language = normalise_language_tag(_str(feed.get("language")))
    if language is None:
        detail = feed.get("title_detail")
        if isinstance(detail, Mapping):
            language = normalise_language_tag(_str(detail.get("language")))

    error = None
    if result.get("bozo"):
        error = f"feed has errors: {_short(result.get('bozo_exception', 'unknown'))}"
    return ParsedFeed(
        ok=True,
        entries=entries,
        title=title,
        link=link,
        language=language,
        error=error,
        chunks=remembered,
        skipped=skipped,
    )
