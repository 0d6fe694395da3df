"""Deciding, per outbox row, whom a post pings and whether it starts a thread or a forum
post: from the subscription that queued the row and the story (or digest) it carries."""

from __future__ import annotations

from dataclasses import dataclass

from bot.deliver.match import norm_tag
from bot.store.models import Subscription
from bot.types import PARENT_THREAD, Digest, Placement, PostAs, StoryPost


@dataclass(frozen=True, slots=True)
class Posting:
    """A subscription's ping and thread options, detached from the ORM."""

    mention: str | None = None
    mention_min_score: float = 0.0
    mention_instruments: tuple[str, ...] = ()
    post_as: str = PostAs.MESSAGE.value
    digest_thread: bool = False

    @classmethod
    def of(cls, row: Subscription | None) -> Posting:
        if row is None:
            return cls()
        return cls(
            mention=row.mention or None,
            mention_min_score=float(row.mention_min_score or 0.0),
            mention_instruments=tuple(row.mention_instruments or ()),
            post_as=row.post_as or PostAs.MESSAGE.value,
            digest_thread=bool(row.digest_thread),
        )

    def pings(self, post: StoryPost) -> bool:
        """Whether this story earns the ping: above the score, naming an instrument."""
        if not self.mention or post.score < self.mention_min_score:
            return False
        if self.mention_instruments:
            wanted = {norm_tag(i) for i in self.mention_instruments}
            return any(norm_tag(i) in wanted for i in post.instruments)
        return True


def story_tags(post: StoryPost) -> tuple[str, ...]:
    """Names a forum tag may carry for this story: its jurisdictions, then its topics."""
    return tuple(dict.fromkeys((*post.jurisdictions, *post.topics)))


def alert_placement(posting: Posting, post: StoryPost) -> Placement | None:
    """An alert's placement; None for a plain message that pings nobody."""
    mention = posting.mention if posting.pings(post) else None
    if posting.post_as == PostAs.MESSAGE and mention is None:
        return None
    return Placement(
        post_as=posting.post_as, title=post.title, tags=story_tags(post), mention=mention
    )


def digest_placements(posting: Posting, digest: Digest, parts: int) -> list[Placement | None]:
    """The placement of each of a digest's parts: the first pings (when one of its stories
    earns it) and may start a thread or forum post; with a thread, the others go into it."""
    mention = posting.mention if any(posting.pings(p) for p in digest.stories) else None
    if posting.post_as == PostAs.FORUM:
        head = PostAs.FORUM.value
    elif posting.digest_thread or posting.post_as == PostAs.THREAD:
        head = PostAs.THREAD.value
    else:
        head = PostAs.MESSAGE.value
    if head == PostAs.MESSAGE and mention is None:
        return [None] * parts
    tags = tuple(dict.fromkeys(t for p in digest.stories for t in story_tags(p)))
    first = Placement(post_as=head, title=digest.title, tags=tags, mention=mention)
    rest = Placement(thread_id=PARENT_THREAD) if head != PostAs.MESSAGE else None
    return [first] + [rest] * (parts - 1)
