"""What a subscription would have posted: the same matching as routing, over past stories.

`preview` builds the subscription as routing would see it (a SubscriptionView, feeds resolved
as stored), takes the stories of the window as the polls saw them (`candidate_facts`, which
digests and mute catch-ups use too) and keeps those the compiled SubscriptionIndex matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.deliver.match import SubscriptionIndex, SubscriptionView
from bot.deliver.route import candidate_facts, feed_table, resolve_feeds
from bot.store.search import story_posts
from bot.store.storage import Storage
from bot.types import SubscriptionOptions, SubscriptionPreview

PREVIEW_DAYS = 7
PREVIEW_MAX_STORIES = 50


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
        exclude_feed_ids=resolve_feeds(options.exclude_feeds, feeds),
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
                s,
                start,
                now,
                newest_first=True,
                feed_ids=view.feed_ids or frozenset(),
                sources=view.exclude_feed_ids,
            )
            if index.match_mask(facts)
        ]
        posts = story_posts(s, ids[:PREVIEW_MAX_STORIES])
    return SubscriptionPreview(
        stories=tuple(posts), total=len(ids), days=days, start=start, end=now
    )
