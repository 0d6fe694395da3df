"""Reading what a message shows from the database, at send time (so late sources count)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.store.models import Entry, Story
from bot.types import Digest, Source, StoryPost

DIGEST_TITLE = "AI governance digest"


def story_post(story: Story) -> StoryPost:
    sources: list[Source] = []
    seen_feeds: set[int] = set()
    for e in story.entries:
        if e.feed_id in seen_feeds:
            continue
        seen_feeds.add(e.feed_id)
        name = e.feed.name if e.feed is not None else "unknown source"
        sources.append(Source(name=name, url=e.url))
    v = story.verdict
    return StoryPost(
        story_id=story.id,
        title=story.title,
        url=story.url,
        summary=story.summary or "",
        published=story.published,
        sources=tuple(sources),
        jurisdictions=tuple(v.jurisdictions or ()) if v else (),
        topics=tuple(v.topics or ()) if v else (),
        instruments=tuple(v.instruments or ()) if v else (),
        score=float(v.score) if v else 0.0,
        language=story.language,
    )


def load_story_posts(session: Session, story_ids: Sequence[int]) -> dict[int, StoryPost]:
    """Story id -> StoryPost; ids of deleted stories are simply absent."""
    if not story_ids:
        return {}
    stories = session.scalars(
        select(Story)
        .where(Story.id.in_(list(story_ids)))
        .options(
            selectinload(Story.entries).selectinload(Entry.feed),
            selectinload(Story.verdict),
        )
    )
    return {s.id: story_post(s) for s in stories}


def load_digest(
    session: Session,
    story_ids: Sequence[int],
    period_start: datetime,
    period_end: datetime,
    name: str | None = None,
) -> Digest:
    posts = load_story_posts(session, story_ids)
    title = f"{DIGEST_TITLE}: {name}" if name else DIGEST_TITLE
    return Digest(
        title=title,
        period_start=period_start,
        period_end=period_end,
        stories=tuple(posts[i] for i in story_ids if i in posts),
    )
