"""Full-text search over stored stories, for any language (CJK included), on SQLite and PostgreSQL.

What matches:
- The query is cut into terms (words, or "quoted phrases"); every term must occur in the title
  or the summary, or a feed's name holds every term (its stories match by source).
- A term of 1-2 letters or digits in a spaced script ("AI", "EU", "G7", "de") is a whole word,
  because as a substring it would match "said", "neutral", "Ukraine". Where a Latin word runs
  into CJK text ("AI法案", "AIの") the CJK character also ends the word.
- A "quoted phrase" in a spaced script is a sequence of whole words ("export controls" does
  not match "export controlsx"), as quotes mean elsewhere; it is also far cheaper to find.
- Every other term is a case-insensitive substring: CJK, Thai and the like have no spaces,
  and "regulat" should find "deregulation" and "regulations".

How it is found, and why:
- Candidates come from lanes: id streams, newest first, that each hold every match (and
  more): an index of the text (SQLite: FTS5 trigram table with the language, a unicode61 word
  table; PostgreSQL: pg_trgm and a tsvector of words and CJK bigrams), an index of a filter
  (the stories of a source, jurisdiction or topic; a short `since` window), or the merge of
  these (ids in all of them). Each candidate is then checked exactly: filters in SQL, text in
  Python, except what the lane's own index already guarantees. A 1-2 character substring
  (a CJK word such as 监管) is looked up through the trigram vocabulary: the index text is
  padded, so every occurrence begins some trigram.
- The lanes of a search take turns, in growing batches, the lane expected to finish first
  going next. "Newest" is by story time (story_time: published, never later than first
  seen), not by id: ids follow first sight, and a feed's back catalogue is seen (so stored)
  long after it was published, and one poll stores a feed's items in the feed's order. A lane
  is done at its end, or once it holds WINDOW matches and has reached stories first seen more
  than SEEN_SKEW before the oldest of its newest WINDOW (no story below can be newer: its
  time is at most its first sight, and ids follow first sight to within SEEN_SKEW). The first
  lane done has the exact newest WINDOW matches, so a selective filter and a rare word are
  both cheap. No part of the database is skipped: an earlier version looked for 1-2
  character terms only among the newest 100,000 stories, so an older story with a rare CJK
  word or "G7" was silently missing; another took the WINDOW highest ids, so a back
  catalogue polled after them hid the newest stories.

The order (the contract; tests/store/test_search_order.py):
- The WINDOW newest matches are ranked, best and newest first: score = RELEVANCE_WEIGHT x
  relevance + the rest x recency (half-life RECENCY_HALF_LIFE_DAYS, by story time), in Python,
  the same on both databases. A match at least as relevant and at least as new never ranks
  below another; equal scores go newer first, then the higher id. So equally good matches
  come newest first, and at one time the better match first; a title hit a month old still
  beats yesterday's passing mention in a summary.
- `total` is None when there are more matches than the window (older ones need a narrower
  query); `since` filters on the published time.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Entry, Feed, Story, StoryTag, Verdict
from bot.types import Source, StoryPost

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_PER_PAGE = 25
# How many of the newest matches (by story_time) are ranked; pages beyond need a narrower query.
WINDOW = 250
# Ids follow first sight (a story's first_seen is the time of the poll that stored it) to
# within this much: polls that overlap may store their stories a little out of order.
SEEN_SKEW = timedelta(hours=6)
RECENCY_HALF_LIFE_DAYS = 14.0
RELEVANCE_WEIGHT = 0.7
MIN_TRIGRAM = 3
FIRST_BATCH = 128
MAX_BATCH = 8192
# A `since` window (or, on PostgreSQL, a text index hit list) this small is fetched whole;
# PostgreSQL first looks for FIRST_LOOK hits, which is cheap whether there are more or not.
SET_LIMIT = 20_000
FIRST_LOOK = 2_000
# FTS5 and search-engine operators: dropped when written as bare upper-case connectives.
_CONNECTIVES = frozenset({"AND", "OR", "NOT", "NEAR"})
_CTRL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_PHRASE = re.compile(r'"([^"]*)"')
# What a query excludes: `-word` or `NOT word` (a bare upper-case NOT), or a quoted phrase.
_EXCLUDED = re.compile(r'(?:(?<!\S)-|(?<!\S)NOT\s+)(?:"([^"]*)"|([^\s"]+))')
_SPACE = re.compile(r"\s+")
_LAST_WORD = re.compile(r"\s\S*$")
_LIKE_ESCAPE = "\\"
# Scripts written without spaces between words: their terms are always substrings.
_UNSPACED = re.compile("[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\U0010ffff]")
# From here on (CJK, kana, Hangul, full-width forms) a character may end a Latin word glued to it.
GLUE_MIN = "\u2e80"
_MAX_CHAR = "\U0010ffff"

# Kept identical to migrations/versions/0003_search_indexes.py (a test compares them).
CJK_CLASS = (
    r"\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    r"\U00020000-\U0003ffff"
)
_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
# Tokens as FTS5's unicode61 cuts them: runs of letters and digits (CJK included).
_TOKEN = re.compile(r"[^\W_]+")
PG_TEXT = "(coalesce(title, '') || ' ' || coalesce(summary, ''))"


def pg_tsvector_sql(text_sql: str) -> str:
    """The indexed tsvector: words without CJK characters, then all CJK bigrams."""
    cjk = f"regexp_replace({text_sql}, '[^{CJK_CLASS}]+', ' ', 'g')"
    even = f"regexp_replace({cjk}, '(\\S\\S)', '\\1 ', 'g')"
    odd = (
        f"regexp_replace(regexp_replace({cjk}, '(^|\\s)(\\S)', '\\1\\2 ', 'g'),"
        " '(\\S\\S)', '\\1 ', 'g')"
    )
    words = f"regexp_replace({text_sql}, '[{CJK_CLASS}]+', ' ', 'g')"
    return f"to_tsvector('simple'::regconfig, {words} || ' ' || {even} || ' ' || {odd})"


_PG_TSV = pg_tsvector_sql(PG_TEXT)


class SearchError(ValueError):
    """A search that cannot run as asked; the message is for the person who asked."""


def is_word_term(term: str) -> bool:
    """1-2 letters/digits of a spaced script: matched as a whole word, not a substring."""
    return len(term) < MIN_TRIGRAM and term.isalnum() and not _UNSPACED.search(term)


def is_phrase_term(term: str) -> bool:
    """Several words of a spaced script: matched as a sequence of whole words."""
    return " " in term and len(_TOKEN.findall(term)) > 1 and not _UNSPACED.search(term)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[str, ...]  # lower-case, NFKC, each >= 1 char with a letter or digit
    notices: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # `-word`, `NOT word`, `-"a phrase"`: no match may hold one

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if is_word_term(t))

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if is_phrase_term(t))

    @property
    def substrings(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if not is_word_term(t) and not is_phrase_term(t))


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[StoryPost]
    total: int | None  # None: more matches than WINDOW (only the newest WINDOW are ranked)
    page: int
    has_more: bool
    per_page: int = 5
    terms: tuple[str, ...] = ()  # what was searched for, after clean-up
    notices: tuple[str, ...] = field(default_factory=tuple)  # e.g. "query shortened to ..."


def _has_word_char(s: str) -> bool:
    return any(ch.isalnum() for ch in s)


def _shorten(q: str, n: int) -> str:
    """The first n characters of q, less a word cut in two (a fragment such as "re" would be
    a term of its own); a single word longer than n (CJK, say) is cut as it is."""
    cut = q[:n]
    if q[n].isspace():
        return cut.rstrip()
    m = _LAST_WORD.search(cut)
    return cut[: m.start()].rstrip() if m is not None and cut[: m.start()].strip() else cut


def parse_query(query: str) -> ParsedQuery:
    """Clean up any text into at most MAX_TERMS search terms; never raises."""
    notices: list[str] = []
    q = unicodedata.normalize("NFKC", query or "")
    q = _CTRL.sub(" ", q)
    if len(q) > MAX_QUERY_CHARS:
        q = _shorten(q, MAX_QUERY_CHARS)
        notices.append(f"the query was shortened to its first {len(q)} characters")
    raw_terms: list[str] = []
    raw_excluded: list[str] = []

    # `-word`, `NOT word`, `-"a phrase"`: what no match may hold.
    def take_excluded(m: re.Match[str]) -> str:
        raw_excluded.append(m.group(1) if m.group(1) is not None else m.group(2))
        return " "

    # Balanced "quoted phrases" stay together; a stray quote is just a space.
    def take_phrase(m: re.Match[str]) -> str:
        phrase = m.group(1)
        if phrase.startswith("-"):  # (chat parsers quote -"a phrase" as "-a phrase")
            raw_excluded.append(phrase[1:])
        else:
            raw_terms.append(phrase)
        return " "

    rest = _EXCLUDED.sub(take_excluded, q)
    rest = _PHRASE.sub(take_phrase, rest)
    rest = rest.replace('"', " ")
    words = [w for w in _SPACE.split(rest) if w]
    if "OR" in words and len(words) > 1:
        notices.append("OR is not supported: every word must appear (search once per word)")
    if len(words) > 1 or raw_excluded:
        words = [w for w in words if w not in _CONNECTIVES] or words
    raw_terms.extend(words)
    terms = _clean_terms(raw_terms)
    excluded = [t for t in _clean_terms(raw_excluded) if t not in terms]
    if len(terms) > MAX_TERMS:
        notices.append(f"only the first {MAX_TERMS} words were used")
        terms = terms[:MAX_TERMS]
    if len(excluded) > MAX_TERMS:
        notices.append(f"only the first {MAX_TERMS} excluded words were used")
        excluded = excluded[:MAX_TERMS]
    return ParsedQuery(tuple(terms), tuple(notices), tuple(excluded))


def _clean_terms(raw: Sequence[str]) -> list[str]:
    terms: list[str] = []
    for t in raw:
        # Leading/trailing punctuation (FTS operators such as - * ^ :, brackets...) is noise.
        t = _SPACE.sub(" ", t).strip().strip("-+*^:()[]{}'`.,;!?<>|~/\\").strip()
        if not t or not _has_word_char(t):
            continue
        # lower(), not casefold(): the indexes fold case only ("ß" stays "ß", as in "Bußgeld").
        t = t.lower()
        if t not in terms:
            terms.append(t)
    return terms


def fts5_expression(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each term one quoted phrase, all required."""
    return " ".join(_fts_phrase(t) for t in terms)


