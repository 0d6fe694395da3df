"""What a subscription would have posted, and what a channel's digest would hold: the same
matching as routing, over past stories.

`preview` builds the subscription as routing would see it (a SubscriptionView, feeds resolved
as stored), takes the stories of the window as the polls saw them (`candidate_facts`, which
digests and mute catch-ups use too) and keeps those the compiled SubscriptionIndex matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.deliver.match import SubscriptionIndex, SubscriptionView
from bot.deliver.route import candidate_facts, feed_table, followed_feeds, resolve_feeds, view_of
from bot.store.models import Destination, Subscription
from bot.store.search import story_posts
from bot.store.storage import Storage
from bot.types import Digest, DigestPreview, SubscriptionOptions, SubscriptionPreview

PREVIEW_DAYS = 7
PREVIEW_MAX_STORIES = 50
DIGEST_MAX_STORIES = 50


def view_from_options(
    options: SubscriptionOptions, feeds: Sequence[tuple[int, str, Sequence[str]]]
) -> SubscriptionView:
    """The subscription these options would make, as routing sees it (always instant: a
    preview asks what would be posted, whatever the schedule)."""
    return SubscriptionView(
        id=0,
        destination_id=0,
        mode="instant",
        name=options.name,
        jurisdictions=options.jurisdictions,
        topics=options.topics,
        instruments=options.instruments,
        keywords=options.keywords,
        languages=options.languages,
        min_score=options.min_score,
        feed_ids=resolve_feeds(options.feeds, feeds) if options.feeds else None,
        exclude=options.exclude,
        exclude_jurisdictions=options.exclude_jurisdictions,
        exclude_topics=options.exclude_topics,
    )


def preview(
    storage: Storage, options: SubscriptionOptions, *, now: datetime, days: int = PREVIEW_DAYS
) -> SubscriptionPreview:
    """The stories of the last `days` days a subscription with `options` would have posted,
    newest first (the newest PREVIEW_MAX_STORIES of them, `total` in all)."""
    start = now - timedelta(days=days)
    with storage.session() as s:
        view = view_from_options(options, feed_table(s))
        index = SubscriptionIndex([view])
        ids = [
            sid
            for sid, facts in candidate_facts(
                s, start, now, newest_first=True, feed_ids=view.feed_ids or frozenset()
            )
            if index.match_mask(facts)
        ]
        posts = story_posts(s, ids[:PREVIEW_MAX_STORIES])
    return SubscriptionPreview(
        stories=tuple(posts), total=len(ids), days=days, start=start, end=now
    )


def digest_preview(
    storage: Storage, platform: str, scope: str, channel: str, *, hours: int, now: datetime
) -> DigestPreview:
    """The flagged stories of the last `hours` that the channel's subscriptions would take
    (all flagged stories when it has none), the newest DIGEST_MAX_STORIES of them."""
    start = now - timedelta(hours=hours)
    with storage.session() as s:
        subs = list(
            s.scalars(
                select(Subscription)
                .join(Destination, Destination.id == Subscription.destination_id)
                .where(
                    Destination.platform == platform,
                    Destination.guild == scope,
                    Destination.channel == channel,
                )
            )
        )
        views = [view_of(r) for r in subs]
        index = SubscriptionIndex(views) if subs else None
        ids = [
            sid
            for sid, facts in candidate_facts(
                s, start, now, newest_first=True, feed_ids=followed_feeds(views)
            )
            if index is None or index.match_mask(facts)
        ]
        posts = story_posts(s, ids[:DIGEST_MAX_STORIES])
    digest = None
    if posts:
        digest = Digest(
            title=f"AI governance digest: last {hours} h",
            period_start=start,
            period_end=now,
            stories=tuple(posts),
        )
    return DigestPreview(digest=digest, total=len(ids), hours=hours, filtered=bool(subs))
