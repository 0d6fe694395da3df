"""A small world for feed-routing, exclusion, mute and preview tests: feeds from a config,
polls through Storage.record_poll with the real Router hook, and a toy classifier."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.app.config import parse_config
from bot.deliver.route import Router
from bot.ingest.types import FetchResult, FetchStatus, Item
from bot.store.models import OutboxMessage, Story
from bot.store.records import FeedInfo, PollOutcome
from bot.store.storage import Storage
from bot.verdict import Verdict
from tests.deliver.helpers import NOW

FEEDS: list[dict[str, Any]] = [
    {"name": "EDPB", "url": "https://example.org/edpb.xml", "tags": ["privacy"]},
    {"name": "CNIL", "url": "https://example.org/cnil.xml", "tags": ["privacy", "fr"]},
    {"name": "Wire", "url": "https://example.org/wire.xml"},
]

_uids = itertools.count(1)


def classify(it: Item, hints: Sequence[str]) -> Verdict:
    """Flagged when the title says AI; EU when it says EU (else US); 'chips' is trade."""
    relevant = "AI" in it.title.split()
    return Verdict(
        relevant=relevant,
        score=0.9 if relevant else 0.1,
        jurisdictions=("EU",) if "EU" in it.title else ("US",),
        topics=("export-controls",) if "chips" in it.title else ("legislation",),
    )


def item(title: str, *, url: str | None = None, published: datetime | None = None) -> Item:
    uid = f"u{next(_uids)}"
    return Item(
        uid=uid,
        url=url or f"https://example.org/{uid}",
        title=title,
        summary="",
        published=published or NOW - timedelta(minutes=5),
        published_known=True,
        language="en",
    )


@dataclass
class World:
    storage: Storage
    router: Router = field(default_factory=Router)
    feeds: dict[str, FeedInfo] = field(default_factory=dict)
    platform: str = "discord"  # whose sender delivers (end-to-end tests)

    @classmethod
    def make(cls, storage: Storage, subscriptions: Sequence[dict[str, Any]] = ()) -> World:
        from bot.deliver.config_sync import sync_config_subscriptions

        cfg = parse_config({"feeds": FEEDS, "subscriptions": list(subscriptions)}, _path())
        world = cls(storage)
        for f in storage.sync_feeds(cfg.feed_options(), NOW - timedelta(days=30)):
            world.feeds[f.name] = f
        if subscriptions:
            with storage.write() as s:
                sync_config_subscriptions(s, cfg.subscription_options(), has_chat_platform=True)
        # The feeds have been polled before: their items are news, not a back catalogue.
        for f in world.feeds.values():
            world.poll(f.name, [], now=NOW - timedelta(days=20))
        return world

    def poll(self, feed: str, items: Sequence[Item], *, now: datetime = NOW) -> PollOutcome:
        info = self.feeds[feed]
        ok = FetchResult(status=FetchStatus.OK, url=info.url, http_status=200, body_hash=None)
        return self.storage.record_poll(
            info.id,
            ok,
            list(items),
            now=now,
            next_poll_at=now,
            classify=classify,
            backfill_window=timedelta(days=2),
            on_story=self.router,
        )

    def outbox(self) -> list[OutboxMessage]:
        with self.storage.session() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def titles(self, story_ids: Sequence[int]) -> list[str]:
        with self.storage.session() as s:
            rows = {
                sid: t
                for sid, t in s.execute(
                    select(Story.id, Story.title).where(Story.id.in_(story_ids))
                )
            }
        return [rows[i] for i in story_ids if i in rows]

    def routed(self, subscription_id: int | None = None) -> list[str]:
        """Titles of the alerts queued (for one subscription), in order."""
        ids = [
            r.story_id
            for r in self.outbox()
            if r.kind == "alert"
            and r.story_id is not None
            and (subscription_id is None or r.subscription_id == subscription_id)
        ]
        return self.titles(ids)


def _path() -> Any:
    from pathlib import Path

    return Path("/nonexistent/feeds.yaml")