def _fts_phrase(term: str) -> str:
    # A quoted FTS5 string is never read as syntax; inner quotes are doubled.
    return '"' + term.replace('"', '""') + '"'


def _like_pattern(term: str) -> str:
    esc = term.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def normalise_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    code = lang.strip().replace("_", "-").split("-")[0].lower()
    return code or None


# -- exact matching (Python): the last word on every candidate, whichever index found it ----


def _is_token_char(ch: str) -> bool:
    # As FTS5's unicode61 tokenizer: letters, digits and private-use characters.
    return ch.isalnum() or unicodedata.category(ch) == "Co"


def _word_hits(word: str, hay: str) -> int:
    """Occurrences of `word` as a whole word (a CJK character after it also ends it)."""
    n = 0
    i = hay.find(word)
    while i >= 0:
        left = hay[i - 1] if i else ""
        j = i + len(word)
        right = hay[j] if j < len(hay) else ""
        lsep = not left or not _is_token_char(left)
        rsep = not right or not _is_token_char(right)
        # The second case is what the glue lane answers (see _sqlite_text_lanes); a CJK
        # character before the word with a space after it is in neither index: no match.
        if (lsep and rsep) or ((lsep or left >= GLUE_MIN) and right >= GLUE_MIN):
            n += 1
        i = hay.find(word, i + 1)
    return n


def _substring_hits(term: str, hay: str) -> float:
    """Occurrences, those at the start of a word counting double (for ranking)."""
    total = hay.count(term)
    if not total:
        return 0.0
    starts = 0
    i = hay.find(term)
    while i >= 0:
        if i == 0 or not _is_token_char(hay[i - 1]):
            starts += 1
        i = hay.find(term, i + 1)
    return 0.5 * (total + starts)


