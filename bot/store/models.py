"""SQLAlchemy 2 models. The schema is owned by Alembic (migrations/); keep both in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.clock import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone); always returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config_url: Mapped[str] = mapped_column(Text)  # as written in feeds.yaml
    url: Mapped[str] = mapped_column(Text)  # where we poll now (follows permanent redirects)
    title: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    jurisdictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # per the config file
    in_config: Mapped[bool] = mapped_column(Boolean, default=True)  # False once removed from it
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # e.g. "HTTP 410 Gone"
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    # -- added by bot/commands (migration 0002): feeds added from chat live only in the DB.
    origin: Mapped[str] = mapped_column(String(16), default="config")  # config|chat
    added_by: Mapped[str | None] = mapped_column(String(200))  # "platform:scope:user" for chat
    # -- migration 0008: the instance polling it now, and until when (bot.store.coord).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # -- migration 0005: labels that subscriptions follow with `feeds: [tag:NAME]`.
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Story(Base):
    """One news story; several entries (from several feeds) may report it."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str] = mapped_column(String(400), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    published: Mapped[datetime] = mapped_column(index=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # False for the back catalogue of a newly added feed: stored and searchable, never posted.
    announce: Mapped[bool] = mapped_column(Boolean, default=True)
    source_count: Mapped[int] = mapped_column(Integer, default=1)

    entries: Mapped[list[Entry]] = relationship(back_populates="story", order_by="Entry.id")
    verdict: Mapped[Verdict | None] = relationship(back_populates="story", uselist=False)

    # Search's text and language indexes are the migrations' own (0002, 0003): FTS5 tables
    # on SQLite; on PostgreSQL indexes on expressions, which autogenerate cannot compare.
    # The migration makes ix_stories_url a hash index on PostgreSQL; naming that option here
    # would import SQLAlchemy's PostgreSQL dialect in every process, SQLite ones included.
    __table_args__ = (Index("ix_stories_url", "url"),)


class Entry(Base):
    """One feed entry as normalised; the unit of 'seen before in this feed'."""

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(Text)
    uid_hash: Mapped[str] = mapped_column(String(64))  # sha256(uid): bounded, indexable
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    published: Mapped[datetime]
    published_known: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)

    story: Mapped[Story] = relationship(back_populates="entries")
    feed: Mapped[Feed] = relationship()

    __table_args__ = (
        UniqueConstraint("feed_id", "uid_hash", name="uq_entries_feed_uid"),
        Index("ix_entries_feed_story", "feed_id", "story_id"),  # search by source, newest first
    )


class FeedChunk(Base):
    """What the last poll of a feed remembers of its body (bot/ingest/chunks.py), so that a
    new process too parses only the entries it has not stored: 16-byte hashes, concatenated."""

    __tablename__ = "feed_chunks"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    context: Mapped[str] = mapped_column(String(32))
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class Verdict(Base):
    __tablename__ = "verdicts"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    relevant: Mapped[bool] = mapped_column(Boolean, index=True)
    score: Mapped[float] = mapped_column(Float)
    jurisdictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    instruments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    story: Mapped[Story] = relationship(back_populates="verdict")


class StoryTag(Base):
    """Verdict tags in rows, so that both databases filter on them with a plain index."""

    __tablename__ = "story_tags"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # jurisdiction|topic|instrument
    value: Mapped[str] = mapped_column(String(200), primary_key=True)

    # story_id last: a tag filter yields its stories newest first (search).
    __table_args__ = (Index("ix_story_tags_kind_value_story", "kind", "value", "story_id"),)


class Destination(Base):
    """A place to post: a Discord/Slack channel, a webhook (URL in an env var), or the console."""

    __tablename__ = "destinations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild: Mapped[str] = mapped_column(String(64), default="")  # guild or workspace; "" if none
    channel: Mapped[str] = mapped_column(String(64), default="")
    webhook_env: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # permanent error: stop using it
    disabled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    # -- migration 0008: the instance posting to it now, and until when (bot.store.coord).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # -- migration 0005: the whole channel muted (routing holds its posts back until then).
    muted_since: Mapped[datetime | None]
    muted_until: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("platform", "guild", "channel", "webhook_env", name="uq_destination"),
    )


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16), default="chat")  # config|chat|implicit
    jurisdictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    instruments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    min_score: Mapped[float] = mapped_column(Float, default=0.0)
    mode: Mapped[str] = mapped_column(String(16), default="instant")  # instant|daily|weekly
    at: Mapped[str] = mapped_column(String(5), default="09:00")
    day: Mapped[str] = mapped_column(String(3), default="mon")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_digest_at: Mapped[datetime | None]  # end of the period last digested
    # -- migration 0005: feed routing (feed names or "tag:NAME"), exclusions, a mute.
    feeds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    exclude: Mapped[list[Any]] = mapped_column(JSON, default=list)
    exclude_jurisdictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    exclude_topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    muted_since: Mapped[datetime | None]
    muted_until: Mapped[datetime | None]
    # -- migration 0006: pings, threads and forum posts (see bot.types.SubscriptionOptions).
    mention: Mapped[str | None] = mapped_column(String(64))
    mention_min_score: Mapped[float] = mapped_column(Float, default=0.0)
    mention_instruments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    post_as: Mapped[str] = mapped_column(String(16), default="message")
    digest_thread: Mapped[bool] = mapped_column(Boolean, default=False)

    destination: Mapped[Destination] = relationship()


class OutboxMessage(Base):
    """One thing to post to one destination: an alert for a story, or a digest of a period.

    Written in the same transaction as the verdict (alerts) or the digest decision, drained by
    the delivery worker; rendered at send time so a story's later sources are named too.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))  # alert|digest|followup
    # For alerts the story; for digests a key of the period, so each digest is queued once.
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(200))
    story_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # digest contents
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # an OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)  # multi-message digests resume
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # -- migration 0004: the process holding the claim ("host:pid:random"), while "sending".
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # -- migration 0006: what the platform made of the first part, kept so that later posts
    # (a story's follow-up sources, a digest's stories) go into its thread after a restart.
    message_id: Mapped[str | None] = mapped_column(String(64))  # Discord message id, Slack ts
    thread_id: Mapped[str | None] = mapped_column(String(64))  # Discord thread id, Slack ts

    __table_args__ = (
        UniqueConstraint("destination_id", "kind", "dedup_key", name="uq_outbox_dest_kind_key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )


class FeedNoticeRow(Base):
    """A feed-health notice posted (through the outbox) to the channels a feed concerns: its
    history is the state that keeps a restart from warning twice (migration 0007)."""

    __tablename__ = "feed_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # a FeedNoticeKind
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime | None]  # failing since, for warnings
    new_url: Mapped[str | None] = mapped_column(Text)  # moved: where to
    destination_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # where it went
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_feed_notices_feed_created", "feed_id", "created_at"),)


class FeedbackRow(Base):
    """Relevance feedback from a channel: "not relevant" on an alert, or `/policy missed`.
    The story's text is copied so that an export still reads it after the story is pruned
    (migration 0007)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # a FeedbackKind
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(32), default="")
    scope: Mapped[str] = mapped_column(String(64), default="")  # guild / workspace
    channel: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str] = mapped_column(String(200), default="")  # platform user id
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
