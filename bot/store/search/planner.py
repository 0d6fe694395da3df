"""Which lanes a search runs, and running them until the newest matches are known exactly.

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
  is done at its end, or once it holds `limit` matches and has reached stories first seen more
  than SEEN_SKEW before the oldest of its newest `limit` (no story below can be newer: its
  time is at most its first sight, and ids follow first sight to within SEEN_SKEW). The first
  lane done has the exact newest `limit` matches, so a selective filter and a rare word are
  both cheap. No part of the database is skipped: an earlier version looked for 1-2
  character terms only among the newest 100,000 stories, so an older story with a rare CJK
  word or "G7" was silently missing; another took the highest ids, so a back catalogue
  polled after them hid the newest stories.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, Integer, String, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Feed, Story
from bot.store.search import lanes
from bot.store.search.filters import Filters, all_stream, feed_driver, filter_plan
from bot.store.search.lanes import GIVE_UP, IdList, Intersect, Lane, Plan, Stream, Union
from bot.store.search.match import Matcher, Row, story_time
from bot.store.search.postgres import PgHits, PgScan, pg_scan_conds, pg_settings, pg_text_lanes
from bot.store.search.query import ParsedQuery, normalise_lang
from bot.store.search.sqlite import sqlite_lang_lane, sqlite_text_lanes

# Ids follow first sight (a story's first_seen is the time of the poll that stored it) to
# within this much: polls that overlap may store their stories a little out of order.
SEEN_SKEW = timedelta(hours=6)


def _story_time_sql(sqlite: bool) -> ColumnElement[Any]:
    """story_time in SQL. SQLite stores both as text of one fixed format (so min() of the
    strings is the earlier), left unparsed here: only a match's is parsed."""
    if sqlite:
        return func.min(Story.published, Story.first_seen, type_=String())
    return func.least(Story.published, Story.first_seen, type_=DateTime())


class Checker:
    """Checks candidates exactly: filters in SQL, text and language in Python."""

    def __init__(
        self, s: Session, pq: ParsedQuery | None, f: Filters, excluded: Sequence[str] = ()
    ) -> None:
        self.s = s
        self.pq = pq
        self.f = f
        # Each excluded term as a matcher of its own: a candidate holding any one is out.
        self.excluded = [Matcher([t]) for t in excluded]
        self.sqlite = s.get_bind().dialect.name == "sqlite"
        self.rows: dict[int, Row] = {}  # text fetched on the way, for ranking
        self.when: dict[int, datetime] = {}  # story_time of every match

    def _ids(self, ids: Sequence[int]) -> Any:
        # One parameter, not thousands: binding a long IN list costs more than the lookups.
        if self.sqlite:
            return func.json_each(json.dumps(list(ids))).table_valued("value").alias("c")
        arr = bindparam("ids", list(ids), type_=ARRAY(Integer))
        return func.unnest(arr).table_valued("value").render_derived(name="c")

    def _id_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        return Story.id.in_(select(self._ids(ids).c.value))

    def __call__(self, ids: list[int], lane: Lane) -> list[int]:
        """The matches among a lane's candidates `ids`, descending."""
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
            stmt = stmt.where(*pg_scan_conds(ParsedQuery(tuple(terms))))
        matcher = Matcher(terms)
        out: list[int] = []
        if self.sqlite:
            rows = list(self.s.execute(stmt.where(*self.f.id_conds(cid))))
        else:  # row by row through the primary key, never a scan of the text
            with pg_settings(self.s, enable_seqscan="off", enable_bitmapscan="off"):
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
                self.rows[row[0]] = Row(row[0], row[3] or "", row[4] or "", when)
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

    def fetch_rows(self, ids: Sequence[int]) -> list[Row]:
        """The text and time of matches `ids`, in that order (read now if not on the way)."""
        missing = [i for i in ids if i not in self.rows]
        if missing:
            stmt = select(Story.id, Story.title, Story.summary, Story.published, Story.first_seen)
            for sid, title, summary, pub, seen in self.s.execute(stmt.where(self._id_in(missing))):
                self.rows[sid] = Row(sid, title or "", summary or "", story_time(pub, seen))
        return [self.rows[i] for i in ids if i in self.rows]


def newest(ids: Iterable[int], when: dict[int, datetime], n: int) -> list[int]:
    """The n newest of ids by story_time (then by id), newest first."""
    return heapq.nlargest(n, set(ids), key=lambda i: (when[i], i))