def _phrase_hits(tokens: Sequence[str], hay_tokens: Sequence[str]) -> int:
    n, k = 0, len(tokens)
    for i, tok in enumerate(hay_tokens):
        if tok == tokens[0] and list(hay_tokens[i : i + k]) == list(tokens):
            n += 1
    return n


class _Matcher:
    def __init__(self, terms: Sequence[str]) -> None:
        pq = ParsedQuery(tuple(terms))
        self.terms = pq.terms
        self.words = pq.words
        self.phrases = {p: _TOKEN.findall(p) for p in pq.phrases}
        self.substrings = pq.substrings

    def matches(self, title: str, summary: str) -> bool:
        t, s = title.lower(), summary.lower()
        for w in self.words:
            if not (_word_hits(w, t) or _word_hits(w, s)):
                return False
        if not all(x in t or x in s for x in self.substrings):
            return False
        if self.phrases:
            # Every word present somewhere is cheap to test and rules most candidates out.
            for toks in self.phrases.values():
                if not all(w in t or w in s for w in toks):
                    return False
            tt, st = _TOKEN.findall(t), _TOKEN.findall(s)
            for toks in self.phrases.values():
                if not (_phrase_hits(toks, tt) or _phrase_hits(toks, st)):
                    return False
        return True

    def relevance(self, title: str, summary: str, source_hit: bool) -> float:
        """0..1: term hits weighted title > source > summary, plus a bonus for the phrase."""
        if not self.terms:
            return 0.0
        t, s = title.lower(), summary.lower()
        tt, st = (_TOKEN.findall(t), _TOKEN.findall(s)) if self.phrases else ([], [])
        raw = 0.0
        for term in self.terms:
            if term in self.words:
                th, sh = float(_word_hits(term, t)), float(_word_hits(term, s))
            elif term in self.phrases:
                toks = self.phrases[term]
                th, sh = float(_phrase_hits(toks, tt)), float(_phrase_hits(toks, st))
            else:
                th, sh = _substring_hits(term, t), _substring_hits(term, s)
            raw += 3.0 * min(2.0, th) + 1.0 * min(4.0, sh)
            if source_hit:
                raw += 2.0
        if len(self.terms) > 1 and " ".join(self.terms) in t:
            raw += 4.0
        raw /= len(self.terms)
        return raw / (raw + 4.0)


def relevance(terms: Sequence[str], title: str, summary: str, source_hit: bool) -> float:
    return _Matcher(terms).relevance(title, summary, source_hit)


# -- filters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Filters:
    relevant_only: bool
    lang: str | None  # primary subtag; checked in Python (and inside FTS5 on SQLite)
    since: datetime | None
    feed_ids: tuple[int, ...]
    tags: tuple[tuple[str, str], ...]

    def id_conds(self, sid: Any) -> list[ColumnElement[bool]]:
        """The filters that need no stories row, on a story id column; selective ones first
        (SQLite tests them in this order)."""
        conds: list[ColumnElement[bool]] = []
        if self.feed_ids:
            conds.append(exists().where(Entry.feed_id.in_(self.feed_ids), Entry.story_id == sid))
        for kind, value in self.tags:
            conds.append(
                exists().where(
                    StoryTag.story_id == sid, StoryTag.kind == kind, StoryTag.value == value
                )
            )
        if self.relevant_only:
            conds.append(_relevant(sid))
        return conds


def _relevant(story_id: Any) -> ColumnElement[bool]:
    return exists().where(Verdict.story_id == story_id, Verdict.relevant.is_(True))


def _filters(
    session: Session,
    *,
    jurisdiction: str | None,
    topic: str | None,
    since: datetime | None,
    source: str | None,
    lang: str | None,
    relevant_only: bool,
) -> _Filters | None:
    """The filters; None when one of them can match nothing."""
    tags: list[tuple[str, str]] = []
    if jurisdiction and jurisdiction.strip():
        tags.append(("jurisdiction", jurisdiction.strip().upper()))
    if topic and topic.strip():
        tags.append(("topic", topic.strip().casefold()))
    if since is not None and since.tzinfo is None:
        raise SearchError("`since` needs a time zone")
    feed_ids: tuple[int, ...] = ()
    if source:
        feed_ids = tuple(
            session.scalars(
                select(Feed.id).where(func.lower(Feed.name) == source.strip().casefold())
            )
        )
        if not feed_ids:
            return None
    return _Filters(relevant_only, normalise_lang(lang), since, feed_ids, tuple(tags))


# -- drivers: candidate ids, newest first, a superset of the matches -------------------------


class _Driver:
    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        """Up to k distinct ids < below, descending; fewer than k means there are no more."""
        raise NotImplementedError

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        """One bounded piece of work: ids < below (descending) and where to go on from
        (None: no more)."""
        ids = self.fetch(s, below, k)
        return ids, (ids[-1] if len(ids) == k else None)


class _Stream(_Driver):
    """A statement with :below and :k parameters that returns ids in descending order."""

    def __init__(self, stmt: Executable, **params: Any) -> None:
        self.stmt = stmt
        self.params = params

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        return list(s.scalars(self.stmt, {**self.params, "below": below, "k": k}))


class _IdList(_Driver):
    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = sorted(set(ids))

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        end = bisect.bisect_left(self.ids, below)
        return self.ids[max(0, end - k) : end][::-1]


class _Union(_Driver):
    def __init__(self, parts: Sequence[_Driver]) -> None:
        self.parts = list(parts)

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        # The top k of each part's top k is the top k of the union.
        merged = heapq.merge(*(p.fetch(s, below, k) for p in self.parts), reverse=True)
        out: list[int] = []
        for i in merged:
            if not out or out[-1] != i:
                out.append(i)
                if len(out) == k:
                    break
        return out


