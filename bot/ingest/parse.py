"""Fetched bytes -> ParsedFeed, with feedparser doing the format work.

feedparser is lenient: it recovers entries from broken XML (a "bozo" feed) and we keep them.
What it cannot do is tell a feed from an HTML error page or a JSON API answer, so when it finds
no feed we say what the document looks like instead. Nothing here raises on bad input.

Hostile documents are bounded before feedparser sees them (see bot/ingest/xmlsafe.py): its
DOCTYPE handling is replaced by one that removes every entity declaration and salvages bad
characters, and a document is parsed only as far as an estimate of feedparser's work allows.
A feed of many entries is cut to the newest `max_entries` (and to the entries that fit that
budget) before parsing, on the raw bytes; what cannot be cut and is over budget is refused
with a message that says why. Texts are cut early too (RAW_TITLE_MAX, RAW_SUMMARY_MAX), so a
megabyte title never reaches normalising or classification.

feedparser's HTML sanitizer and relative-URI rewriting of HTML content are switched off:
normalise turns every text into plain text with its own parser (so they add no safety), and
the sanitizer's unclosed-comment handling is quadratic on hostile input (an 80 KB summary of
"<!--" took seconds). RawEntry text is therefore raw HTML: never render it as HTML.
"""

from __future__ import annotations

import calendar
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
from feedparser.datetimes import _parse_date

from bot.ingest import chunks, xmlsafe
from bot.ingest.lang import normalise_language_tag
from bot.ingest.normalise import canonical_url, text_of
from bot.ingest.types import FeedChunks, ParsedFeed, RawEntry

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # no news feed predates the web
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones drift; a week ahead is a bug
ERROR_MAX = 200  # characters of parser error kept in ParsedFeed.error
# Entries taken from one poll of one feed: the newest by date when dates are known, else the
# first in document order. A news feed holds tens; thousands are an archive or an attack.
MAX_ENTRIES = 300
# Raw (possibly HTML) text kept per field, before any normalising: normalise keeps 300 and
# 1,000 characters of plain text, and markup around them rarely takes more than this.
RAW_TITLE_MAX = 1_000
RAW_SUMMARY_MAX = 20_000
RAW_AUTHOR_MAX = 1_000
RAW_AUTHORS_MAX = 20
RAW_LINK_MAX = 4_096  # a longer link is dropped: a cut URL would point elsewhere
# Estimated microseconds of feedparser work allowed per parse (see xmlsafe.cost): about a
# second on the strict path, twice that when a late error sends it to the loose parser too.
PARSE_BUDGET = 2_000_000.0
# Above this many candidate entries the newest are found from the document's order (the
# dates of its first and last entries) instead of from every entry's date.
_DATED_MAX = 20_000
# A body with more entry elements than this is not cut into entries (the lists would cost
# more than the parse they save): it is parsed whole, or refused, like any other.
SPLIT_MAX = 50_000
_ORDER_SAMPLE = 16
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


