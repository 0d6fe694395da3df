"""Routing: subscription filters, per-destination dedup, config sync, implicit console."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.app.config import AppConfig, parse_config
from bot.deliver.config_sync import ensure_implicit_console, sync_config_subscriptions
from bot.deliver.match import (
    SubscriptionIndex,
    SubscriptionView,
    norm_text,
    subscription_matches,
)
from bot.deliver.route import Router, subscriptions_changed
from bot.ingest.types import FetchResult, FetchStatus, Item
from bot.store.models import Destination, OutboxMessage, Subscription
from bot.store.storage import Storage
from bot.verdict import Verdict
from tests.deliver import helpers as h


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    s.close()


def sub(**kw: Any) -> SubscriptionView:
    return SubscriptionView(id=kw.pop("id", 1), destination_id=kw.pop("destination_id", 1), **kw)


# -- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "story", "expected"),
    [
        ({}, {}, True),
        ({"jurisdictions": ("eu",)}, {"jurisdictions": ("EU", "US")}, True),
        ({"jurisdictions": ("CN",)}, {"jurisdictions": ("EU", "US")}, False),
        ({"topics": ("export-controls",)}, {"topics": ("legislation",)}, False),
        ({"topics": ("legislation", "regulation")}, {"topics": ("regulation",)}, True),
        ({"instruments": ("executive-order",)}, {"instruments": ("law",)}, False),
        ({"instruments": ("LAW",)}, {"instruments": ("law",)}, True),
        ({"languages": ("de",)}, {"language": "en"}, False),
        ({"languages": ("en",)}, {"language": "en-GB"}, True),
        ({"languages": ("en",)}, {"language": None}, False),
        ({"min_score": 0.9}, {"score": 0.8}, False),
        ({"min_score": 0.8}, {"score": 0.8}, True),
        # several fields: all must hold
        ({"jurisdictions": ("EU",), "topics": ("enforcement-litigation",)}, {}, False),
    ],
)
def test_each_filter_field(filters: dict[str, Any], story: dict[str, Any], expected: bool) -> None:
    assert subscription_matches(sub(**filters), h.facts("EU AI Act", **story)) is expected


@pytest.mark.parametrize(
    ("keyword", "title", "summary", "expected"),
    [
        ("AI Act", "Parliament votes on the ai act", "", True),  # case-insensitive phrase
        ("AI Act", "Parliament votes on the AI   Act", "", True),  # whitespace runs
        ("AI Act", "The AI Actually works", "", False),  # whole words only
        ("ban", "Urban planning and AI", "", False),
        ("ban", "A ban on facial recognition", "", True),
        ("chips", "", "New rules for chips exports.", True),  # summary counts too
        ("deepfake", "Deepfakes law", "", False),  # no stemming: whole word
        ("人工智能", "国务院发布人工智能管理办法", "", True),  # CJK: substring
        ("AI法", "日本のAI法が成立", "", True),
        ("生成AI", "生成AIの規制", "", True),
        ("GPAI", "", "", False),
    ],
)
def test_keywords(keyword: str, title: str, summary: str, expected: bool) -> None:
    s = sub(keywords=(keyword,))
    assert subscription_matches(s, h.facts(title, summary)) is expected


def test_keywords_at_the_edges_and_with_lone_surrogates() -> None:
    # A keyword at the very start or end of the text, and a keyword or a text holding a lone
    # surrogate (no character: the matcher cannot encode it), match like any other.
    assert subscription_matches(sub(keywords=("ai act",)), h.facts("AI Act"))
    assert not subscription_matches(sub(keywords=("ai act",)), h.facts("AI Actor"))
    assert not subscription_matches(sub(keywords=("ai act",)), h.facts("MAI Act"))
    assert subscription_matches(sub(keywords=("ai\ud800 act",)), h.facts("ai act"))
    assert subscription_matches(sub(keywords=("AI Act",)), h.facts("Das AI Act \udc00 Gesetz"))


def test_keyword_text_collapses_every_kind_of_whitespace() -> None:
    assert norm_text("  AI\u00a0\u3000Act\n\t\x1c now \u2028") == "ai act now"


def test_any_keyword_of_a_subscription_suffices() -> None:
    s = sub(keywords=("export controls", "chips"))
    assert subscription_matches(s, h.facts("New chips rules"))
    assert subscription_matches(s, h.facts("US export controls widen"))
    assert not subscription_matches(s, h.facts("Data protection"))


def test_index_matches_like_each_subscription_alone() -> None:
    subs = [
        sub(id=1, jurisdictions=("EU",)),
        sub(id=2, jurisdictions=("US",), keywords=("executive order",)),
        sub(id=3, topics=("legislation",), min_score=0.9),
        sub(id=4, keywords=("AI Act",), languages=("en",)),
        sub(id=5, mode="daily"),
        sub(id=6),
    ]
    index = SubscriptionIndex(subs)
    stories = [
        h.facts("EU AI Act adopted"),
        h.facts("Biden executive order on AI", jurisdictions=("US",), score=0.95),
        h.facts("Ley de IA", language="es", jurisdictions=("ES",), score=0.5),
    ]
    for f in stories:
        expected = {s.id for s in subs if subscription_matches(s, f)}
        assert {s.id for s in index.match(f)} == expected
        assert {s.id for s in index.match(f, instant_only=True)} == expected - {5}
    assert {s.id for s in index.match(stories[0])} == {1, 4, 5, 6}


# -- the Router in the poll transaction --------------------------------------------------------


def outbox(storage: Storage) -> list[OutboxMessage]:
    with storage.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_router_writes_one_alert_per_destination(storage: Storage) -> None:
    router = Router()
    with storage.write() as s:
        d1 = h.destination(s, "discord", "1")
        d2 = h.destination(s, "slack", "C2")
        d3 = h.destination(s, "discord", "3")
        h.subscription(s, d1, jurisdictions=["EU"])
        h.subscription(s, d1, keywords=["AI Act"])  # same channel, also matches
        h.subscription(s, d2, topics=["legislation"])
        h.subscription(s, d3, jurisdictions=["CN"])  # does not match
        h.subscription(s, d2, mode="daily")  # digests are not alerts
        subscriptions_changed()
        st, v = h.story(s, "EU adopts the AI Act")
        router(s, st, v)
        router(s, st, v)  # even routed twice, still once per destination
        ids = (st.id, d1.id, d2.id)
    rows = outbox(storage)
    assert sorted(r.destination_id for r in rows) == sorted([ids[1], ids[2]])
    for r in rows:
        assert r.kind == "alert" and r.dedup_key == str(ids[0]) and r.story_id == ids[0]
        assert r.status == "pending" and r.next_attempt_at == h.NOW
    assert router.routed == 2


def test_a_failed_outbox_insert_raises_sqlalchemys_error(storage: Storage) -> None:
    # The SQLite insert runs on the driver's cursor: its errors still reach callers as
    # SQLAlchemy's, which the poll's transaction handling expects.
    router = Router(refresh_seconds=3600)
    with storage.write() as s:
        d1 = h.destination(s, "discord", "1")
        h.subscription(s, d1)
        subscriptions_changed()
        st, v = h.story(s, "first")
        router(s, st, v)
        s.execute(delete(Destination).where(Destination.id == d1.id))
        st2, v2 = h.story(s, "second")
        with pytest.raises(IntegrityError):  # the cached index still names the destination
            router(s, st2, v2)


def test_router_cache_follows_changes(storage: Storage) -> None:
    router = Router(refresh_seconds=3600)
    with storage.write() as s:
        d1 = h.destination(s, "discord", "1")
        st, v = h.story(s, "first")
        router(s, st, v)
        h.subscription(s, d1)
        st2, v2 = h.story(s, "second")
        router(s, st2, v2)  # cached: the new subscription is not seen yet
        subscriptions_changed()
        st3, v3 = h.story(s, "third")
        router(s, st3, v3)
        third = st3.id
    assert [r.story_id for r in outbox(storage)] == [third]


def test_router_refreshes_after_interval(storage: Storage) -> None:
    clock = [0.0]
    router = Router(refresh_seconds=30, monotonic=lambda: clock[0])
    with storage.write() as s:
        d1 = h.destination(s, "discord", "1")
        router(s, *h.story(s, "one"))
        # A change made by another process: no subscriptions_changed() here.
        s.add(
            Subscription(
                destination_id=d1.id,
                origin="chat",
                jurisdictions=[],
                topics=[],
                instruments=[],
                keywords=[],
                languages=[],
                min_score=0.0,
                mode="instant",
            )
        )
        s.flush()
        router(s, *h.story(s, "two"))
        clock[0] = 31.0
        st, v = h.story(s, "three")
        router(s, st, v)
        sid = st.id
    assert [r.story_id for r in outbox(storage)] == [sid]


def item(uid: str, title: str) -> Item:
    return Item(
        uid=uid,
        url=f"https://example.org/{uid}",
        title=title,
        summary="",
        published=h.NOW - timedelta(minutes=5),
        published_known=True,
        language="en",
    )


def classify(it: Item, hints: Sequence[str]) -> Verdict:
    relevant = "AI" in it.title
    return Verdict(
        relevant=relevant,
        score=0.9 if relevant else 0.1,
        jurisdictions=("EU",) if "EU" in it.title else ("US",),
        topics=("legislation",),
    )


def test_router_as_record_poll_hook(storage: Storage, tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "feeds": [{"name": "A", "url": "https://example.org/a.xml"}],
            "subscriptions": [
                {
                    "destination": {"platform": "discord", "channel": "424242424242424242"},
                    "jurisdictions": ["EU"],
                }
            ],
        },
        tmp_path / "feeds.yaml",
    )
    (feed,) = storage.sync_feeds(cfg.feed_options(), h.NOW - timedelta(days=1))
    with storage.write() as s:
        sync_config_subscriptions(s, cfg.subscription_options(), has_chat_platform=True)
    ok = FetchResult(status=FetchStatus.OK, url=feed.url, http_status=200, body_hash="x")
    # First poll of a feed: its back catalogue within the window is announced (fresh items).
    outcome = storage.record_poll(
        feed.id,
        ok,
        [item("1", "EU AI rules agreed"), item("2", "US AI order"), item("3", "Weather")],
        now=h.NOW,
        next_poll_at=h.NOW,
        classify=classify,
        backfill_window=timedelta(days=2),
        on_story=Router(),
    )
    assert outcome.flagged == 2
    rows = outbox(storage)
    assert len(rows) == 1 and rows[0].kind == "alert"
    with storage.session() as s:
        d = s.get(Destination, rows[0].destination_id)
        assert d is not None and (d.platform, d.channel) == ("discord", "424242424242424242")


# -- config sync and the implicit console ------------------------------------------------------


def cfg(tmp_path: Path, subs: list[dict[str, Any]]) -> AppConfig:
    return parse_config({"feeds": [], "subscriptions": subs}, tmp_path / "feeds.yaml")


def subs_in_db(storage: Storage) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    with storage.session() as s:
        rows = s.scalars(select(Subscription).order_by(Subscription.id))
        return [(r.origin, r.destination.platform, r.name, tuple(r.jurisdictions)) for r in rows]


def test_config_sync_is_idempotent_and_keeps_chat_subscriptions(
    storage: Storage, tmp_path: Path
) -> None:
    c1 = cfg(
        tmp_path,
        [
            {
                "name": "eu",
                "destination": {"platform": "discord", "channel": "111111111111111111"},
                "jurisdictions": ["EU"],
            },
            {"destination": {"platform": "slack", "channel": "C0123ABCD"}, "mode": "daily"},
        ],
    )
    with storage.write() as s:
        r = sync_config_subscriptions(s, c1.subscription_options(), has_chat_platform=True)
        assert (r.created, r.updated, r.deleted) == (2, 0, 0)
        h.subscription(s, h.destination(s, "discord", "chat-made"), created_by="alice")
    with storage.write() as s:
        first_ids = sorted(s.scalars(select(Subscription.id)))
        r = sync_config_subscriptions(s, c1.subscription_options(), has_chat_platform=True)
        assert (r.created, r.updated, r.deleted) == (0, 0, 0)
        assert sorted(s.scalars(select(Subscription.id))) == first_ids
    # Edit one (same name: same row, keeps its id), remove the other.
    c2 = cfg(
        tmp_path,
        [
            {
                "name": "eu",
                "destination": {"platform": "discord", "channel": "111111111111111111"},
                "jurisdictions": ["EU", "GB"],
            },
        ],
    )
    with storage.write() as s:
        r = sync_config_subscriptions(s, c2.subscription_options(), has_chat_platform=True)
        assert (r.created, r.updated, r.deleted) == (0, 1, 1)
    assert subs_in_db(storage) == [
        ("config", "discord", "eu", ("EU", "GB")),
        ("chat", "discord", None, ()),
    ]
    with storage.session() as s:
        assert min(s.scalars(select(Subscription.id))) == first_ids[0]


def test_implicit_console_only_without_anything_else(storage: Storage, tmp_path: Path) -> None:
    empty = cfg(tmp_path, [])
    with storage.write() as s:
        r = sync_config_subscriptions(s, empty.subscription_options(), has_chat_platform=False)
        assert r.implicit_console
    assert subs_in_db(storage) == [
        ("implicit", "console", "console (no subscriptions configured)", ())
    ]
    with storage.write() as s:  # idempotent
        assert sync_config_subscriptions(
            s, empty.subscription_options(), has_chat_platform=False
        ).implicit_console
    assert len(subs_in_db(storage)) == 1

    # It receives every flagged story.
    router = Router()
    with storage.write() as s:
        router(s, *h.story(s, "Anything at all", jurisdictions=("BR",), topics=()))
    (row,) = outbox(storage)
    with storage.session() as s:
        dest = s.get(Destination, row.destination_id)
        assert dest is not None and dest.platform == "console"

    # Real subscriptions appear: the implicit one goes.
    real = cfg(tmp_path, [{"destination": {"platform": "console"}, "jurisdictions": ["EU"]}])
    with storage.write() as s:
        assert not sync_config_subscriptions(
            s, real.subscription_options(), has_chat_platform=False
        ).implicit_console
    assert subs_in_db(storage) == [("config", "console", None, ("EU",))]


def test_no_implicit_console_with_chat_credentials(storage: Storage, tmp_path: Path) -> None:
    with storage.write() as s:
        assert not sync_config_subscriptions(
            s, cfg(tmp_path, []).subscription_options(), has_chat_platform=True
        ).implicit_console
        assert s.scalars(select(Subscription)).all() == []


def test_router_ignores_implicit_once_chat_subscriptions_exist(storage: Storage) -> None:
    with storage.write() as s:
        ensure_implicit_console(s, has_chat_platform=False)
        h.subscription(s, h.destination(s, "discord", "9"), jurisdictions=["US"])
        subscriptions_changed()
        Router()(s, *h.story(s, "EU only story"))
    assert outbox(storage) == []


def test_a_config_channel_and_the_same_channel_from_chat_are_one_destination(
    storage: Storage, tmp_path: Path
) -> None:
    """The config file names a channel without its guild; a chat subscribe there knows the
    guild. One destination, so a story matching both subscriptions is posted there once."""
    from bot.deliver.config_sync import get_or_create_destination

    config = cfg(
        tmp_path, [{"destination": {"platform": "discord", "channel": "555555555555555555"}}]
    )
    with storage.write() as s:
        sync_config_subscriptions(s, config.subscription_options(), has_chat_platform=True)
        chat_dest = get_or_create_destination(
            s, "discord", guild="G1", channel="555555555555555555"
        )
        h.subscription(s, chat_dest)
        # The config sync at the next start finds the same row, now with its guild.
        sync_config_subscriptions(s, config.subscription_options(), has_chat_platform=True)
        dests = list(s.scalars(select(Destination).where(Destination.platform == "discord")))
        assert [(d.guild, d.channel) for d in dests] == [("G1", "555555555555555555")]
        # Another platform or a webhook with the same "channel" stays apart.
        assert (
            get_or_create_destination(s, "slack", guild="T1", channel="555555555555555555").id
            != dests[0].id
        )
        subscriptions_changed()
        st, v = h.story(s, "EU AI Act adopted")
        Router()(s, st, v)
    rows = outbox(storage)
    assert len(rows) == 1 and rows[0].destination_id == dests[0].id
