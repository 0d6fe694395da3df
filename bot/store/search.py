"""Full-text search over stored stories, for any language (CJK included), on SQLite and PostgreSQL.

How it works, and why:
- The query is cut into terms (words, or "quoted phrases"); every term must occur in the title,
  the summary or (see below) a source's name. Terms are substrings, not words: CJK text has no
  spaces, and substring search is what both engines' trigram indexes answer.
- SQLite: an FTS5 trigram index (migration 0002). Each term is quoted as an FTS5 phrase (inner
  quotes doubled), so no user text is ever read as FTS syntax, and the expression is a bound
  parameter. Terms under 3 characters cannot use a trigram index: they become LIKE filters,
  applied to the candidates of the longer terms, or to a scan in newest-first order.
  PostgreSQL: ILIKE per term, served by pg_trgm GIN indexes.
- Candidates are fetched newest first (story id order, which both indexes can give without
  sorting every match) up to a window, and only that window is ranked by relevance and
  recency in Python, identically for both databases. A common word therefore costs the same
  as a rare one; `total` is None when there are more matches than the window.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, column, exists, func, literal_column, or_, select, table
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from bot.deliver.types import Source, StoryPost
from bot.store.models import Entry, Feed, Story, StoryTag, Verdict

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_PER_PAGE = 25
# How many of the newest matches are ranked; pages beyond it need a narrower query.
WINDOW = 250
# A query with only short terms scans the newest stories; bounded so it stays fast.
SHORT_SCAN_LIMIT = 100_000
RECENCY_HALF_LIFE_DAYS = 14.0
RELEVANCE_WEIGHT = 0.7
MIN_TRIGRAM = 3
# FTS5 and search-engine operators: dropped when written as bare upper-case connectives.
_CONNECTIVES = frozenset({"AND", "OR", "NOT", "NEAR"})
_CTRL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_PHRASE = re.compile(r'"([^"]*)"')
_SPACE = re.compile(r"\s+")
_LIKE_ESCAPE = "\\"


class SearchError(ValueError):
    """A search that cannot run as asked; the message is for the person who asked."""


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[str, ...]  # casefolded, NFKC, each >= 1 char with a letter or digit
    notices: tuple[str, ...] = ()

    @property
    def long_terms(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) >= MIN_TRIGRAM)

    @property
    def short_terms(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) < MIN_TRIGRAM)


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


def parse_query(query: str) -> ParsedQuery:
    """Clean up any text into at most MAX_TERMS search terms; never raises."""
    notices: list[str] = []
    q = unicodedata.normalize("NFKC", query or "")
    q = _CTRL.sub(" ", q)
    if len(q) > MAX_QUERY_CHARS:
        q = q[:MAX_QUERY_CHARS]
        notices.append(f"the query was shortened to its first {MAX_QUERY_CHARS} characters")
    raw_terms: list[str] = []
    # Balanced "quoted phrases" stay together; a stray quote is just a space.
    def take_phrase(m: re.Match[str]) -> str:
        raw_terms.append(m.group(1))
        return " "

    rest = _PHRASE.sub(take_phrase, q)
    rest = rest.replace('"', " ")
    words = [w for w in _SPACE.split(rest) if w]
    if len(words) > 1:
        words = [w for w in words if w not in _CONNECTIVES] or words
    raw_terms.extend(words)
    terms: list[str] = []
    for t in raw_terms:
        # Leading/trailing punctuation (FTS operators such as - * ^ :, brackets...) is noise.
        t = _SPACE.sub(" ", t).strip().strip("-+*^:()[]{}'`.,;!?<>|~/\\").strip()
        if not t or not _has_word_char(t):
            continue
        t = t.casefold()
        if t not in terms:
            terms.append(t)
    if len(terms) > MAX_TERMS:
        notices.append(f"only the first {MAX_TERMS} words were used")
        terms = terms[:MAX_TERMS]
    return ParsedQuery(tuple(terms), tuple(notices))


def fts5_expression(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each term one quoted phrase, all required."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _like_pattern(term: str) -> str:
    esc = term.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def _case_variants(term: str) -> list[str]:
    # SQLite's LIKE folds ASCII only: try the usual spellings of other scripts too.
    if term.isascii():
        return [term]
    out: list[str] = []
    for v in (term, term.upper(), term.capitalize(), term.title()):
        if v not in out:
            out.append(v)
    return out


def _text_match(term: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        pat = _like_pattern(term)
        return or_(
            Story.title.ilike(pat, escape=_LIKE_ESCAPE),
            Story.summary.ilike(pat, escape=_LIKE_ESCAPE),
        )
    conds: list[ColumnElement[bool]] = []
    for v in _case_variants(term):
        pat = _like_pattern(v)
        conds.append(Story.title.like(pat, escape=_LIKE_ESCAPE))
        conds.append(Story.summary.like(pat, escape=_LIKE_ESCAPE))
    return or_(*conds)


def normalise_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    code = lang.strip().replace("_", "-").split("-")[0].lower()
    return code or None


def _filters(
    session: Session,
    *,
    jurisdiction: str | None,
    topic: str | None,
    since: datetime | None,
    source: str | None,
    lang: str | None,
    relevant_only: bool,
) -> list[ColumnElement[bool]] | None:
    """SQL conditions on Story for the filters; None when a filter can match nothing."""
    conds: list[ColumnElement[bool]] = []
    if relevant_only:
        conds.append(
            exists().where(Verdict.story_id == Story.id, Verdict.relevant.is_(True))
        )
    if jurisdiction:
        conds.append(
            exists().where(
                StoryTag.story_id == Story.id,
                StoryTag.kind == "jurisdiction",
                StoryTag.value == jurisdiction.strip().upper(),
            )
        )
    if topic:
        conds.append(
            exists().where(
                StoryTag.story_id == Story.id,
                StoryTag.kind == "topic",
                StoryTag.value == topic.strip().casefold(),
            )
        )
    if since is not None:
        if since.tzinfo is None:
            raise SearchError("`since` needs a time zone")
        conds.append(Story.published >= since)
    if source:
        ids = list(
            session.scalars(
                select(Feed.id).where(func.lower(Feed.name) == source.strip().casefold())
            )
        )
        if not ids:
            return None
        conds.append(exists().where(Entry.story_id == Story.id, Entry.feed_id.in_(ids)))
    code = normalise_lang(lang)
    if code:
        conds.append(or_(Story.language == code, Story.language.like(f"{code}-%")))
    return conds


_FTS = table("stories_fts", column("rowid"), column("stories_fts"))


def _candidates_text(
    session: Session, pq: ParsedQuery, conds: list[ColumnElement[bool]], limit: int
) -> list[int]:
    """Ids of the newest stories whose title/summary hold every term, newest first."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and pq.long_terms:
        rowid: ColumnElement[int] = literal_column("stories_fts.rowid")
        stmt = (
            select(Story.id)
            .select_from(_FTS)
            .join(Story, Story.id == rowid)
            .where(_FTS.c.stories_fts.op("MATCH")(fts5_expression(pq.long_terms)))
            .where(*(_text_match(t, dialect) for t in pq.short_terms))
            .where(*conds)
            .order_by(rowid.desc())
            .limit(limit)
        )
        return list(session.scalars(stmt))
    if dialect == "sqlite":
        # Only short terms: scan the newest stories (bounded) with LIKE.
        floor = session.scalar(
            select(Story.id).order_by(Story.id.desc()).offset(SHORT_SCAN_LIMIT - 1).limit(1)
        )
        stmt = (
            select(Story.id)
            .where(Story.id >= (floor or 0))
            .where(*(_text_match(t, dialect) for t in pq.terms))
            .where(*conds)
            .order_by(Story.id.desc())
            .limit(limit)
        )
        return list(session.scalars(stmt))
    stmt = (
        select(Story.id)
        .where(*(_text_match(t, dialect) for t in pq.terms))
        .where(*conds)
        .order_by(Story.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _matching_feeds(session: Session, terms: Sequence[str]) -> dict[int, str]:
    """Feeds whose name (or title) holds every term: their stories match by source."""
    if not terms:
        return {}
    out: dict[int, str] = {}
    for fid, name, title in session.execute(select(Feed.id, Feed.name, Feed.title)):
        hay = f"{name}\n{title or ''}".casefold()
        if all(t in hay for t in terms):
            out[fid] = name
    return out


def _candidates_source(
    session: Session, feed_ids: Sequence[int], conds: list[ColumnElement[bool]], limit: int
) -> list[int]:
    stmt = (
        select(Story.id)
        .where(exists().where(Entry.story_id == Story.id, Entry.feed_id.in_(list(feed_ids))))
        .where(*conds)
        .order_by(Story.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _recency(published: datetime, now: datetime) -> float:
    age_days = max(0.0, (now - published).total_seconds() / 86400.0)
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def relevance(terms: Sequence[str], title: str, summary: str, source_hit: bool) -> float:
    """0..1: term hits weighted title > source > summary, plus a bonus for the whole phrase."""
    if not terms:
        return 0.0
    t = unicodedata.normalize("NFKC", title).casefold()
    s = unicodedata.normalize("NFKC", summary).casefold()
    raw = 0.0
    for term in terms:
        raw += 3.0 * min(2, t.count(term)) + 1.0 * min(4, s.count(term))
        if source_hit:
            raw += 2.0
    if len(terms) > 1 and " ".join(terms) in t:
        raw += 4.0
    raw /= len(terms)
    return raw / (raw + 4.0)


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
    if query and query.strip() and not pq.terms:
        notices.append("the query had no letters or digits, so it was ignored")
    conds = _filters(
        session,
        jurisdiction=jurisdiction,
        topic=topic,
        since=since,
        source=source,
        lang=lang,
        relevant_only=relevant_only,
    )
    if conds is None:
        return SearchPage([], 0, page, False, per_page, pq.terms, tuple(notices))
    limit = WINDOW + 1
    feeds: dict[int, str] = {}
    if pq.terms:
        ids = _candidates_text(session, pq, conds, limit)
        feeds = _matching_feeds(session, pq.terms)
        if feeds:
            extra = _candidates_source(session, list(feeds), conds, limit)
            ids = sorted(set(ids) | set(extra), reverse=True)[:limit]
    else:
        ids = list(
            session.scalars(select(Story.id).where(*conds).order_by(Story.id.desc()).limit(limit))
        )
    total: int | None = len(ids) if len(ids) <= WINDOW else None
    ids = ids[:WINDOW]
    ranked = _rank(session, ids, pq.terms, feeds, now)
    start = (page - 1) * per_page
    page_ids = ranked[start : start + per_page]
    has_more = start + per_page < len(ranked)
    return SearchPage(
        story_posts(session, page_ids), total, page, has_more, per_page, pq.terms, tuple(notices)
    )


def _rank(
    session: Session, ids: list[int], terms: Sequence[str], feeds: dict[int, str], now: datetime
) -> list[int]:
    if not ids:
        return []
    rows: list[Any] = list(
        session.execute(
            select(Story.id, Story.title, Story.summary, Story.published).where(
                Story.id.in_(ids)
            )
        )
    )
    from_feeds: set[int] = set()
    if feeds:
        from_feeds = set(
            session.scalars(
                select(Entry.story_id).where(
                    and_(Entry.story_id.in_(ids), Entry.feed_id.in_(list(feeds)))
                )
            )
        )
    scored: list[tuple[float, int]] = []
    for sid, title, summary, published in rows:
        rec = _recency(min(published, now), now)
        if terms:
            rel = relevance(terms, title, summary, sid in from_feeds)
            score = RELEVANCE_WEIGHT * rel + (1 - RELEVANCE_WEIGHT) * rec
        else:
            score = rec
        scored.append((score, sid))
    scored.sort(key=lambda x: (-x[0], -x[1]))
    return [sid for _, sid in scored]


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