def _guard_feedparser() -> bool:
    """Send feedparser's DOCTYPE step through xmlsafe.prepare, for every encoding.

    feedparser decodes the body (UTF-16, legacy charsets...) to UTF-8 and then calls
    `replace_doctype` on it, before either of its parsers runs: the one place where both see
    the same bytes. Ours removes the whole DTD instead of keeping "safe" entities, and gives
    the loose parser none. False if this feedparser is not the one it was written against.
    """
    from feedparser import api

    original = getattr(api, "replace_doctype", None)
    if original is None:
        return False
    if getattr(original, "policybot", False):
        return True

    def replace_doctype(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
        prepared = xmlsafe.prepare(data)
        version = "rss091n" if b"netscape" in prepared.doctype.lower() else None
        return version, prepared.data, {}

    replace_doctype.policybot = True  # type: ignore[attr-defined]
    api.replace_doctype = replace_doctype
    return True


_GUARDED = _guard_feedparser()


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


def _str(value: Any, limit: int | None = None) -> str | None:
    if isinstance(value, str):
        if limit is not None and len(value) > limit:
            value = value[:limit]
        value = value.strip()
        return value or None
    return None


def _detail_type(entry: Mapping[str, Any], key: str) -> str | None:
    detail = entry.get(key)
    if isinstance(detail, Mapping):
        return _str(detail.get("type"), 200)
    return None


def _link(entry: Mapping[str, Any], base: str) -> str | None:
    link = _str(entry.get("link"))
    if link is None:
        for candidate in entry.get("links") or ():
            if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
                link = _str(candidate.get("href"))
                if link:
                    break
    if link is None or len(link) > RAW_LINK_MAX:
        return None
    try:
        # feedparser already resolved against xml:base/Content-Location; this only
        # matters for links it left relative.
        return urljoin(base, link)
    except ValueError:
        return None


def _summary(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    summary = _str(entry.get("summary"), RAW_SUMMARY_MAX)
    if summary is not None:
        return summary, _detail_type(entry, "summary_detail")
    for content in entry.get("content") or ():
        if isinstance(content, Mapping):
            value = _str(content.get("value"), RAW_SUMMARY_MAX)
            if value:
                return value, _str(content.get("type"), 200)
    return None, None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or ():
        if len(names) >= RAW_AUTHORS_MAX:
            break
        if isinstance(author, Mapping):
            name = _str(author.get("name"), RAW_AUTHOR_MAX) or _str(
                author.get("email"), RAW_AUTHOR_MAX
            )
            if name and name not in names:
                names.append(name)
    if not names:
        single = _str(entry.get("author"), RAW_AUTHOR_MAX)
        if single:
            names.append(single)
    return tuple(names)


def _language(entry: Mapping[str, Any]) -> str | None:
    lang = _str(entry.get("language"), 100)
    if lang is None:
        # feedparser records xml:lang (or the inherited feed language) on each text construct
        for key in ("title_detail", "summary_detail"):
            detail = entry.get(key)
            if isinstance(detail, Mapping) and _str(detail.get("language"), 100):
                lang = _str(detail.get("language"), 100)
                break
    return lang


def _raw_entry(entry: Mapping[str, Any], base: str, now: datetime) -> RawEntry:
    summary, summary_type = _summary(entry)
    return RawEntry(
        guid=_str(entry.get("id")),
        link=_link(entry, base),
        title=_str(entry.get("title"), RAW_TITLE_MAX),
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


def _refused(what: str, cost: xmlsafe.Cost) -> ParsedFeed:
    return ParsedFeed(
        ok=False,
        entries=(),
        error=f"refused: {what} has too much markup to parse safely ({cost.describe()})",
    )


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    seen: FeedChunks | None = None,
    track: bool = False,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse a fetched feed body. Never raises; `ok` is False when it is not a feed at all,
    or when it is refused as too costly to parse (`error` says why).

    `headers` are the HTTP response headers (any case); Content-Type carries the charset and
    Content-Location, if any, the base for relative links. `now` bounds plausible dates.
    At most `max_entries` entries are returned: the newest by date when the feed dates them,
    else the first; `dropped` counts those left out (and any too costly to parse).

    With `track`, the result's `chunks` describe the body's entry elements (when it can be
    split safely). Given such a `seen` from an earlier body whose entries are all stored, only
    the entries not in it are parsed and returned (`skipped` counts the others), as long as
    that provably gives what a full parse would; otherwise this falls back to a full parse.
    """
    now = now or datetime.now(UTC)
    max_entries = max(1, max_entries)
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

    split = chunks.split_entries(body, limit=SPLIT_MAX)
    if split is None:
        # Not cut into entries: parsed whole, or not at all.
        cost = xmlsafe.cost(body, limit=PARSE_BUDGET)
        if cost.units > PARSE_BUDGET:
            return _refused("the document", cost)
        return _full(body, body, passed, base, now, max_entries)

    # Before anything reads the head tag by tag (context_of lists its start tags: a 9 MB
    # head of empty elements made a list of millions).
    fixed = _fixed_cost(body, split)
    if fixed.units > PARSE_BUDGET:
        return _refused("the feed outside its entries", fixed)
    context = chunks.context_of(split, base, lower)
    if seen is not None and seen.context == context:
        reduced = _parse_new_entries(body, split, context, seen, passed, base, now, max_entries)
        if reduced is not None:
            return reduced

    plan = _select(body, split, range(len(split.entries)), max_entries)
    if isinstance(plan, ParsedFeed):
        return plan
    keep, dropped = plan
    doc = body if not dropped else split.without(keep)
    try:
        result = _feedparse(doc, passed)
    except Exception as exc:  # hostile bytes must not take the poller down
        return ParsedFeed(ok=False, entries=(), error=f"parser failure: {_short(exc)}")
    remembered = None
    if (
        (track or seen is not None)
        and _clean(result)
        and chunks.ascii_safe(result.get("encoding"))
        and len(result.get("entries") or ()) == len(keep)
        # Entries left out are remembered as seen (they are never wanted: older, or too
        # costly), which is only sound when the whole body would have parsed strictly too.
        and (not dropped or chunks.well_formed(body, result.get("encoding")))
    ):
        remembered = chunks.remember(split, context)
    return _parsed(result, body, base, now, remembered, max_entries, dropped=dropped)


def _full(
    body: bytes,
    doc: bytes,
    passed: Mapping[str, str],
    base: str,
    now: datetime,
    max_entries: int,
) -> ParsedFeed:
    try:
        result = _feedparse(doc, passed)
    except Exception as exc:  # hostile bytes must not take the poller down
        return ParsedFeed(ok=False, entries=(), error=f"parser failure: {_short(exc)}")
    return _parsed(result, body, base, now, None, max_entries)


_DATE_RE = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?(?i:pubDate|published|issued|updated|modified|created|date)"
    rb"(?:\s[^>]*)?>\s*([^<]{1,100}?)\s*<"
)


def _sniffed_date(body: bytes, start: int, end: int) -> float | None:
    """The first date in an entry's raw bytes, as a POSIX timestamp (None if none)."""
    m = _DATE_RE.search(body, start, end)
    if m is None:
        return None
    try:
        parsed = _parse_date(m.group(1).decode("utf-8", "replace"))
    except Exception:  # a date parser meeting hostile text
        return None
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return float(calendar.timegm(parsed))
    except (OverflowError, ValueError):
        return None


def _newest_first(body: bytes, split: chunks.Split, candidates: list[int]) -> list[int]:
    """Candidates ordered newest first: by each entry's own date when there are not too many
    (undated ones after the dated, in document order), else by the document's direction."""
    if len(candidates) > _DATED_MAX:
        head = [_sniffed_date(body, *split.entries[i]) for i in candidates[:_ORDER_SAMPLE]]
        tail = [_sniffed_date(body, *split.entries[i]) for i in candidates[-_ORDER_SAMPLE:]]
        first = [d for d in head if d is not None]
        last = [d for d in tail if d is not None]
        if first and last and min(last) > max(first):
            return candidates[::-1]  # oldest first in the document: take from its end
        return candidates
    keyed = []
    for n, i in enumerate(candidates):
        when = _sniffed_date(body, *split.entries[i])
        keyed.append((0, -when, n, i) if when is not None else (1, 0.0, n, i))
    keyed.sort()
    return [i for *_, i in keyed]


def _select(
    body: bytes,
    split: chunks.Split,
    candidates: range | list[int],
    max_entries: int,
) -> tuple[list[int], int] | ParsedFeed:
    """The entries to parse (indices in document order) and how many candidates are left
    out, keeping the parse within PARSE_BUDGET; a refusal when the rest of the document (head
    and tail) alone is over it. An entry that does not fit is left out, not the feed."""
    candidates = list(candidates)
    fixed = _fixed_cost(body, split)
    if fixed.units > PARSE_BUDGET:
        return _refused("the feed outside its entries", fixed)
    left = PARSE_BUDGET - fixed.units
    if len(candidates) <= max_entries:
        if candidates and _contiguous(candidates):
            # Usually all of them fit: one count over their whole run decides it.
            start, end = split.entries[candidates[0]][0], split.entries[candidates[-1]][1]
            if xmlsafe.cost(body, start, end, limit=left).units <= left:
                return candidates, 0
        order = candidates
    else:
        order = _newest_first(body, split, candidates)
    keep: list[int] = []
    # Each look costs a scan of that entry; an entry over budget is rare, so a few times the
    # entries wanted is plenty before giving up on the rest.
    for looked, i in enumerate(order):
        if len(keep) >= max_entries or looked >= 4 * max_entries or left <= 0:
            break
        start, end = split.entries[i]
        c = xmlsafe.cost(body, start, end, limit=left)
        if c.units <= left:
            left -= c.units
            keep.append(i)
    keep.sort()
    return keep, len(candidates) - len(keep)


def _fixed_cost(body: bytes, split: chunks.Split) -> xmlsafe.Cost:
    """What parsing the head and tail costs, whichever entries go between them."""
    head = xmlsafe.cost(body, 0, split.entries[0][0], limit=PARSE_BUDGET)
    return head + xmlsafe.cost(body, split.entries[-1][1], limit=PARSE_BUDGET)


def _contiguous(candidates: list[int]) -> bool:
    return candidates[-1] - candidates[0] + 1 == len(candidates)


def _feedparse(doc: bytes, passed: Mapping[str, str]) -> Any:
    if not _GUARDED:  # a feedparser without the hook: make the raw bytes safe instead
        doc = xmlsafe.prepare(doc).data
    # A BytesIO, never the bytes themselves: feedparser treats a bytes/str argument that
    # names an existing file or URL as a path to open.
    return feedparser.parse(
        io.BytesIO(doc),
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
    max_entries: int,
) -> ParsedFeed | None:
    """Parse head + unseen entries + tail; None unless that is what a full parse gives.

    The full parse would be a strict one exactly when the whole body is well-formed in the
    encoding feedparser settles on, and that encoding is the one the head and headers decide,
    the same for both documents when the reduced one needed no fallback. A strict parse turns
    each entry element into one entry from its own bytes and the context around it (checked
    through `context`), so the reduced document's entries are the full one's, minus the seen.
    The unseen entries are capped and budgeted as in a full parse.
    """
    hashes = chunks.chunk_hashes(split)
    unseen = [i for i, h in enumerate(hashes) if h not in seen.hashes]
    plan = _select(body, split, unseen, max_entries)
    if isinstance(plan, ParsedFeed):
        return None  # the full parse refuses it, with the same words
    keep, dropped = plan
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
    return _parsed(
        result,
        body,
        base,
        now,
        remembered,
        max_entries,
        skipped=len(hashes) - len(unseen),
        dropped=dropped,
    )


def _newest_entries(entries: list[Any], now: datetime, limit: int) -> list[Any]:
    """At most `limit` feedparser entries: the newest when dated, in document order."""
    if len(entries) <= limit:
        return entries
    keyed = []
    for n, entry in enumerate(entries):
        when = _first_date(entry, now) if isinstance(entry, Mapping) else None
        keyed.append((0, -when.timestamp(), n) if when is not None else (1, 0.0, n))
    chosen = sorted(n for *_, n in sorted(keyed)[:limit])
    return [entries[n] for n in chosen]


def _parsed(
    result: Any,
    body: bytes,
    base: str,
    now: datetime,
    remembered: FeedChunks | None,
    max_entries: int = MAX_ENTRIES,
    skipped: int = 0,
    dropped: int = 0,
) -> ParsedFeed:
    found = list(result.get("entries") or ())
    taken = _newest_entries(found, now, max_entries)
    dropped += len(found) - len(taken)
    raw_entries = []
    for entry in taken:
        try:
            raw_entries.append(_raw_entry(entry, base, now))
        except Exception:  # one odd entry must not cost the others
            continue
    entries = tuple(raw_entries)

    version = result.get("version") or ""
    feed = result.get("feed") or {}
    if not version and not entries and not skipped and not dropped:
        verdict = _sniff(body)
        # XML in which feedparser still found channel data (an itemless CDF channel) is an
        # empty feed, not an error.
        if verdict != _GENERIC_XML or not feed:
            return ParsedFeed(ok=False, entries=(), error=verdict)

    title = (
        text_of(_str(feed.get("title"), RAW_TITLE_MAX), _detail_type(feed, "title_detail")) or None
    )
    link = _str(feed.get("link"), RAW_LINK_MAX + 1)
    link = canonical_url(link) if link and len(link) <= RAW_LINK_MAX else None
    language = normalise_language_tag(_str(feed.get("language"), 100))
    if language is None:
        detail = feed.get("title_detail")
        if isinstance(detail, Mapping):
            language = normalise_language_tag(_str(detail.get("language"), 100))

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
        dropped=dropped,
    )