def _race(s: Session, plan: Plan, check: Checker, limit: int) -> list[int]:
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
    racing = list(plan.lanes)
    for lane in racing:
        lane.below = top

    def eta(lane: Lane) -> float:
        if isinstance(lane.driver, PgHits) and lane.driver.ids is None:
            return 10 * lane.spent  # the next look is at ten times as many
        passed = (top - lane.below) / span
        return lane.spent * min(limit / max(len(lane.found), 1e-9), 1 / max(passed, 1e-9))

    def warm(lane: Lane) -> bool:
        # A scan of the newest stories often finishes in two turns: before any set lookup.
        return lane.turns >= (2 if isinstance(lane.driver, Intersect | PgScan) else 1)

    while True:
        new = [x for x in racing if not warm(x)]
        lane = new[0] if new else min(racing, key=eta)
        t0 = time.perf_counter()
        ids, nxt = lane.driver.step(s, lane.below, lane.k)
        if nxt == GIVE_UP:
            racing.remove(lane)  # there is always a lane that can finish (see the callers)
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
            return newest(lane.found, check.when, limit)
        lane.below = nxt
        if len(lane.found) >= limit:
            top_found = newest(lane.found, check.when, limit)
            enough = check.when[top_found[-1]] - SEEN_SKEW
            seen = s.scalar(
                select(Story.first_seen).where(Story.id < nxt).order_by(Story.id.desc()).limit(1)
            )
            if seen is None or seen < enough:
                return top_found
            # Only the stories first seen since `enough` are left: a batch sized to reach
            # them, not a doubled one (as much work again as all before).
            last = s.scalar(
                select(Story.id)
                .where(Story.first_seen < enough)
                .order_by(Story.first_seen.desc())
                .limit(1)
            )
            if last is not None and last < nxt and isinstance(lane.driver, Stream | Union):
                need = lane.fetched * (nxt - last) / max(1, top - nxt)
                lane.k = max(lanes.FIRST_BATCH // 4, min(lanes.MAX_BATCH, int(need * 1.25) + 8))
                continue
        lane.k = min(lane.k * 2, lanes.MAX_BATCH)


def text_matches(s: Session, pq: ParsedQuery, f: Filters, check: Checker, limit: int) -> list[int]:
    """The newest `limit` stories that hold every term (or, without terms, any story)."""
    dialect = s.get_bind().dialect.name
    plan = filter_plan(s, f)
    if plan is None:
        return []
    if pq.terms:
        if dialect == "sqlite":
            text_lanes = sqlite_text_lanes(s, pq, f.lang)
            if text_lanes is None:
                return []
            plan.lanes += text_lanes
        else:
            plan.lanes += pg_text_lanes(s, pq, f)
    elif f.lang and dialect == "sqlite":
        plan.lanes.append(sqlite_lang_lane(f.lang))
    if not plan.lanes:
        plan.lanes.append(Lane(all_stream(f)))
    _add_intersection(plan)
    return _race(s, plan, check, limit)


def _add_intersection(plan: Plan) -> None:
    # Only lanes that stream ids in order can be merged.
    parts = [x for x in plan.lanes if isinstance(x.driver, Stream | IdList | Union)]
    if len(parts) > 1:
        covers = frozenset().union(*(lane.covers for lane in parts))
        lang = any(lane.covers_lang for lane in parts)
        plan.lanes.append(Lane(Intersect([lane.driver for lane in parts]), covers, lang))


def matching_feeds(session: Session, terms: Sequence[str]) -> dict[int, str]:
    """Feeds whose name (or title) holds every term: their stories match by source."""
    if not terms:
        return {}
    out: dict[int, str] = {}
    for fid, name, title in session.execute(select(Feed.id, Feed.name, Feed.title)):
        hay = f"{name}\n{title or ''}".lower()
        if all(t in hay for t in terms):
            out[fid] = name
    return out


def source_matches(
    s: Session, feed_ids: Sequence[int], f: Filters, check: Checker, limit: int
) -> list[int]:
    """The newest `limit` stories of these feeds that pass the filters."""
    plan = filter_plan(s, f)
    if plan is None:
        return []
    plan.lanes.append(Lane(feed_driver(feed_ids, f.relevant_only)))
    _add_intersection(plan)
    return _race(s, plan, check, limit)
