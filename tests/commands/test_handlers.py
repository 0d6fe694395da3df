"""The /policy handlers without any platform: each command, bad input, permissions, scopes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.commands import Caller, CommandContext, Reply, Request, autocomplete, handle
from bot.ingest.check import FeedCheck, Policy
from bot.platforms.slack.reply import slack_reply
from bot.store.models import Destination, Entry, Feed, Story, Subscription
from bot.store.storage import Storage, store_verdict
from bot.verdict import Evidence, Verdict
from tests.commands.feedserver import feed_server

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

ADMIN = Caller("discord", "u1", scope="guildA", channel="chan1", is_admin=True)
USER = Caller("discord", "u2", scope="guildA", channel="chan1", is_admin=False)
OTHER = Caller("discord", "u3", scope="guildB", channel="chan9", is_admin=True)
CLI = Caller("cli", "me", is_admin=True)


@pytest.fixture
def storage(sqlite_url: str) -> Iterator[Storage]:
    s = Storage.open(sqlite_url)
    _seed(s)
    yield s
    s.close()


@pytest.fixture
def ctx(storage: Storage) -> CommandContext:
    return CommandContext.of(storage=storage, clock=lambda: NOW, policy=Policy())


def _seed(storage: Storage) -> None:
    rows = [
        (
            "EU AI Act enters into force",
            "The regulation applies.",
            "en",
            ("EU",),
            ("legislation",),
            2,
        ),
        (
            "US tightens export controls on AI chips",
            "New rules.",
            "en",
            ("US",),
            ("export-controls",),
            5,
        ),
        ("中国发布人工智能监管办法", "国家网信办公布新规。", "zh", ("CN",), ("regulation",), 30),
    ]
    with storage.write() as s:
        feed = Feed(
            name="Reuters",
            config_url="https://r.example/f",
            url="https://r.example/f",
            jurisdictions=[],
        )
        s.add(feed)
        s.flush()
        for i, (title, summary, lang, jur, topics, hours) in enumerate(rows):
            story = Story(
                title=title,
                title_key=title,
                url=f"https://news.example/{i}",
                summary=summary,
                language=lang,
                published=NOW - timedelta(hours=hours),
                first_seen=NOW - timedelta(hours=hours),
            )
            s.add(story)
            s.flush()
            s.add(
                Entry(
                    feed_id=feed.id,
                    uid=str(i),
                    uid_hash=f"h{i}",
                    story_id=story.id,
                    url=story.url,
                    title=title,
                    summary=summary,
                    published=story.published,
                )
            )
            ev = (
                Evidence(
                    rule="ai-term",
                    term="ai act",
                    text="AI Act",
                    field="title",
                    weight=0.5,
                    detail=jur[0],
                ),
            )
            store_verdict(s, story.id, Verdict(True, 0.9, jur, topics, (), ev))


async def run(ctx: CommandContext, name: str, caller: Caller = ADMIN, /, **args: Any) -> Reply:
    return await handle(Request(name, args, caller), ctx)


# -- search --


async def test_search_is_private_unless_shared(ctx: CommandContext) -> None:
    r = await run(ctx, "search", USER, query="AI Act")
    assert not r.error and r.ephemeral
    assert [s.title for s in r.stories] == ["EU AI Act enters into force"]
    assert r.stories[0].sources[0].name == "Reuters"
    shared = await run(ctx, "search", USER, query="AI Act", share=True)
    assert not shared.ephemeral and shared.stories == r.stories


async def test_search_filters_and_since_forms(ctx: CommandContext) -> None:
    r = await run(ctx, "search", query="人工智能", jurisdiction="China")
    assert [s.title for s in r.stories] == ["中国发布人工智能监管办法"]
    for since, n in (("3h", 1), ("24h", 2), ("7d", 3), ("2026-11-20", 2)):
        r = await run(
            ctx, "search", query="", topic=None, since=since, jurisdiction=None, source="reuters"
        )
        assert len(r.stories) == n, since


async def test_search_paging_gives_more_args(ctx: CommandContext) -> None:
    r = await run(ctx, "search", query="", since="30d", per_page=2)
    more = r.page_args(+1)
    assert r.has_more and more is not None and more["page"] == 2
    assert r.page_args(-1) is None  # page 1 has no Previous
    r2 = await run(ctx, "search", **more)
    assert r2.page == 2 and len(r2.stories) == 1
    assert {s.story_id for s in r.stories}.isdisjoint({s.story_id for s in r2.stories})


async def test_previous_from_the_last_page_runs_the_same_search(ctx: CommandContext) -> None:
    # Regression: the last page carried no args, so Previous ran an empty search ("tell me
    # what to search for") and the Slack button value was {"a": {"page": 2}}.
    first = await run(ctx, "search", USER, query="", since="30d", per_page=1)
    pages = [first]
    while (more := pages[-1].page_args(+1)) is not None:
        pages.append(await run(ctx, "search", USER, **more))
    last = pages[-1]
    assert last.page == 3 and not last.has_more and not last.error
    assert last.page_args(+1) is None
    back = last.page_args(-1)
    assert back == {"query": "", "since": "30d", "per_page": 1, "page": 2}
    r = await run(ctx, "search", USER, **back)
    assert not r.error and r.page == 2 and r.stories == pages[1].stories
    (message,) = slack_reply(last, owner="u2")
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    (prev,) = actions["elements"]
    assert json.loads(prev["value"])["a"] == back
    # A page past the end ("No more results") still offers its way back.
    beyond = await run(ctx, "search", USER, query="", since="30d", per_page=1, page=9)
    assert not beyond.stories and beyond.page_args(-1) == {**back, "page": 8}


@pytest.mark.parametrize(
    ("args", "needle", "suggestion"),
    [
        ({"query": ""}, "tell me what to search for", None),
        ({"query": "AI", "since": "last tuesday"}, "is not a time", None),
        ({"query": "AI", "topic": "export-control"}, "unknown topic", "export-controls"),
        ({"query": "AI", "jurisdiction": "Chna"}, "unknown jurisdiction", "China (CN)"),
        ({"query": "AI", "source": "Reuter"}, "no feed is called", "Reuters"),
        ({"query": "AI", "page": "two"}, "whole number", None),
        ({"query": "AI", "page": 0}, "between 1 and", None),
    ],
)
async def test_search_bad_arguments(
    ctx: CommandContext, args: dict[str, Any], needle: str, suggestion: str | None
) -> None:
    r = await run(ctx, "search", **args)
    assert r.error and needle in r.text
    if suggestion:
        assert suggestion in r.suggestions and "Did you mean" in r.text


async def test_search_hostile_queries_answer_kindly(ctx: CommandContext) -> None:
    for q in ['"', "NEAR(", "' OR 1=1 --", "x" * 5000, "🤖", "*"]:
        r = await run(ctx, "search", query=q)
        assert r.title == "Search", q
        assert "Something went wrong" not in r.text, q


# -- subscriptions --


async def test_subscribe_needs_admin(ctx: CommandContext, storage: Storage) -> None:
    r = await run(ctx, "subscribe", USER, jurisdictions="EU")
    assert r.error and "admins" in r.text
    with storage.session() as s:
        assert s.scalars(select(Subscription)).all() == []


async def test_subscribe_validates_and_suggests(ctx: CommandContext) -> None:
    r = await run(ctx, "subscribe", topics="export-control")
    assert r.error and r.suggestions[0] == "export-controls"
    r = await run(ctx, "subscribe", jurisdictions="Germny")
    assert r.error and "Germany (DE)" in r.suggestions
    r = await run(ctx, "subscribe", mode="dayly")
    assert r.error and "daily" in r.suggestions
    r = await run(ctx, "subscribe", mode="daily", at="25:00")
    assert r.error and "time of day" in r.text
    r = await run(ctx, "subscribe", timezone="Europe/Berln")
    assert r.error and "Europe/Berlin" in r.suggestions


async def test_subscribe_list_and_unsubscribe(ctx: CommandContext, storage: Storage) -> None:
    r = await run(
        ctx,
        "subscribe",
        jurisdictions=["China", "EU", "usa"],
        topics="legislation, export-controls",
        keywords="AI Act, chips",
        mode="weekly",
        at="8:30",
        day="Friday",
        timezone="europe/berlin",
    )
    assert not r.error, r.text
    with storage.session() as s:
        (sub,) = s.scalars(select(Subscription)).all()
        dest = s.get(Destination, sub.destination_id)
        assert dest is not None
        assert (dest.platform, dest.guild, dest.channel) == ("discord", "guildA", "chan1")
        assert sub.jurisdictions == ["CN", "EU", "US"]
        assert sub.topics == ["legislation", "export-controls"]
        assert sub.keywords == ["AI Act", "chips"]
        assert (sub.mode, sub.at, sub.day, sub.timezone, sub.origin) == (
            "weekly",
            "08:30",
            "fri",
            "Europe/Berlin",
            "chat",
        )
        sid = sub.id
    listed = await run(ctx, "subscriptions", USER)
    assert listed.table is not None and listed.table.rows[0][0] == str(sid)
    # Another guild sees nothing and cannot touch it.
    other = await run(ctx, "subscriptions", OTHER)
    assert other.table is None
    r = await run(ctx, "unsubscribe", OTHER, id=sid)
    assert r.error and f"no such subscription: {sid}" in r.text
    r = await run(ctx, "unsubscribe", USER, id=sid)
    assert r.error and "admins" in r.text
    r = await run(ctx, "unsubscribe", id=f"#{sid}")
    assert not r.error
    with storage.session() as s:
        assert s.scalars(select(Subscription)).all() == []


async def test_subscribe_by_instrument_and_min_score(ctx: CommandContext, storage: Storage) -> None:
    r = await run(
        ctx, "subscribe", instruments="eu-ai-act, AI Act, US CHIPS and Science Act", min_score="0.6"
    )
    assert not r.error, r.text
    with storage.session() as s:
        (sub,) = s.scalars(select(Subscription)).all()
        # canonical names, as verdicts hold them; "AI Act" is a term of the EU AI Act
        assert sub.instruments == ["EU AI Act", "US CHIPS and Science Act"]
        assert sub.min_score == 0.6
    assert r.table is not None and "0.6" in r.table.rows[0]
    # The digest (the same matcher as routing) follows both filters.
    with storage.write() as s:
        for title, inst, score in (
            ("AI Act fines", ("EU AI Act",), 0.9),
            ("AI Act footnote", ("EU AI Act",), 0.5),
            ("Other law", ("Colorado AI Act (SB 24-205)",), 0.9),
        ):
            st = Story(
                title=title,
                title_key=title,
                url=None,
                summary="",
                language="en",
                published=NOW - timedelta(hours=1),
                first_seen=NOW - timedelta(hours=1),
            )
            s.add(st)
            s.flush()
            store_verdict(s, st.id, Verdict(True, score, ("EU",), ("legislation",), inst))
    d = await run(ctx, "digest", USER)
    assert [p.title for p in d.stories] == ["AI Act fines"]


@pytest.mark.parametrize(
    ("args", "needle", "suggestion"),
    [
        ({"instruments": "EU AI Akt"}, "unknown instrument", "EU AI Act"),
        ({"instruments": "gdpr-ish thing"}, "unknown instrument", None),
        ({"min_score": "1.5"}, "from 0 to 1", None),
        ({"min_score": "high"}, "from 0 to 1", None),
        ({"min_score": "nan"}, "from 0 to 1", None),
        ({"min_score": -0.1}, "from 0 to 1", None),
        ({"min_score": True}, "from 0 to 1", None),
    ],
)
async def test_subscribe_instrument_and_score_mistakes(
    ctx: CommandContext,
    storage: Storage,
    args: dict[str, Any],
    needle: str,
    suggestion: str | None,
) -> None:
    r = await run(ctx, "subscribe", **args)
    assert r.error and needle in r.text, r.text
    if suggestion:
        assert suggestion in r.suggestions and "Did you mean" in r.text
    with storage.session() as s:
        assert s.scalars(select(Subscription)).all() == []


async def test_instruments_come_from_the_running_classifier(storage: Storage) -> None:
    from bot.classify.entries import Lexicon

    class Custom:
        lexicon = Lexicon(instruments={"x-ai-law": "Examplestan AI Law"})

    ctx = CommandContext.of(storage=storage, clock=lambda: NOW, classifier=Custom)
    r = await run(ctx, "subscribe", instruments="x-ai-law")
    assert not r.error, r.text
    assert autocomplete("instruments", "exam", classifier=Custom) == [
        ("Examplestan AI Law", "x-ai-law")
    ]


async def test_unsubscribe_all_keeps_other_channels_and_config(
    ctx: CommandContext, storage: Storage
) -> None:
    other_chan = Caller("discord", "u1", scope="guildA", channel="chan2", is_admin=True)
    await run(ctx, "subscribe", topics="legislation")
    await run(ctx, "subscribe", topics="regulation")
    await run(ctx, "subscribe", other_chan, topics="regulation")
    with storage.write() as s:
        dest = s.scalars(select(Destination).where(Destination.channel == "chan1")).one()
        cfg = Subscription(destination_id=dest.id, origin="config")
        s.add(cfg)
        s.flush()
        cfg_id = cfg.id
    r = await run(ctx, "unsubscribe", id="all")
    assert "Removed 2" in r.text
    r = await run(ctx, "unsubscribe", id=cfg_id)
    assert r.error and "config file" in r.text
    with storage.session() as s:
        assert len(s.scalars(select(Subscription)).all()) == 2
    r = await run(ctx, "unsubscribe", id="abc")
    assert r.error and "not a subscription id" in r.text


async def test_cli_picks_a_destination(ctx: CommandContext, storage: Storage) -> None:
    r = await run(
        ctx, "subscribe", CLI, platform="slack", scope="T1", channel="C1", topics="legislation"
    )
    assert not r.error
    r = await run(ctx, "subscriptions", CLI, platform="slack", scope="T1", channel="C1")
    assert r.table is not None and len(r.table.rows) == 1
    # A chat user cannot pick another destination by passing the same arguments.
    r = await run(ctx, "subscriptions", ADMIN, platform="slack", scope="T1", channel="C1")
    assert r.table is None


# -- digest --


async def test_digest_follows_subscriptions(ctx: CommandContext) -> None:
    everything = await run(ctx, "digest", USER)
    assert everything.digest is not None and not everything.ephemeral
    assert {s.title for s in everything.stories} == {
        "EU AI Act enters into force",
        "US tightens export controls on AI chips",
    }
    await run(ctx, "subscribe", ADMIN, jurisdictions="US")
    mine = await run(ctx, "digest", USER, hours=48)
    assert [s.title for s in mine.stories] == ["US tightens export controls on AI chips"]
    assert mine.digest is not None and mine.digest.period_end == NOW
    assert mine.digest.period_start == NOW - timedelta(hours=48)
    assert "this channel's subscriptions" in mine.text
    none = await run(ctx, "digest", USER, hours=1)
    assert none.stories == () and "Nothing in the last 1 h" in none.text
    for bad in (0, 721, "x"):
        r = await run(ctx, "digest", USER, hours=bad)
        assert r.error


async def test_digest_leaves_out_a_new_feeds_back_catalogue(
    ctx: CommandContext, storage: Storage
) -> None:
    with storage.write() as s:
        old = Story(
            title="Back catalogue: AI Act recital",
            title_key="back catalogue",
            url="https://news.example/old",
            summary="",
            language="en",
            published=NOW - timedelta(days=400),
            first_seen=NOW - timedelta(hours=1),
            announce=False,
        )
        s.add(old)
        s.flush()
        store_verdict(s, old.id, Verdict(True, 0.9, ("EU",), ("legislation",), ()))
    r = await run(ctx, "digest", USER)
    assert r.digest is not None
    titles = {p.title for p in r.digest.stories}
    assert "Back catalogue: AI Act recital" not in titles
    assert titles == {"EU AI Act enters into force", "US tightens export controls on AI chips"}
    # ... while search still finds it.
    found = await run(ctx, "search", USER, query="recital")
    assert [p.title for p in found.stories] == ["Back catalogue: AI Act recital"]


# -- feeds --


async def test_feeds_list_hides_query_strings(ctx: CommandContext, storage: Storage) -> None:
    with storage.write() as s:
        s.add(
            Feed(
                name="Secret",
                config_url="https://x.example/f?key=SECRET",
                url="https://x.example/f?key=SECRET",
                jurisdictions=[],
            )
        )
    r = await run(ctx, "feeds", USER)
    assert r.table is not None
    assert {row[0] for row in r.table.rows} == {"Reuters", "Secret"}
    assert "SECRET" not in repr(r)


async def test_feeds_add_checks_and_refuses_private_by_default(
    ctx: CommandContext, storage: Storage
) -> None:
    with feed_server() as srv:
        r = await run(ctx, "feeds", USER, action="add", url=srv.url("/feed.xml"))
        assert r.error and "admins" in r.text
        r = await run(ctx, "feeds", action="add", url=srv.url("/feed.xml"))
        assert r.error and "loopback" in r.text
        assert srv.requests == []
        r = await run(ctx, "feeds", action="add", url="ftp://example.org/feed")
        assert r.error
        # Malformed URLs are a sentence, not "something went wrong" and a traceback.
        for bad in ("http://[::1", "http://0177.0.0.1/", "http://example.org:99999/"):
            r = await run(ctx, "feeds", action="add", url=bad)
            assert r.error and "went wrong" not in r.text, (bad, r.text)
    with storage.session() as s:
        assert [f.name for f in s.scalars(select(Feed))] == ["Reuters"]


async def test_feeds_add_and_remove_a_local_feed_when_allowed(storage: Storage) -> None:
    ctx = CommandContext.of(storage=storage, clock=lambda: NOW, policy=Policy(allow_private=True))
    with feed_server() as srv:
        page = await run(ctx, "feeds", action="add", url=srv.url("/page.html"))
        assert page.error
        r = await run(ctx, "feeds", action="add", url=srv.url("/feed.xml"), jurisdictions="EU")
        assert not r.error, r.text
        assert "Local AI Policy" in r.text and "2 entries" in r.text
        dup = await run(ctx, "feeds", action="add", url=srv.url("/feed.xml"))
        assert dup.error and "followed already" in dup.text
    with storage.session() as s:
        f = s.scalars(select(Feed).where(Feed.name == "Local AI Policy")).one()
        assert (f.origin, f.enabled, f.in_config, f.jurisdictions) == ("chat", True, True, ["EU"])
        assert f.added_by == "discord:guildA:u1" and f.next_poll_at == NOW
    r = await run(ctx, "feeds", action="remove", name="Reuters")
    assert r.error and "config file" in r.text
    r = await run(ctx, "feeds", action="add", url=f"{srv.url('/feed.xml')} Local feed")
    assert r.error and "not an http(s) URL" in r.text  # a name typed after the URL
    r = await run(ctx, "feeds", action="remove", url="local ai policy")  # positional form
    assert not r.error
    r = await run(ctx, "feeds", action="remove", name="Local AI Polcy")
    assert r.error and "Local AI Policy" in r.suggestions
    with storage.session() as s:
        f = s.scalars(select(Feed).where(Feed.name == "Local AI Policy")).one()
        assert not f.enabled


async def test_feeds_add_uses_the_injected_fetch(storage: Storage) -> None:
    asked: list[str] = []

    async def fake(url: str) -> FeedCheck:
        asked.append(url)
        return FeedCheck(False, url, error="this is not an RSS or Atom feed")

    ctx = CommandContext.of(storage=storage, clock=lambda: NOW, fetch=fake)
    r = await run(ctx, "feeds", action="add", url="https://example.org/x")
    assert asked == ["https://example.org/x"] and r.error and "not an RSS" in r.text


# -- why, help, dispatch --


async def test_why_by_id_url_and_title(ctx: CommandContext, storage: Storage) -> None:
    with storage.session() as s:
        sid = s.scalars(select(Story.id).where(Story.title.like("EU AI Act%"))).one()
    for item in (str(sid), f"#{sid}", "https://news.example/0", "AI Act enters"):
        r = await run(ctx, "why", USER, item=item)
        assert not r.error, item
        assert r.stories[0].story_id == sid
        assert "Flagged with score 0.90" in r.text and "European Union (EU)" in r.text
        assert r.table is not None and r.table.rows[0][:3] == ("ai-term", "ai act", "AI Act")
    r = await run(ctx, "why", USER, item="99999")
    assert r.error and "no stored item" in r.text
    r = await run(ctx, "why", USER)
    assert r.error


async def test_why_classifies_an_unclassified_item_off_the_event_loop(storage: Storage) -> None:
    with storage.write() as s:
        st = Story(
            title="Fresh AI bill",
            title_key="fresh ai bill",
            url=None,
            summary="",
            language="en",
            published=NOW,
            first_seen=NOW,
        )
        s.add(st)
        s.flush()
        sid = st.id
    threads: list[int] = []

    class Clf:
        def classify(self, title: str, summary: str) -> Verdict:
            threads.append(threading.get_ident())
            return Verdict(True, 0.7, ("US",), ("legislation",), ())

    def factory() -> Clf:
        threads.append(threading.get_ident())  # loading a classifier is slow too
        return Clf()

    ctx = CommandContext.of(storage=storage, clock=lambda: NOW, classifier=factory)
    r = await run(ctx, "why", USER, item=str(sid))
    assert not r.error and "classified just now" in r.text and "United States (US)" in r.text
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_bad_time_zones_do_not_rescan_the_tz_database(
    ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoneinfo

    from bot.core import vocab

    real = zoneinfo.available_timezones
    calls: list[int] = []

    def counting() -> set[str]:
        calls.append(1)
        return real()

    monkeypatch.setattr(zoneinfo, "available_timezones", counting)
    vocab.time_zones.cache_clear()
    vocab.time_zones_by_folded.cache_clear()
    for bad in ("Europe/Berln", "Mars/Olympus", "Asia/Tokio"):
        r = await run(ctx, "subscribe", timezone=bad)
        assert r.error and "unknown time zone" in r.text
    r = await run(ctx, "subscribe", timezone="asia/tokyo", mode="daily")
    assert not r.error and "Asia/Tokyo" in repr(r.table)
    assert len(calls) == 1


async def test_help_and_unknown_commands(ctx: CommandContext) -> None:
    r = await run(ctx, "help", USER)
    assert r.table is not None and {row[0] for row in r.table.rows} >= {"search", "why"}
    r = await run(ctx, "help", USER, command="serch")
    assert r.error and "search" in r.suggestions
    r = await run(ctx, "subscibe", USER)
    assert r.error and "subscribe" in r.suggestions


async def test_failures_become_a_reply_without_a_trace(
    ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.core.stories as h

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(h, "search_stories", boom)
    r = await run(ctx, "search", query="AI")
    assert r.error and "Something went wrong" in r.text and "secret" not in r.text


def test_autocomplete() -> None:
    assert ("Export controls", "export-controls") in autocomplete("topic", "exp")
    assert autocomplete("jurisdictions", "chi")[0] == ("China (CN)", "CN")
    assert autocomplete("jurisdiction", "uk")[0][1] == "GB"
    assert autocomplete("jurisdiction", "")[:2] == [
        ("European Union (EU)", "EU"),
        ("International (INTL)", "INTL"),
    ]
    assert len(autocomplete("jurisdiction", "")) == 25
    assert len(autocomplete("jurisdiction", "a")) <= 25
    assert autocomplete("nonsense", "x") == []
    # instruments: ids as values (names may hold commas), terms find their instrument
    assert autocomplete("instruments", "KI-Verordnung")[0] == ("EU AI Act", "eu-ai-act")
    assert autocomplete("instrument", "eu-ai")[0] == ("EU AI Act", "eu-ai-act")
    assert all("," not in value for _name, value in autocomplete("instrument", ""))
    assert len(autocomplete("instrument", "")) == 25
