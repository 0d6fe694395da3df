"""Reading what a message shows from the database, at send time (so late sources count)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot.store.posts import story_posts
from bot.types import Digest, StoryPost

DIGEST_TITLE = "AI governance digest"


def load_story_posts(session: Session, story_ids: Sequence[int]) -> dict[int, StoryPost]:
    """Story id -> StoryPost; ids of deleted stories are simply absent."""
    return {p.story_id: p for p in story_posts(session, story_ids)}


def load_digest(
    session: Session,
    story_ids: Sequence[int],
    period_start: datetime,
    period_end: datetime,
    name: str | None = None,
) -> Digest:
    """The digest of these stories, in this order; ids of deleted stories are left out."""
    title = f"{DIGEST_TITLE}: {name}" if name else DIGEST_TITLE
    return Digest(
        title=title,
        period_start=period_start,
        period_end=period_end,
        stories=tuple(story_posts(session, story_ids)),
    )
