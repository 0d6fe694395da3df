"""Stored stories as StoryPosts: what a message or a search result shows of them.

One builder for every reader (search results, /why, digests, the delivery worker), so that a
story looks the same wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from bot.store.db import IN_CHUNK
from bot.store.models import Entry, Feed, Story, Verdict
from bot.types import Source, StoryPost

# A source whose feed row is gone (an entry can outlive it only when foreign keys were off):
# words a reader understands, as "?" would not be.
UNKNOWN_SOURCE = "unknown source"


def story_posts(session: Session, story_ids: Sequence[int]) -> list[StoryPost]:
    """StoryPosts for story ids, in the given order; ids of deleted stories are skipped.

    Two queries per IN_CHUNK ids: the stories with their verdicts, then their entries' feeds.
    Sources are in the order the entries were stored, one per feed name.
    """
    wanted = list(dict.fromkeys(story_ids))
    stories: dict[int, Row[Any]] = {}
    sources: dict[int, dict[str, Source]] = {}  # by name, in the order first stored
    for i in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[i : i + IN_CHUNK]
        rows = session.execute(
            select(
                Story.id,
                Story.title,
                Story.url,
                Story.summary,
                Story.published,
                Story.language,
                Verdict.jurisdictions,
                Verdict.topics,
                Verdict.instruments,
                Verdict.score,
            )
            .outerjoin(Verdict, Verdict.story_id == Story.id)
            .where(Story.id.in_(chunk))
        )
        for row in rows:
            stories[row.id] = row
            sources[row.id] = {}
        entries = session.execute(
            select(Entry.story_id, Entry.url, Feed.name)
            .outerjoin(Feed, Feed.id == Entry.feed_id)
            .where(Entry.story_id.in_(chunk))
            .order_by(Entry.id)
        )
        for story_id, url, name in entries:
            shown = name if name is not None else UNKNOWN_SOURCE
            sources[story_id].setdefault(shown, Source(name=shown, url=url))
    return [_post(stories[i], sources[i].values()) for i in story_ids if i in stories]


def _post(row: Row[Any], sources: Iterable[Source]) -> StoryPost:
    return StoryPost(
        story_id=row.id,
        title=row.title,
        url=row.url,
        summary=row.summary or "",
        published=row.published,
        sources=tuple(sources),
        jurisdictions=tuple(row.jurisdictions or ()),
        topics=tuple(row.topics or ()),
        instruments=tuple(row.instruments or ()),
        score=float(row.score) if row.score is not None else 0.0,
        language=row.language,
    )