class _Intersect(_Driver):
    """Ids in every part: the parts' sorted streams merged, no row read (cheap when each part
    is common but few stories are in all of them, e.g. a phrase and a jurisdiction)."""

    def __init__(self, parts: Sequence[_Driver]) -> None:
        self.parts = list(parts)
        self.density = [1.0] * len(self.parts)  # ids per id of range, as last seen

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        # Denser parts fetch more, so that all cover about the same range of ids.
        sparse = min(self.density)
        sizes = [min(MAX_BATCH, max(k, int(k * d / sparse))) for d in self.density]
        batches = [p.fetch(s, below, n) for p, n in zip(self.parts, sizes, strict=True)]
        for i, (b, n) in enumerate(zip(batches, sizes, strict=True)):
            if len(b) == n:
                self.density[i] = n / max(1, below - b[-1])
        # A full batch holds all of its part's ids in [its last, below); a short one all of
        # them below `below`. So every part is known down to `lo`.
        full = [len(b) == n for b, n in zip(batches, sizes, strict=True)]
        lo = max((b[-1] for b, f in zip(batches, full, strict=True) if f), default=0)
        common = set(batches[0]).intersection(*batches[1:])
        out = sorted((i for i in common if i >= lo), reverse=True)
        # A part with nothing left below `lo` ends the intersection.
        ended = any(not f and (not b or b[-1] >= lo) for b, f in zip(batches, full, strict=True))
        return out, (None if ended or not lo else lo)


_BELOW: Any = bindparam("below")
_K: Any = bindparam("k")


def _fts_stream(table: str, expr: str) -> _Stream:
    # `table` is one of our constants, never user text; the expression is a bound parameter.
    return _Stream(
        text(
            f"SELECT rowid FROM {table} WHERE {table} MATCH :q AND rowid < :below"
            " ORDER BY rowid DESC LIMIT :k"
        ),
        q=expr,
    )


# Trigram ranges looked up before, with the index version they were read from. fts5vocab
# walks every posting of the range (~10-25 ms for a common CJK word in a million stories);
# the answer holds until the index changes, and FTS5 rewrites its structure record (rowid 10
# of the _data table) on every write, so comparing it is an exact and cheap validity test.
VOCAB_CACHE_SIZE = 1024
_vocab_cache: OrderedDict[tuple[str, str, str], tuple[bytes, list[str]]] = OrderedDict()
_vocab_lock = threading.Lock()


def _vocab(s: Session, lo: str, hi: str) -> list[str]:
    """Indexed trigrams in [lo, hi)."""
    version = bytes(s.scalar(text("SELECT block FROM stories_fts_data WHERE id = 10")) or b"")
    key = (str(s.get_bind().engine.url), lo, hi)
    with _vocab_lock:
        hit = _vocab_cache.get(key)
        if hit is not None and hit[0] == version:
            _vocab_cache.move_to_end(key)
            return hit[1]
    rows = s.scalars(
        text("SELECT term FROM stories_fts_vocab WHERE term >= :lo AND term < :hi"),
        {"lo": lo, "hi": hi},
    )
    terms = list(rows)
    with _vocab_lock:
        _vocab_cache[key] = (version, terms)
        while len(_vocab_cache) > VOCAB_CACHE_SIZE:
            _vocab_cache.popitem(last=False)
    return terms


def _any_of(trigrams: Sequence[str]) -> str:
    return "(" + " OR ".join(_fts_phrase(t) for t in trigrams) + ")"


GIVE_UP = -1  # a lane's next position: it cannot finish, leave it


@dataclass(slots=True)
class _Lane:
    """A driver, and what its candidates are known to satisfy (so need not be re-checked)."""

    driver: _Driver
    covers: frozenset[str] = frozenset()  # terms
    covers_lang: bool = False
    below: int = 0
    k: int = FIRST_BATCH
    spent: float = 0.0
    turns: int = 0
    found: list[int] = field(default_factory=list)  # checked matches, descending
    fetched: int = 0  # candidates so far


@dataclass(slots=True)
class _Plan:
    lanes: list[_Lane]
    floor: int = 0  # no match has a smaller id


def _sqlite_text_lanes(s: Session, pq: ParsedQuery, lang: str | None) -> list[_Lane] | None:
    """FTS5 lanes for the text terms; None when a term occurs nowhere."""
    lanes: list[_Lane] = []
    if pq.substrings:
        parts: list[str] = []
        for t in pq.substrings:
            if len(t) >= MIN_TRIGRAM:
                parts.append(_fts_phrase(t))
                continue
            # A 1-2 character substring: any indexed trigram that starts with it.
            tris = _vocab(s, t, t + _MAX_CHAR)
            if not tris:
                return None
            parts.append(_any_of(tris))
        if lang:
            parts.append("lang : " + _fts_phrase(f" {lang} "))
        stream = _fts_stream("stories_fts", " AND ".join(parts))
        lanes.append(_Lane(stream, frozenset(pq.substrings), True))
    if pq.phrases:
        parts = [_fts_phrase(p) for p in pq.phrases]
        if lang:
            parts.append("lang : " + _fts_phrase(lang))
        stream = _fts_stream("stories_fts_words", " AND ".join(parts))
        lanes.append(_Lane(stream, frozenset(pq.phrases), True))
    for w in pq.words:
        word_expr = _fts_phrase(w) + (f" AND lang : {_fts_phrase(lang)}" if lang else "")
        ways: list[_Driver] = [_fts_stream("stories_fts_words", word_expr)]
        # unicode61 keeps "AI法案" as one token: find the word glued before a CJK character
        # through trigrams that start with it and continue in CJK.
        glue = _vocab(s, w + GLUE_MIN, w + _MAX_CHAR)
        if glue:
            expr = _any_of(glue) + (" AND lang : " + _fts_phrase(f" {lang} ") if lang else "")
            ways.append(_fts_stream("stories_fts", expr))
        # The glue trigrams do not check the word's start: the word stays to be checked.
        driver = _Union(ways) if glue else ways[0]
        lanes.append(_Lane(driver, frozenset() if glue else frozenset({w}), True))
    return lanes


def _all_stream(f: _Filters) -> _Driver:
    if f.relevant_only:
        return _Stream(
            select(Verdict.story_id)
            .where(Verdict.relevant.is_(True), Verdict.story_id < _BELOW)
            .order_by(Verdict.story_id.desc())
            .limit(_K)
        )
    return _Stream(select(Story.id).where(Story.id < _BELOW).order_by(Story.id.desc()).limit(_K))


