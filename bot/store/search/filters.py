"""The filters of a search (source, jurisdiction, topic, since, language, relevance): checked
in SQL on every candidate, and the lanes their indexes yield newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Entry, Feed, Story, StoryTag, Verdict
from bot.store.search import lanes
from bot.store.search.lanes import BELOW, Driver, IdList, K, Lane, Plan, Stream, Union
from bot.store.search.query import SearchError, normalise_lang


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters as the lanes and the checks use them."""

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
            conds.append(relevant(sid))
        return conds


def relevant(story_id: Any) -> ColumnElement[bool]:
    """The story's verdict says it is relevant."""
    return exists().where(Verdict.story_id == story_id, Verdict.relevant.is_(True))


def make_filters(
    session: Session,
    *,
    jurisdiction: str | None,
    topic: str | None,
    since: datetime | None,
    source: str | None,
    lang: str | None,
    relevant_only: bool,
) -> Filters | None:
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
    return Filters(relevant_only, normalise_lang(lang), since, feed_ids, tuple(tags))


def all_stream(f: Filters) -> Driver:
    """Every story (or every relevant one), newest first: the lane when nothing narrows."""
    if f.relevant_only:
        return Stream(
            select(Verdict.story_id)
            .where(Verdict.relevant.is_(True), Verdict.story_id < BELOW)
            .order_by(Verdict.story_id.desc())
            .limit(K)
        )
    return Stream(select(Story.id).where(Story.id < BELOW).order_by(Story.id.desc()).limit(K))


def filter_plan(s: Session, f: Filters) -> Plan | None:
    """Lanes for the filters that an index yields newest first; None if nothing can match."""
    plan = Plan([])
    if f.feed_ids:
        plan.lanes.append(Lane(feed_driver(f.feed_ids, f.relevant_only)))
    for kind, value in f.tags:
        stmt = select(StoryTag.story_id).where(
            StoryTag.kind == kind, StoryTag.value == value, StoryTag.story_id < BELOW
        )
        if f.relevant_only:  # fewer candidates to check one by one
            stmt = stmt.where(relevant(StoryTag.story_id))
        stmt = stmt.order_by(StoryTag.story_id.desc()).limit(K)
        plan.lanes.append(Lane(Stream(stmt)))
    if f.since is not None:
        # A short window, fetched whole, also bounds every other lane from below.
        ids = list(
            s.scalars(select(Story.id).where(Story.published >= f.since).limit(lanes.SET_LIMIT + 1))
        )
        if not ids:
            return None
        if len(ids) <= lanes.SET_LIMIT:
            plan.lanes.append(Lane(IdList(ids)))
            plan.floor = min(ids)
    return plan


def feed_driver(feed_ids: Sequence[int], relevant_only: bool) -> Driver:
    """The stories of these feeds, newest first."""
    # One ordered index range per feed (entries(feed_id, story_id)), merged.
    parts: list[Driver] = []
    for fid in feed_ids:
        stmt = select(Entry.story_id).distinct().where(Entry.feed_id == fid, Entry.story_id < BELOW)
        if relevant_only:
            stmt = stmt.where(relevant(Entry.story_id))
        parts.append(Stream(stmt.order_by(Entry.story_id.desc()).limit(K)))
    return Union(parts) if len(parts) > 1 else parts[0]
