"""Feed routing, exclusions, mutes and preview, through Storage.record_poll and the Router."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.preview import preview
from bot.deliver.match import StoryFacts, SubscriptionIndex, SubscriptionView
from bot.deliver.mute import end_mutes, queue_scheduled
from bot.deliver.route import subscriptions_changed
from bot.store.models import Destination, Subscription
from bot.store.storage import Storage
from bot.types import DestinationOptions, SubscriptionOptions
from tests.deliver.helpers import NOW
from tests.deliver.routing_world import World, item

DISCORD = {"platform": "discord", "channel": "424242424242424242"}
SLACK = {"platform": "slack", "channel": "C0PRIVACY"}


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    s.close()


def view(**kw: object) -> SubscriptionView:
    return SubscriptionView(id=1, destination_id=1, **kw)  # type: ignore[arg-type]


def facts(title: str, **kw: object) -> StoryFacts:
    base: dict[str, object] = {"summary": "", "language": "en", "score": 0.9}
    base.update(kw)
    return StoryFacts(title=title, **base)  # type: ignore[arg-type]


# -- the index ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "story", "expected"),
    [
        # exclude: whole words in every script, the include keywords' matcher
        ({"exclude": ("crypto",)}, facts("EU AI rules for crypto firms"), False),
        ({"exclude": ("crypto",)}, facts("EU AI rules for cryptography"), True),
        ({"exclude": ("Crypto",)}, facts("ＣＲＹＰＴＯ and AI"), False),  # width and case folded
        ({"exclude": ("加密",)}, facts("欧盟人工智能法案加密货币条款"), False),  # CJK: inside text
        ({"exclude": ("ai",)}, facts("Brussels said no"), True),  # not inside "said"
        ({"keywords": ("AI",), "exclude": ("chips",)}, facts("AI chips export"), False),
        ({"keywords": ("AI",), "exclude": ("chips",)}, facts("AI act"), True),
        ({"exclude_jurisdictions": ("us",)}, facts("x", jurisdictions=("EU", "US")), False),
        ({"exclude_jurisdictions": ("US",)}, facts("x", jurisdictions=("EU",)), True),
        (
            {"exclude_topics": ("standards-safety",)},
            facts("x", topics=("standards-safety",)),
            False,
        ),
        # feed routing: only the followed feeds, flagged or not
        ({"feed_ids": frozenset({7})}, facts("x", relevant=False, feeds=(7,)), True),
        ({"feed_ids": frozenset({7})}, facts("x", relevant=False, feeds=(8,)), False),
        ({"feed_ids": frozenset({7})}, facts("x", relevant=True), False),
        ({"feed_ids": frozenset()}, facts("x", feeds=(7,)), False),  # its feeds were removed
        ({}, facts("x", relevant=False, feeds=(7,)), False),  # others: flagged only
        ({}, facts("x", relevant=True, feeds=(7,)), True),
        # feed routing with filters: the filters apply to the feed's items
        ({"feed_ids": frozenset({7}), "keywords": ("cookie",)}, facts("cookie", feeds=(7,)), True),
        ({"feed_ids": frozenset({7}), "keywords": ("cookie",)}, facts("other", feeds=(7,)), False),
    ],
)
def test_index_filters(sub: dict[str, object], story: StoryFacts, expected: bool) -> None:
    assert bool(SubscriptionIndex([view(**sub)]).match_mask(story)) is expected


def test_index_many_subscriptions_keep_their_own_exclusions() -> None:
    subs = [
        SubscriptionView(id=1, destination_id=1, exclude=("crypto",)),
        SubscriptionView(id=2, destination_id=2, keywords=("crypto",)),
        SubscriptionView(id=3, destination_id=3, exclude_jurisdictions=("EU",)),
        SubscriptionView(id=4, destination_id=4),
    ]
    got = SubscriptionIndex(subs).match(facts("EU crypto rules", jurisdictions=("EU",)))
    assert [s.id for s in got] == [2, 4]


# -- feed routing through record_poll ----------------------------------------------------------


def test_feed_routed_subscription_gets_unflagged_items_and_dedup_holds(storage: Storage) -> None:
    w = World.make(
        storage,
        [
            {"name": "privacy", "destination": DISCORD, "feeds": ["tag:privacy"]},
            {"name": "flagged", "destination": DISCORD},
            {"name": "wire-chips", "destination": SLACK, "feeds": ["Wire"], "keywords": ["chips"]},
        ],
    )
    w.poll(
        "EDPB",
        [
            item("Guidelines on cookie banners"),
            item("EU AI Act guidance", url="https://x.example/a"),
        ],
    )
    w.poll("Wire", [item("Weather today"), item("New chips rules"), item("Crypto AI news")])
    # The same story from a second privacy feed: not posted again to that channel.
    w.poll("CNIL", [item("EU AI Act guidance", url="https://x.example/a")])
    rows = [r for r in w.outbox() if r.kind == "alert"]
    by_dest: dict[int, list[str]] = {}
    for r in rows:
        assert r.story_id is not None
        by_dest.setdefault(r.destination_id, []).extend(w.titles([r.story_id]))
    with storage.session() as s:
        dests = {d.channel: d.id for d in s.query(Destination)}
    assert sorted(by_dest[dests["424242424242424242"]]) == [
        "Crypto AI news",  # flagged: through the plain subscription
        "EU AI Act guidance",  # once, though three routes lead there
        "Guidelines on cookie banners",  # unflagged, from a followed feed
    ]
    assert by_dest[dests["C0PRIVACY"]] == ["New chips rules"]  # the Wire's, filtered


def test_a_followed_feed_joining_an_older_story_routes_it(storage: Storage) -> None:
    w = World.make(storage, [{"destination": DISCORD, "feeds": ["CNIL"]}])
    w.poll("Wire", [item("Cookie fines doubled", url="https://x.example/c")])
    assert w.routed() == []  # unflagged, from a feed nobody follows
    w.poll(
        "CNIL",
        [item("Cookie fines doubled", url="https://x.example/c")],
        now=NOW + timedelta(hours=1),
    )
    assert w.routed() == ["Cookie fines doubled"]


def test_feed_routing_keeps_the_backfill_window(storage: Storage) -> None:
    w = World.make(storage, [{"destination": DISCORD, "feeds": ["EDPB"]}])
    w.poll("EDPB", [item("Old opinion", published=NOW - timedelta(days=10)), item("New opinion")])
    assert w.routed() == ["New opinion"]


def test_an_excluded_keyword_holds_a_story_back(storage: Storage) -> None:
    w = World.make(
        storage, [{"destination": DISCORD, "jurisdictions": ["EU"], "exclude": ["crypto"]}]
    )
    w.poll(
        "Wire",
        [item("EU AI Act and crypto"), item("EU AI Act enters into force"), item("US AI order")],
    )
    assert w.routed() == ["EU AI Act enters into force"]


# -- mute ----------------------------------------------------------------------------------------


def _mute(storage: Storage, *, hours: int, subscription: int | None = None) -> None:
    with storage.write() as s:
        if subscription is None:
            d = s.query(Destination).one()
            d.muted_since, d.muted_until = NOW, NOW + timedelta(hours=hours)
        else:
            row = s.get(Subscription, subscription)
            assert row is not None
            row.muted_since, row.muted_until = NOW, NOW + timedelta(hours=hours)
    subscriptions_changed()


def test_mute_holds_alerts_back_until_it_expires_then_one_catch_up(storage: Storage) -> None:
    w = World.make(storage, [{"destination": DISCORD, "feeds": ["EDPB"]}])
    _mute(storage, hours=24)
    w.poll("EDPB", [item("Held back one")], now=NOW + timedelta(hours=1))
    w.poll("EDPB", [item("Held back two")], now=NOW + timedelta(hours=2))
    assert w.outbox() == []
    # Not yet expired: nothing queued.
    assert queue_scheduled(storage, NOW + timedelta(hours=23)) == []
    assert w.outbox() == []
    (catch_up,) = queue_scheduled(storage, NOW + timedelta(hours=24, minutes=1))
    (row,) = w.outbox()
    assert row.kind == "digest" and row.dedup_key.startswith("mute:")
    assert w.titles(row.story_ids) == ["Held back one", "Held back two"]
    assert catch_up.story_ids == tuple(row.story_ids)
    # After the mute: alerts again, and the catch-up is not queued twice.
    w.poll("EDPB", [item("After the mute")], now=NOW + timedelta(hours=25))
    assert queue_scheduled(storage, NOW + timedelta(hours=26)) == []
    assert w.routed() == ["After the mute"]


def test_a_muted_digest_takes_the_muted_period_into_its_next_digest(storage: Storage) -> None:
    w = World.make(storage, [{"destination": DISCORD, "mode": "daily", "at": "09:00"}])
    with storage.write() as s:
        s.query(Subscription).update({"created_at": NOW - timedelta(days=3)})
    _mute(storage, hours=48)
    w.poll("Wire", [item("EU AI day one")], now=NOW + timedelta(hours=1))
    assert queue_scheduled(storage, NOW + timedelta(days=1)) == []  # muted: no digest
    w.poll("Wire", [item("EU AI day two")], now=NOW + timedelta(days=1, hours=1))
    (digest,) = queue_scheduled(storage, NOW + timedelta(days=2, hours=1))
    assert w.titles(list(digest.story_ids)) == ["EU AI day one", "EU AI day two"]


def test_a_muted_subscription_skips_what_the_channel_got_anyway(storage: Storage) -> None:
    w = World.make(
        storage,
        [
            {"name": "all", "destination": DISCORD},
            {"name": "edpb", "destination": DISCORD, "feeds": ["EDPB"]},
        ],
    )
    with storage.session() as s:
        edpb = s.query(Subscription).filter(Subscription.name == "edpb").one().id
    _mute(storage, hours=2, subscription=edpb)
    w.poll("EDPB", [item("EU AI flagged"), item("Unflagged opinion")], now=NOW + timedelta(hours=1))
    assert w.routed() == ["EU AI flagged"]  # through the unmuted subscription
    with storage.write() as s:
        (done,) = end_mutes(s, NOW + timedelta(hours=3))
    assert w.titles(list(done.story_ids)) == ["Unflagged opinion"]


# -- preview ---------------------------------------------------------------------------------------


FILTER_SETS: list[dict[str, object]] = [
    {},
    {"feeds": ["tag:privacy"]},
    {"feeds": ["Wire"], "keywords": ["chips"]},
    {"jurisdictions": ["EU"], "exclude": ["crypto"]},
    {"exclude_jurisdictions": ["EU"]},
    {"feeds": ["EDPB", "Wire"], "exclude_topics": ["export-controls"]},
    {"topics": ["export-controls"], "min_score": 0.5},
]


def test_preview_matches_what_routing_posts(storage: Storage) -> None:
    subs = [
        {"name": f"s{i}", "destination": {"platform": "discord", "channel": str(10**17 + i)}, **f}
        for i, f in enumerate(FILTER_SETS)
    ]
    w = World.make(storage, subs)
    stories = {
        "EDPB": [
            "EU AI Act guidance",
            "Cookie banners",
            "EU AI crypto rules",
            "AI chips in the EU",
        ],
        "CNIL": ["Cookie banners", "Fines for AI firms", "Sanctions CNIL"],
        "Wire": ["US AI chips export", "Weather", "EU AI Act guidance", "New chips quota"],
    }
    for h, (feed, titles) in enumerate(stories.items()):
        w.poll(
            feed,
            [item(t, url=f"https://x.example/{t}") for t in titles],
            now=NOW + timedelta(hours=h),
        )
    later = NOW + timedelta(days=1)
    for i, (spec, filters) in enumerate(zip(subs, FILTER_SETS, strict=True)):
        options = SubscriptionOptions(
            destination=DestinationOptions("discord", channel=str(spec["destination"]["channel"])),  # type: ignore[index]
            **{k: tuple(v) if isinstance(v, list) else v for k, v in filters.items()},  # type: ignore[arg-type]
        )
        with storage.session() as s:
            sid = s.query(Subscription).filter(Subscription.name == f"s{i}").one().id
        shown = preview(storage, options, now=later)
        routed = w.routed(sid)
        assert sorted(p.title for p in shown.stories) == sorted(routed), filters
        assert shown.total == len(routed)
    # and the filters did tell stories apart
    assert len({len(w.routed(i + 1)) for i in range(len(FILTER_SETS))}) > 2