def _filter_plan(s: Session, f: _Filters) -> _Plan | None:
    """Lanes for the filters that an index yields newest first; None if nothing can match."""
    plan = _Plan([])
    if f.feed_ids:
        plan.lanes.append(_Lane(_feed_driver(f.feed_ids, f.relevant_only)))
    for kind, value in f.tags:
        stmt = select(StoryTag.story_id).where(
            StoryTag.kind == kind, StoryTag.value == value, StoryTag.story_id < _BELOW
        )
        if f.relevant_only:  # fewer candidates to check one by one
            stmt = stmt.where(_relevant(StoryTag.story_id))
        stmt = stmt.order_by(StoryTag.story_id.desc()).limit(_K)
        plan.lanes.append(_Lane(_Stream(stmt)))
    if f.since is not None:
        # A short window, fetched whole, also bounds every other lane from below.
        ids = list(
            s.scalars(select(Story.id).where(Story.published >= f.since).limit(SET_LIMIT + 1))
        )
        if not ids:
            return None
        if len(ids) <= SET_LIMIT:
            plan.lanes.append(_Lane(_IdList(ids)))
            plan.floor = min(ids)
    return plan


def _feed_driver(feed_ids: Sequence[int], relevant_only: bool) -> _Driver:
    # One ordered index range per feed (entries(feed_id, story_id)), merged.
    parts: list[_Driver] = []
    for fid in feed_ids:
        stmt = (
            select(Entry.story_id).distinct().where(Entry.feed_id == fid, Entry.story_id < _BELOW)
        )
        if relevant_only:
            stmt = stmt.where(_relevant(Entry.story_id))
        parts.append(_Stream(stmt.order_by(Entry.story_id.desc()).limit(_K)))
    return _Union(parts) if len(parts) > 1 else parts[0]


def _pg_prefilters(s: Session, pq: ParsedQuery) -> tuple[list[ColumnElement[bool]], frozenset[str]]:
    """Index-served conditions implied by the terms, and the terms they check exactly."""
    tsv: ColumnElement[Any] = literal_column(_PG_TSV)
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    conds: list[ColumnElement[bool]] = []
    exact: set[str] = set()

    def has(q: ColumnElement[Any]) -> None:
        # A query in which the parser finds no word would match nothing: leave it out.
        if s.scalar(select(func.numnode(q))):
            conds.append(tsv.op("@@")(q))

    for w in (*pq.words, *pq.phrases):  # a phrase: all its words (no <->, so no recheck)
        has(func.plainto_tsquery(simple, w))
    for t in pq.substrings:
        runs = _CJK_RUN.findall(t)
        if runs:
            for run in runs:
                if len(run) == 1:  # every CJK character begins an indexed bigram or stands alone
                    if run.isalnum():
                        has(func.to_tsquery(simple, run + ":*"))
                else:
                    bigrams = " ".join(run[i : i + 2] for i in range(len(run) - 1))
                    has(func.plainto_tsquery(simple, bigrams))
        elif len(t) >= MIN_TRIGRAM:
            pat = _like_pattern(t)
            conds.append(
                or_(
                    Story.title.ilike(pat, escape=_LIKE_ESCAPE),
                    Story.summary.ilike(pat, escape=_LIKE_ESCAPE),
                )
            )
            exact.add(t)
    return conds, frozenset(exact)


def _pg_lang(code: str) -> ColumnElement[bool]:
    """A superset of the stories whose primary language subtag is `code` (served by the
    lower(language) text_pattern_ops index)."""
    esc = _like_pattern(code)[1:-1]
    lang = func.lower(Story.language)
    return or_(
        lang == code,
        lang.like(esc + "-%", escape=_LIKE_ESCAPE),
        lang.like(esc + "\\_%", escape=_LIKE_ESCAPE),
    )


def _pg_scan_conds(pq: ParsedQuery) -> list[ColumnElement[bool]]:
    """Conditions implied by the terms that need no index: cheap on a row in hand."""
    conds: list[ColumnElement[bool]] = []

    def anywhere(t: str) -> ColumnElement[bool]:
        pat = _like_pattern(t)
        return or_(
            Story.title.ilike(pat, escape=_LIKE_ESCAPE),
            Story.summary.ilike(pat, escape=_LIKE_ESCAPE),
        )

    for t in pq.substrings:
        conds.append(anywhere(t))
    for p in pq.phrases:
        # Its words in order with only separators between (nearly exact: few rows are left
        # for the check in Python; the cost is that of reading the row, as for ILIKE).
        pat = "[^[:alnum:]]+".join(re.escape(w) for w in _TOKEN.findall(p))
        conds.append(or_(Story.title.regexp_match(pat, "i"), Story.summary.regexp_match(pat, "i")))
    for w in pq.words:
        # Whole word: not inside letters/digits of a spaced script (CJK around it may be).
        edge = f"(^|[^[:alnum:]]|[{GLUE_MIN}-{_MAX_CHAR}])"
        pat = f"{edge}{re.escape(w)}{edge.replace('^', '$', 1)}"
        conds.append(or_(Story.title.regexp_match(pat, "i"), Story.summary.regexp_match(pat, "i")))
    return conds


class _PgScan(_Driver):
    """The newest stories, a range of ids at a time, with the terms' index-free conditions
    tested by PostgreSQL itself: quick when the text is common."""

    def __init__(self, conds: Sequence[ColumnElement[bool]]) -> None:
        self.stmt = (
            select(Story.id)
            .where(Story.id < _BELOW, Story.id >= bindparam("low"), *conds)
            .order_by(Story.id.desc())
        )

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        low = below - 8 * k
        # The id range, not a text index: pg_trgm would answer '%监管%' by reading all of it.
        with _pg_settings(s, enable_bitmapscan="off", enable_seqscan="off"):
            ids = list(s.scalars(self.stmt, {"below": below, "low": low}))
        return ids, (low if low > 0 else None)


@contextmanager
def _pg_settings(s: Session, **settings: str) -> Iterator[None]:
    """Planner settings for one statement (SET LOCAL, then back to the session's own).

    Not reset after an error: the transaction (or the savepoint) is rolled back, and SET
    LOCAL with it."""
    for name, value in settings.items():
        s.execute(text(f"SET LOCAL {name} = '{value}'"))
    yield
    for name in settings:
        s.execute(text(f"RESET {name}"))


