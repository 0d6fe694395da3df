"""search_stories: a page of the stories that match a query and filters, best first.

The WINDOW newest matches (by story time) are ranked (match.rank); `total` is None when there
are more matches than the window (older ones need a narrower query); `since` filters on the
published time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bot.store.models import Entry
from bot.store.posts import story_posts
from bot.store.search.filters import make_filters
from bot.store.search.match import rank
from bot.store.search.planner import (
    Checker,
    matching_feeds,
    newest,
    source_matches,
    text_matches,
)
from bot.store.search.query import SearchError, parse_query
from bot.types import StoryPost

MAX_PER_PAGE = 25
# How many of the newest matches (by story_time) are ranked; pages beyond need a narrower query.
WINDOW = 250


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results, and what the person should know about the query."""

    hits: list[StoryPost]
    total: int | None  # None: more matches than WINDOW (only the newest WINDOW are ranked)
    page: int
    has_more: bool
    per_page: int = 5
    terms: tuple[str, ...] = ()  # what was searched for, after clean-up
    notices: tuple[str, ...] = field(default_factory=tuple)  # e.g. "query shortened to ..."


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

    SearchError when the query holds text but nothing to search for (punctuation, symbols:
    answering with every story would pretend they were searched for), and for unusable
    arguments (a naive `since`); any other text is a valid query.
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
        hint = 'type a word or a "quoted phrase", e.g. AI Act or "export controls"'
        if any((jurisdiction, topic, since is not None, source, lang)):
            hint += ", or leave the query empty to list the stories the filters pick"
        raise SearchError(f"nothing to search for: the query has no letters or digits; {hint}")
    f = make_filters(
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
    check = Checker(session, pq, f, pq.excluded)
    ids = text_matches(session, pq, f, check, limit)
    feeds = matching_feeds(session, pq.terms)
    if feeds:
        by_source = Checker(session, None, f, pq.excluded)
        extra = source_matches(session, list(feeds), f, by_source, limit)
        check.when.update(by_source.when)
        ids = newest([*ids, *extra], check.when, limit)
    total: int | None = len(ids) if len(ids) <= WINDOW else None
    rows = check.fetch_rows(ids[:WINDOW])
    from_feeds: set[int] = set()
    if rows and feeds:
        from_feeds = set(
            session.scalars(
                select(Entry.story_id).where(
                    and_(Entry.story_id.in_([r.id for r in rows]), Entry.feed_id.in_(list(feeds)))
                )
            )
        )
    ranked = rank(rows, pq.terms, from_feeds, now)
    start = (page - 1) * per_page
    page_ids = ranked[start : start + per_page]
    has_more = start + per_page < len(ranked)
    return SearchPage(
        story_posts(session, page_ids), total, page, has_more, per_page, pq.terms, tuple(notices)
    )
