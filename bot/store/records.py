"""The records and hooks of the storage interface: a feed as the pipeline and the service see
it (FeedInfo), what one poll stored (PollOutcome), and the hooks a poll calls inside its
transaction (routing, follow-ups).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.ingest.types import FeedState, Item
from bot.store.models import Feed, Story, Verdict
from bot.types import Origin
from bot.verdict import Verdict as VerdictValue


class LeaseLost(Exception):
    """Another instance took this feed over (our lease expired): the poll is not recorded."""


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A read-only view of one feed and its health."""

    id: int
    name: str
    url: str
    config_url: str
    title: str | None
    language: str | None
    jurisdictions: tuple[str, ...]
    interval: timedelta
    enabled: bool
    in_config: bool
    disabled_reason: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    added_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    entry_count: int
    origin: str = Origin.CONFIG.value  # an Origin
    lease_owner: str | None = None  # the instance polling it now (several on PostgreSQL)

    @property
    def active(self) -> bool:
        return self.enabled and self.in_config and self.disabled_reason is None

    def state(self) -> FeedState:
        return FeedState(
            url=self.url,
            etag=self.etag,
            last_modified=self.last_modified,
            body_hash=self.body_hash,
            consecutive_failures=self.consecutive_failures,
            # A feed a chat user added may not lead the bot into our own network, at any
            # redirect hop or DNS answer; the operator's own feeds may.
            guarded=self.origin == Origin.CHAT,
        )

    @classmethod
    def of(cls, f: Feed) -> FeedInfo:
        return cls(
            id=f.id,
            name=f.name,
            url=f.url,
            config_url=f.config_url,
            title=f.title,
            language=f.language,
            jurisdictions=tuple(f.jurisdictions or ()),
            interval=timedelta(seconds=f.interval_seconds),
            enabled=f.enabled,
            in_config=f.in_config,
            disabled_reason=f.disabled_reason,
            etag=f.etag,
            last_modified=f.last_modified,
            body_hash=f.body_hash,
            added_at=f.added_at,
            last_polled_at=f.last_polled_at,
            last_success_at=f.last_success_at,
            last_status=f.last_status,
            last_error=f.last_error,
            last_error_at=f.last_error_at,
            consecutive_failures=f.consecutive_failures,
            next_poll_at=f.next_poll_at,
            entry_count=f.entry_count,
            origin=f.origin or Origin.CONFIG.value,
            lease_owner=f.lease_owner,
        )


@dataclass(slots=True)
class PollOutcome:
    feed: str
    status: str  # FetchStatus value, or "parse_error"
    new_entries: int = 0
    new_stories: int = 0
    flagged: int = 0  # new stories that are relevant and eligible for posting
    # New relevant stories too old to post (a new feed's back catalogue): stored, searchable.
    flagged_stored_only: int = 0
    error: str | None = None
    flagged_story_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0  # fetch time (set by the pipeline)


class StoryHook(Protocol):
    """Called inside the poll's transaction for each new relevant story that may be posted."""

    def __call__(self, session: Session, story: Story, verdict: VerdictValue) -> None: ...


@runtime_checkable
class FeedRouting(Protocol):
    """A StoryHook that also routes by source feed (subscriptions that follow feeds). For a
    followed feed, `from_feed` replaces the plain call: it gets every new story the poll may
    post, flagged or not (`new=True`), and each older story the feed joined with a fresh
    entry (`new=False`)."""

    def follows(self, session: Session, feed_id: int) -> bool: ...

    def from_feed(
        self,
        session: Session,
        story: Story,
        verdict: VerdictValue | Verdict,
        feed_id: int,
        *,
        new: bool,
        when: datetime,
    ) -> None: ...


class SourceHook(Protocol):
    """Called inside the poll's transaction with the stories that gained a source (an entry
    of this feed joined a story stored before), for their follow-up posts."""

    def __call__(
        self, conn: Connection, story_ids: Sequence[int], feed_id: int, now: datetime
    ) -> None: ...


Classify = Callable[[Item, Sequence[str]], VerdictValue]