class _PgHits(_Driver):
    """Every story the text indexes hold for the terms, fetched whole if there are few: a
    first look at up to FIRST_LOOK, then up to SET_LIMIT; more than that, or slower than its
    time limit (pg_trgm serves "it's" from trigrams as common as "  i"), and it gives up:
    the other lanes are then quicker."""

    def __init__(self, conds: Sequence[ColumnElement[bool]]) -> None:
        self.conds = list(conds)
        self.ids: _IdList | None = None
        self.tried = 0

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        if self.ids is None:
            cap, limit = ((FIRST_LOOK, "150ms"), (SET_LIMIT, "500ms"))[self.tried]
            self.tried += 1
            # Bitmap scans only: the planner cannot tell how common a substring is, and a
            # sequential or backward scan for a rare one reads the whole table. Memory for an
            # exact bitmap: a lossy one rechecks rows by recomputing the tsvector.
            stmt = select(Story.id).where(*self.conds).limit(cap + 1)
            try:
                with (
                    s.begin_nested(),
                    _pg_settings(
                        s,
                        enable_seqscan="off",
                        enable_indexscan="off",
                        work_mem="64MB",
                        statement_timeout=limit,
                    ),
                ):
                    ids = list(s.scalars(stmt))
            except OperationalError:  # the time limit
                return [], GIVE_UP
            if len(ids) > cap:
                return [], (below if self.tried < 2 else GIVE_UP)
            self.ids = _IdList(ids)
        return self.ids.step(s, below, k)


def _pg_text_lanes(s: Session, pq: ParsedQuery, f: _Filters) -> list[_Lane]:
    extra: list[ColumnElement[bool]] = []
    if f.lang:
        extra.append(_pg_lang(f.lang))
    if f.since is not None:
        extra.append(Story.published >= f.since)
    lanes = [_Lane(_PgScan([*_pg_scan_conds(pq), *extra, *f.id_conds(Story.id)]))]
    conds, exact = _pg_prefilters(s, pq)
    if conds:
        # The scan goes first when the words are common (it then ends in a turn or two),
        # the hit set when they are rare (the scan would read far before finding enough);
        # the hit set (a superset of the stories with all the words) is left out when it
        # would certainly be too large.
        estimate = _pg_estimate(s, pq, extra)
        if estimate < 5 * SET_LIMIT:
            hits = _Lane(_PgHits([*conds, *extra]), exact)
            lanes.insert(0 if estimate < 2 * SET_LIMIT else 1, hits)
    return lanes


def _pg_estimate(s: Session, pq: ParsedQuery, extra: Sequence[ColumnElement[bool]]) -> float:
    """The planner's guess at how many stories hold all the terms' words and pass `extra`
    (language, since): from the tsvector statistics, so sound for whole words and a lower
    bound for substrings."""
    words = [w for t in pq.terms for w in _TOKEN.findall(t) if not _CJK_RUN.search(w)]
    if not words:
        return 0.0
    tsv: ColumnElement[Any] = literal_column(_PG_TSV)
    q = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
    stmt = select(Story.id).where(tsv.op("@@")(q), *extra)
    try:
        # Planned with the values (EXPLAIN takes no parameters); only a guess, never run.
        sql = stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        with s.begin_nested():
            plan = s.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
        return float(plan[0]["Plan"]["Plan Rows"])
    except (SQLAlchemyError, KeyError, IndexError, TypeError, ValueError):
        return 0.0  # unknown: look at the hit set first


# -- running the lanes ----------------------------------------------------------------------


class _Row(NamedTuple):
    id: int
    title: str
    summary: str
    when: datetime  # see story_time


def story_time(published: datetime, first_seen: datetime) -> datetime:
    """When a story happened, for "newest": its published time, never later than when it was
    first seen (a date ahead of that is a feed's clock error). A back catalogue stored today
    keeps its old dates."""
    return min(published, first_seen)


def _story_time_sql(sqlite: bool) -> ColumnElement[Any]:
    """story_time in SQL. SQLite stores both as text of one fixed format (so min() of the
    strings is the earlier), left unparsed here: only a match's is parsed."""
    if sqlite:
        return func.min(Story.published, Story.first_seen, type_=String())
    return func.least(Story.published, Story.first_seen, type_=DateTime())


class _Checker:
    """Checks candidates exactly: filters in SQL, text and language in Python."""

    def __init__(
        self, s: Session, pq: ParsedQuery | None, f: _Filters, excluded: Sequence[str] = ()
    ) -> None:
        self.s = s
        self.pq = pq
        self.f = f
        # Each excluded term as a matcher of its own: a candidate holding any one is out.
        self.excluded = [_Matcher([t]) for t in excluded]
        self.sqlite = s.get_bind().dialect.name == "sqlite"
        self.rows: dict[int, _Row] = {}  # text fetched on the way, for ranking
        self.when: dict[int, datetime] = {}  # story_time of every match

    def _ids(self, ids: Sequence[int]) -> Any:
        # One parameter, not thousands: binding a long IN list costs more than the lookups.
        if self.sqlite:
            return func.json_each(json.dumps(list(ids))).table_valued("value").alias("c")
        arr = bindparam("ids", list(ids), type_=ARRAY(Integer))
        return func.unnest(arr).table_valued("value").render_derived(name="c")

    def _id_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        return Story.id.in_(select(self._ids(ids).c.value))

    def __call__(self, ids: list[int], lane: _Lane) -> list[int]:
        terms = [t for t in self.pq.terms if t not in lane.covers] if self.pq else []
        lang = self.f.lang if self.f.lang and not lane.covers_lang else None
        c = self._ids(ids)
        cid = c.c.value
        # Every match's time is needed (the newest matches are kept); the text only for terms.
        cols: list[Any] = [cid, _story_time_sql(self.sqlite), Story.language]
        text_needed = bool(terms or self.excluded)
        if text_needed:
            cols += [Story.title, Story.summary]
        stmt = select(*cols).select_from(c).join(Story, Story.id == cid)
        if self.f.since is not None:
            stmt = stmt.where(Story.published >= self.f.since)
        if terms and not self.sqlite:
            # PostgreSQL reads a row's text faster than Python does: it narrows first.
            stmt = stmt.where(*_pg_scan_conds(ParsedQuery(tuple(terms))))
        matcher = _Matcher(terms)
        out: list[int] = []
        if self.sqlite:
            rows = list(self.s.execute(stmt.where(*self.f.id_conds(cid))))
        else:  # row by row through the primary key, never a scan of the text
            with _pg_settings(self.s, enable_seqscan="off", enable_bitmapscan="off"):
                rows = list(self.s.execute(stmt.where(*self.f.id_conds(cid))))
        for row in rows:
            if lang and normalise_lang(row[2]) != lang:
                continue
            if text_needed:
                title, summary = row[3] or "", row[4] or ""
                if terms and not matcher.matches(title, summary):
                    continue
                if any(x.matches(title, summary) for x in self.excluded):
                    continue
                when = self._time(row[1])
                self.rows[row[0]] = _Row(row[0], row[3] or "", row[4] or "", when)
            else:
                when = self._time(row[1])
            self.when[row[0]] = when
            out.append(row[0])
        out.sort(reverse=True)
        return out

    def _time(self, value: Any) -> datetime:
        if isinstance(value, str):  # SQLite's text, parsed only for a match
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def fetch_rows(self, ids: Sequence[int]) -> list[_Row]:
        missing = [i for i in ids if i not in self.rows]
        if missing:
            stmt = select(Story.id, Story.title, Story.summary, Story.published, Story.first_seen)
            for sid, title, summary, pub, seen in self.s.execute(stmt.where(self._id_in(missing))):
                self.rows[sid] = _Row(sid, title or "", summary or "", story_time(pub, seen))
        return [self.rows[i] for i in ids if i in self.rows]


def _newest(ids: Iterable[int], when: dict[int, datetime], n: int) -> list[int]:
    """The n newest of ids by story_time (then by id), newest first."""
    return heapq.nlargest(n, set(ids), key=lambda i: (when[i], i))


def _race(s: Session, plan: _Plan, check: _Checker, limit: int) -> list[int]:
    """The newest `limit` matches by story_time (newest first): exact as soon as any one lane
    is done, that is at its end, or, holding `limit` matches, at stories first seen (so, by
    SEEN_SKEW, all those below) more than SEEN_SKEW before the oldest of its newest `limit`.

    Every lane gets a first turn, in order (an intersection two, its first is uncalibrated;
    the PostgreSQL scan two);
    then the turn goes to the lane expected to finish first, judged by its rate so far
    (matches found, or ids passed on the way to the floor).
    """
    top = (s.scalar(select(func.max(Story.id))) or 0) + 1
    span = max(1, top - plan.floor)
    lanes = list(plan.lanes)
    for lane in lanes:
        lane.below = top

    def eta(lane: _Lane) -> float:
        if isinstance(lane.driver, _PgHits) and lane.driver.ids is None:
            return 10 * lane.spent  # the next look is at ten times as many
        passed = (top - lane.below) / span
        return lane.spent * min(limit / max(len(lane.found), 1e-9), 1 / max(passed, 1e-9))

    def warm(lane: _Lane) -> bool:
        # A scan of the newest stories often finishes in two turns: before any set lookup.
        return lane.turns >= (2 if isinstance(lane.driver, _Intersect | _PgScan) else 1)

    while True:
        new = [x for x in lanes if not warm(x)]
        lane = new[0] if new else min(lanes, key=eta)
        t0 = time.perf_counter()
        ids, nxt = lane.driver.step(s, lane.below, lane.k)
        if nxt == GIVE_UP:
            lanes.remove(lane)  # there is always a lane that can finish (see the callers)
            continue
        if nxt is not None and nxt < plan.floor:
            ids = [i for i in ids if i >= plan.floor]
            nxt = None
        if ids:
            lane.fetched += len(ids)
            lane.found.extend(check(ids, lane))
        lane.spent += time.perf_counter() - t0
        lane.turns += 1
        if nxt is None:
            return _newest(lane.found, check.when, limit)
        lane.below = nxt
        if len(lane.found) >= limit:
            newest = _newest(lane.found, check.when, limit)
            enough = check.when[newest[-1]] - SEEN_SKEW
            seen = s.scalar(
                select(Story.first_seen).where(Story.id < nxt).order_by(Story.id.desc()).limit(1)
            )
            if seen is None or seen < enough:
                return newest
            # Only the stories first seen since `enough` are left: a batch sized to reach
            # them, not a doubled one (as much work again as all before).
            last = s.scalar(
                select(Story.id)
                .where(Story.first_seen < enough)
                .order_by(Story.first_seen.desc())
                .limit(1)
            )
            if last is not None and last < nxt and isinstance(lane.driver, _Stream | _Union):
                need = lane.fetched * (nxt - last) / max(1, top - nxt)
                lane.k = max(FIRST_BATCH // 4, min(MAX_BATCH, int(need * 1.25) + 8))
                continue
        lane.k = min(lane.k * 2, MAX_BATCH)


def _text_matches(
    s: Session, pq: ParsedQuery, f: _Filters, check: _Checker, limit: int
) -> list[int]:
    """The newest `limit` stories that hold every term (or, without terms, any story)."""
    dialect = s.get_bind().dialect.name
    plan = _filter_plan(s, f)
    if plan is None:
        return []
    if pq.terms:
        if dialect == "sqlite":
            lanes = _sqlite_text_lanes(s, pq, f.lang)
            if lanes is None:
                return []
            plan.lanes += lanes
        else:
            plan.lanes += _pg_text_lanes(s, pq, f)
    elif f.lang and dialect == "sqlite":
        lang_expr = "lang : " + _fts_phrase(f.lang)
        plan.lanes.append(_Lane(_fts_stream("stories_fts_words", lang_expr), covers_lang=True))
    if not plan.lanes:
        plan.lanes.append(_Lane(_all_stream(f)))
    _add_intersection(plan)
    return _race(s, plan, check, limit)


def _add_intersection(plan: _Plan) -> None:
    # Only lanes that stream ids in order can be merged.
    parts = [x for x in plan.lanes if isinstance(x.driver, _Stream | _IdList | _Union)]
    if len(parts) > 1:
        covers = frozenset().union(*(lane.covers for lane in parts))
        lang = any(lane.covers_lang for lane in parts)
        plan.lanes.append(_Lane(_Intersect([lane.driver for lane in parts]), covers, lang))


def _matching_feeds(session: Session, terms: Sequence[str]) -> dict[int, str]:
    """Feeds whose name (or title) holds every term: their stories match by source."""
    if not terms:
        return {}
    out: dict[int, str] = {}
    for fid, name, title in session.execute(select(Feed.id, Feed.name, Feed.title)):
        hay = f"{name}\n{title or ''}".lower()
        if all(t in hay for t in terms):
            out[fid] = name
    return out


def _source_matches(
    s: Session, feed_ids: Sequence[int], f: _Filters, check: _Checker, limit: int
) -> list[int]:
    plan = _filter_plan(s, f)
    if plan is None:
        return []
    plan.lanes.append(_Lane(_feed_driver(feed_ids, f.relevant_only)))
    _add_intersection(plan)
    return _race(s, plan, check, limit)


# -- ranking and results --------------------------------------------------------------------


def _recency(published: datetime, now: datetime) -> float:
    age_days = max(0.0, (now - published).total_seconds() / 86400.0)
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def story_posts(session: Session, ids: Sequence[int]) -> list[StoryPost]:
    """StoryPosts for story ids, in the given order (unknown ids are skipped)."""
    if not ids:
        return []
    rows = session.scalars(
        select(Story)
        .where(Story.id.in_(list(ids)))
        .options(
            selectinload(Story.entries).selectinload(Entry.feed),
            selectinload(Story.verdict),
        )
    ).all()
    by_id = {s.id: s for s in rows}
    out: list[StoryPost] = []
    for sid in ids:
        s = by_id.get(sid)
        if s is None:
            continue
        out.append(story_post(s))
    return out


def story_post(s: Story) -> StoryPost:
    sources: list[Source] = []
    seen: set[str] = set()
    for e in s.entries:
        name = e.feed.name if e.feed is not None else "?"
        if name in seen:
            continue
        seen.add(name)
        sources.append(Source(name=name, url=e.url))
    v = s.verdict
    return StoryPost(
        story_id=s.id,
        title=s.title,
        url=s.url,
        summary=s.summary,
        published=s.published,
        sources=tuple(sources),
        jurisdictions=tuple(v.jurisdictions) if v else (),
        topics=tuple(v.topics) if v else (),
        instruments=tuple(v.instruments) if v else (),
        score=float(v.score) if v else 0.0,
        language=s.language,
    )


def search_stories(
    session: Session,
    query: str,
    *,
    jurisdiction: str | None = None,
    topic: str | None = None,
    since: datetime | None = None,
    source: str | None = None,
    lang: str | None = None,
    relevant_only: bool = True,
    page: int = 1,
    per_page: int = 5,
    now: datetime | None = None,
) -> SearchPage:
    """Stories matching `query` and the filters, best first; an empty query lists the newest.

    Never raises on the query text; SearchError only for unusable arguments (naive `since`).
    """
    now = now or datetime.now(UTC)
    per_page = max(1, min(MAX_PER_PAGE, int(per_page)))
    max_page = max(1, WINDOW // per_page)
    page = max(1, int(page))
    notices: list[str] = []
    if page > max_page:
        notices.append(
            f"only the first {max_page} pages are shown: add words or filters to narrow it down"
        )
        page = max_page
    pq = parse_query(query)
    notices.extend(pq.notices)
    if pq.excluded:
        notices.append("left out: stories holding " + " or ".join(repr(t) for t in pq.excluded))
    if query and query.strip() and not pq.terms and not pq.excluded:
        notices.append("the query had no letters or digits, so it was ignored")
    f = _filters(
        session,
        jurisdiction=jurisdiction,
        topic=topic,
        since=since,
        source=source,
        lang=lang,
        relevant_only=relevant_only,
    )
    if f is None:
        return SearchPage([], 0, page, False, per_page, pq.terms, tuple(notices))
    limit = WINDOW + 1
    check = _Checker(session, pq, f, pq.excluded)
    ids = _text_matches(session, pq, f, check, limit)
    feeds = _matching_feeds(session, pq.terms)
    if feeds:
        by_source = _Checker(session, None, f, pq.excluded)
        extra = _source_matches(session, list(feeds), f, by_source, limit)
        check.when.update(by_source.when)
        ids = _newest([*ids, *extra], check.when, limit)
    total: int | None = len(ids) if len(ids) <= WINDOW else None
    rows = check.fetch_rows(ids[:WINDOW])
    ranked = _rank(session, rows, pq, feeds, now)
    start = (page - 1) * per_page
    page_ids = ranked[start : start + per_page]
    has_more = start + per_page < len(ranked)
    return SearchPage(
        story_posts(session, page_ids), total, page, has_more, per_page, pq.terms, tuple(notices)
    )


def _rank(
    session: Session, rows: list[_Row], pq: ParsedQuery, feeds: dict[int, str], now: datetime
) -> list[int]:
    if not rows:
        return []
    from_feeds: set[int] = set()
    if feeds:
        from_feeds = set(
            session.scalars(
                select(Entry.story_id).where(
                    and_(Entry.story_id.in_([r.id for r in rows]), Entry.feed_id.in_(list(feeds)))
                )
            )
        )
    matcher = _Matcher(pq.terms)
    scored: list[tuple[float, datetime, int]] = []
    for r in rows:
        rec = _recency(min(r.when, now), now)
        if pq.terms:
            rel = matcher.relevance(r.title, r.summary, r.id in from_feeds)
            score = RELEVANCE_WEIGHT * rel + (1 - RELEVANCE_WEIGHT) * rec
        else:
            score = rec
        scored.append((score, r.when, r.id))
    scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
    return [sid for _, _, sid in scored]


def parse_since(value: str, now: datetime) -> datetime:
    """'7d', '24h', '90m', '2w' or an ISO date/time ('2026-11-01') -> an aware UTC datetime."""
    v = (value or "").strip().lower()
    m = re.fullmatch(r"(\d{1,5})\s*(m|min|h|d|w)", v)
    if m:
        n = int(m.group(1))
        unit = m.group(2)
        delta = {
            "m": timedelta(minutes=n),
            "min": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
        }[unit]
        if delta > timedelta(days=3660):
            raise SearchError(f"{value!r} reaches back too far: at most 10 years")
        return now - delta
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SearchError(
            f"{value!r} is not a time: write e.g. 7d, 24h or a date such as 2026-11-01"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
