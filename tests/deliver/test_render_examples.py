"""Alert and digest renderers on known inputs: exact structure of alerts, digests split into
valid messages with every story exactly once, no-URL and hostile-URL stories, validators."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.platforms import (
    console_alert,
    console_digest,
    discord_alert,
    discord_digest,
    slack_alert,
    slack_digest,
    validate_discord_message,
    validate_slack_message,
)
from bot.platforms.slack.limits import blocks_json_len
from bot.platforms.text import ZWSP
from bot.types import Digest, Source, StoryPost
from tests.deliver.test_render_checks import (
    allowed_links,
    bad_links,
    discord_links,
    discord_strings,
    live_mentions,
    slack_links,
    slack_strings,
)

T0 = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)

STORY = StoryPost(
    story_id=42,
    title="EU & US agree on AI chip export rules",
    url="https://politico.eu/article/ai-chips",
    summary="Brussels and Washington align export controls on advanced AI chips.",
    published=T0,
    sources=(
        Source("Politico Europe", "https://politico.eu/article/ai-chips"),
        Source("Euractiv", "https://euractiv.com/ai-chips"),
        Source("Reuters", None),
    ),
    jurisdictions=("EU", "US"),
    topics=("export-controls", "international-cooperation"),
    instruments=("EU AI Act",),
    score=0.9,
)


def test_discord_alert_exact_structure() -> None:
    assert discord_alert(STORY) == {
        "content": "🇪🇺 EU, 🇺🇸 US · Export controls",
        "embeds": [
            {
                "title": "EU & US agree on AI chip export rules",
                "url": "https://politico.eu/article/ai-chips",
                "color": 0xDD6B20,
                "timestamp": "2026-03-04T09:30:00+00:00",
                "description": (
                    "Brussels and Washington align export controls on advanced AI chips."
                ),
                "fields": [
                    {"name": "Jurisdictions", "value": "🇪🇺 EU, 🇺🇸 US", "inline": True},
                    {
                        "name": "Topics",
                        "value": "Export controls, International cooperation",
                        "inline": True,
                    },
                    {"name": "Instrument", "value": "EU AI Act", "inline": True},
                    {
                        "name": "Sources",
                        "value": "[Politico Europe](https://politico.eu/article/"
                        "ai-chips), [Euractiv](https://euractiv.com/ai-chips), Reuters",
                        "inline": False,
                    },
                ],
                "footer": {"text": "policybot · story 42"},
            }
        ],
        "allowed_mentions": {"parse": []},
    }


def test_slack_alert_exact_structure() -> None:
    assert slack_alert(STORY) == {
        "text": "EU &amp; US agree on AI chip export rules (🇪🇺 EU, 🇺🇸 US · Export controls)",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "emoji": True,
                    "text": "EU & US agree on AI chip export rules",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "*<https://politico.eu/article/ai-chips|EU &amp; US agree on AI chip"
                        " export rules>*\nBrussels and Washington align export controls on"
                        " advanced AI chips."
                    ),
                },
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "🇪🇺 EU, 🇺🇸 US"},
                    {"type": "mrkdwn", "text": "Export controls, International cooperation"},
                    {"type": "mrkdwn", "text": "EU AI Act"},
                    {
                        "type": "mrkdwn",
                        "text": "<https://politico.eu/article/ai-chips|Politico "
                        "Europe>, <https://euractiv.com/ai-chips|Euractiv>, "
                        "Reuters",
                    },
                    {"type": "mrkdwn", "text": "2026-03-04 09:30 UTC"},
                ],
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def test_console_alert() -> None:
    assert console_alert(STORY).splitlines() == [
        "EU & US agree on AI chip export rules",
        "https://politico.eu/article/ai-chips",
        "Tags: 🇪🇺 EU, 🇺🇸 US · Export controls, International cooperation · EU AI Act",
        "Sources: Politico Europe, Euractiv, Reuters",
        "Published: 2026-03-04 09:30 UTC · story 42",
        "Brussels and Washington align export controls on advanced AI chips.",
    ]


def test_many_sources_end_with_plus_n_more() -> None:
    post = StoryPost(
        1,
        "t",
        None,
        "",
        T0,
        sources=tuple(Source(f"Feed {i}", f"https://f{i}.example/") for i in range(9)),
    )
    field = discord_alert(post)["embeds"][0]["fields"][-1]
    assert field["name"] == "Sources"
    assert field["value"].endswith(", +4 more") and field["value"].count("](") == 5
    context = slack_alert(post)["blocks"][2]["elements"]
    assert any(e["text"].endswith(", +4 more") for e in context)
    assert "Feed 0, Feed 1, Feed 2, Feed 3, Feed 4, +4 more" in console_alert(post)


def test_story_without_url_or_with_a_hostile_url() -> None:
    for url in (
        None,
        "",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "https://user:pw@evil.example/",
    ):
        post = StoryPost(7, "No link here", url, "Summary", T0, sources=(Source("Feed", url),))
        d = discord_alert(post)
        assert "url" not in d["embeds"][0]
        assert d["embeds"][0]["title"] == "No link here"
        assert discord_links(d) == []
        assert validate_discord_message(d) == []
        s = slack_alert(post)
        assert s["blocks"][1]["text"]["text"] == "*No link here*\nSummary"
        assert slack_links(s) == []
        assert validate_slack_message(s) == []
        assert console_alert(post).splitlines()[1] == "(no link)"
        for payload in discord_digest(Digest("d", T0, T0, (post,))):
            assert discord_links(payload) == [] and validate_discord_message(payload) == []
        for payload in slack_digest(Digest("d", T0, T0, (post,))):
            assert slack_links(payload) == [] and validate_slack_message(payload) == []


def test_untitled_and_naive_dates() -> None:
    post = StoryPost(3, "  \n ", "https://a.example/", "", datetime(2026, 1, 2, 3, 4))
    d = discord_alert(post)
    assert d["embeds"][0]["title"] == "(untitled)"
    assert d["embeds"][0]["timestamp"] == "2026-01-02T03:04:00+00:00"
    assert "description" not in d["embeds"][0]
    assert d["content"] == "New AI-governance story"
    assert validate_discord_message(d) == []
    assert validate_slack_message(slack_alert(post)) == []


def test_hostile_alert_is_neutralised() -> None:
    hostile = (
        "@everyone <@123> <@&9> <!channel> [click](https://evil.example) "
        "https://evil.example/x ```x``` # head"
    )
    post = StoryPost(
        5,
        hostile,
        "https://ok.example/",
        hostile,
        T0,
        sources=(Source(hostile, "https://ok.example/s"),),
        jurisdictions=("<@1>", "EU"),
        topics=("@here",),
        instruments=(hostile,),
    )
    allowed = allowed_links([post])
    d = discord_alert(post)
    assert validate_discord_message(d) == [] and live_mentions(d) == []
    assert bad_links(discord_links(d), allowed) == []
    assert all("```" not in s for s in discord_strings(d))
    s = slack_alert(post)
    assert validate_slack_message(s) == [] and live_mentions(s, "slack") == []
    assert bad_links(slack_links(s), allowed) == []
    assert "\x1b" not in console_alert(StoryPost(6, "a\x1b[2Jb", None, "", T0))


# -- digests ----------------------------------------------------------------------------------

JURIS = ["EU", "US", "CN", "GB", "INTL", "JP", "KR", "IN"]
TOPICS = ["legislation", "regulation", "export-controls", "standards-safety", "other-policy"]


def _digest(n: int, seed: int = 1) -> Digest:
    rnd = random.Random(seed)
    stories = []
    for i in range(n):
        js = tuple(rnd.sample(JURIS, rnd.randint(0, 3)))
        ts = tuple(rnd.sample(TOPICS, rnd.randint(0, 2)))
        srcs = tuple(
            Source(f"Feed {k}", f"https://feed{k}.example/{i}") for k in range(rnd.randint(0, 6))
        )
        stories.append(
            StoryPost(
                story_id=1000 + i,
                title=f"Story {i:04d}: "
                + " ".join(
                    rnd.choice(["AI", "rules", "<@1>", "@here", "export", "&", "law"])
                    for _ in range(rnd.randint(3, 40))
                ),
                url=f"https://news.example/story/{i}" if i % 7 else None,
                summary="summary",
                published=T0 - timedelta(minutes=i),
                sources=srcs,
                jurisdictions=js,
                topics=ts,
                instruments=("EU AI Act",) if i % 5 == 0 else (),
            )
        )
    return Digest("AI governance digest", T0 - timedelta(days=1), T0, tuple(stories))


def _titles_once(texts: list[str], n: int) -> None:
    seen = Counter(re.findall(r"Story (\d{4})\b", "\n".join(texts)))
    assert seen == Counter({f"{i:04d}": 1 for i in range(n)})


def test_discord_digest_of_300_stories() -> None:
    digest = _digest(300)
    msgs = discord_digest(digest)
    assert len(msgs) > 1
    allowed = allowed_links(digest.stories)
    for i, m in enumerate(msgs):
        assert validate_discord_message(m) == [], i
        assert live_mentions(m) == []
        assert bad_links(discord_links(m), allowed) == []
        assert m["content"].endswith(f"(part {i + 1}/{len(msgs)})")
    assert msgs[0]["content"].startswith(
        "**AI governance digest** · 3 Mar 2026 – 4 Mar 2026 · 300 stories in "
    )
    descriptions = [e["description"] for m in msgs for e in m["embeds"]]
    _titles_once(descriptions, 300)
    # Each story is a line under its first jurisdiction: counts in the titles add up.
    firsts = [e["title"] for m in msgs for e in m["embeds"] if "continued" not in e["title"]]
    counts = {t.rsplit(" (", 1)[0]: int(t.rsplit(" (", 1)[1].rstrip(")")) for t in firsts}
    assert sum(counts.values()) == 300
    expected_eu = sum(1 for p in digest.stories if p.jurisdictions[:1] == ("EU",))
    assert counts["🇪🇺 EU"] == expected_eu
    # Continued embeds repeat the jurisdiction.
    assert any("continued" in e["title"] for m in msgs for e in m["embeds"])


def test_slack_digest_of_300_stories() -> None:
    digest = _digest(300)
    msgs = slack_digest(digest)
    assert len(msgs) > 1
    allowed = allowed_links(digest.stories)
    for i, m in enumerate(msgs):
        assert validate_slack_message(m) == [], i
        assert blocks_json_len(m["blocks"]) <= 12_000
        assert live_mentions(m, "slack") == []
        assert bad_links(slack_links(m), allowed) == []
        assert m["text"].endswith(f"(part {i + 1}/{len(msgs)})")
        assert m["unfurl_links"] is False and m["unfurl_media"] is False
    sections = [b["text"]["text"] for m in msgs for b in m["blocks"] if b["type"] == "section"]
    _titles_once(sections, 300)
    headers = [b["text"]["text"] for m in msgs for b in m["blocks"] if b["type"] == "header"]
    assert headers[0] == "AI governance digest"
    counts = [re.search(r"\((\d+)\)$", h) for h in headers[1:]]  # not the "continued" ones
    assert sum(int(m.group(1)) for m in counts if m) == 300


def test_console_digest_of_300_stories() -> None:
    text = console_digest(_digest(300))
    _titles_once([text], 300)
    assert text.splitlines()[0].startswith(
        "AI governance digest · 3 Mar 2026 – 4 Mar 2026 · 300 stories in "
    )


def test_digest_of_thousands_of_stories() -> None:
    digest = _digest(3000, seed=7)
    for m in discord_digest(digest):
        assert validate_discord_message(m) == []
    slack = slack_digest(digest)
    for m in slack:
        assert validate_slack_message(m) == []
    _titles_once([json.dumps(slack, ensure_ascii=False)], 3000)


def test_digest_lists_a_duplicated_story_once() -> None:
    post = StoryPost(1, "Same story", "https://a.example/", "", T0, jurisdictions=("EU",))
    msgs = discord_digest(Digest("d", T0, T0, (post, post)))
    assert msgs[0]["embeds"][0]["title"] == "🇪🇺 EU (1)"
    assert str(msgs).count("Same story") == 1


def test_digest_grouping_and_tags() -> None:
    a = StoryPost(
        1, "A", "https://a.example/", "", T0, jurisdictions=("EU", "US"), topics=("regulation",)
    )
    b = StoryPost(
        2, "B", "https://b.example/", "", T0, jurisdictions=("EU",), topics=("export-controls",)
    )
    c = StoryPost(
        3, "C", "https://c.example/", "", T0, jurisdictions=("US",), topics=("export-controls",)
    )
    d = StoryPost(4, "D", None, "", T0)
    msgs = discord_digest(Digest("Weekly", T0, T0, (a, b, c, d)))
    assert len(msgs) == 1
    assert msgs[0]["content"] == "**Weekly** · 4 Mar 2026 · 4 stories in 3 jurisdictions"
    embeds = msgs[0]["embeds"]
    assert [e["title"] for e in embeds] == ["🇪🇺 EU (2)", "🇺🇸 US (1)", "🌍 Unspecified (1)"]
    assert embeds[0]["description"] == (
        "**Regulation (1)**\n• [A](https://a.example/) — also 🇺🇸 US\n\n"
        "**Export controls (1)**\n• [B](https://b.example/)"
    )
    assert embeds[2]["description"] == "**Other (1)**\n• D"
    slack = slack_digest(Digest("Weekly", T0, T0, (a, b, c, d)))
    assert len(slack) == 1
    assert [b["text"]["text"] for b in slack[0]["blocks"] if b["type"] == "header"] == [
        "Weekly",
        "🇪🇺 EU (2)",
        "🇺🇸 US (1)",
        "🌍 Unspecified (1)",
    ]
    assert slack[0]["blocks"][1]["elements"][0]["text"] == (
        "4 Mar 2026 · 4 stories in 3 jurisdictions"
    )
    sections = [b["text"]["text"] for b in slack[0]["blocks"] if b["type"] == "section"]
    assert sections[0] == "*Regulation (1)*\n• <https://a.example/|A> — also 🇺🇸 US"


def test_empty_digest() -> None:
    empty = Digest("AI governance digest", T0 - timedelta(days=1), T0)
    d = discord_digest(empty)
    assert d == [
        {
            "content": "**AI governance digest** · 3 Mar 2026 – 4 Mar 2026: no new items.",
            "embeds": [],
            "allowed_mentions": {"parse": []},
        }
    ]
    assert validate_discord_message(d[0]) == []
    s = slack_digest(empty)
    assert len(s) == 1 and validate_slack_message(s[0]) == []
    assert "no new items" in s[0]["text"]
    assert console_digest(empty) == "AI governance digest · 3 Mar 2026 – 4 Mar 2026: no new items."


def test_huge_single_story_texts_fit() -> None:
    post = StoryPost(
        9,
        "T" * 10_000,
        "https://a.example/" + "p" * 1900,
        "S " * 10_000,
        T0,
        sources=tuple(Source("N" * 500, "https://s.example/" + "q" * 1900) for _ in range(50)),
        jurisdictions=tuple(f"X{i}" for i in range(100)),
        topics=("regulation",) * 50,
        instruments=("I" * 3000,) * 20,
    )
    assert validate_discord_message(discord_alert(post)) == []
    assert validate_slack_message(slack_alert(post)) == []
    more = [
        StoryPost(10 + i, "T" * 5000, post.url, "", T0, post.sources, post.jurisdictions)
        for i in range(30)
    ]
    digest = Digest("D" * 5000, T0, T0, (post, *more))
    for m in discord_digest(digest):
        assert validate_discord_message(m) == []
    for m in slack_digest(digest):
        assert validate_slack_message(m) == []


# -- validators -------------------------------------------------------------------------------


def _embed(**kw: Any) -> dict[str, Any]:
    return {"title": "t", **kw}


def test_discord_validator_reports_each_limit() -> None:
    ok: dict[str, Any] = {"content": "x", "embeds": [], "allowed_mentions": {"parse": []}}
    assert validate_discord_message(ok) == []
    cases: list[dict[str, Any]] = [
        {**ok, "content": "x" * 2001},
        {**ok, "embeds": [_embed()] * 11},
        {**ok, "embeds": [_embed(title="t" * 257)]},
        {**ok, "embeds": [_embed(description="d" * 4097)]},
        {**ok, "embeds": [_embed(description="d" * 4000), _embed(description="d" * 2000)]},
        {**ok, "embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        {**ok, "embeds": [_embed(fields=[{"name": "n", "value": "v" * 1025}])]},
        {**ok, "embeds": [_embed(fields=[{"name": "", "value": "v"}])]},
        {**ok, "embeds": [_embed(footer={"text": "f" * 2049})]},
        {**ok, "embeds": [_embed(url="javascript:alert(1)")]},
        {**ok, "embeds": [_embed(timestamp="yesterday")]},
        {**ok, "embeds": [_embed(color=-1)]},
        {**ok, "content": "😀" * 1001},  # 2002 UTF-16 units
        {"content": "x"},
        {**ok, "allowed_mentions": {"parse": ["everyone"]}},
        {**ok, "content": " "},
    ]
    for case in cases:
        assert validate_discord_message(case) != [], case


def test_slack_validator_reports_each_limit() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    ok: dict[str, Any] = {"text": "x", "blocks": [section]}
    assert validate_slack_message(ok) == []
    cases: list[dict[str, Any]] = [
        {"text": "x", "blocks": [section] * 51},
        {
            "text": "x",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        },
        {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
        {
            "text": "x",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}],
        },
        {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]},
        {"text": "x", "blocks": [{"type": "context", "elements": []}]},
        {
            "text": "x",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 2900}}] * 5,
        },
        {"text": "x" * 40_001},
        {"blocks": []},
        {"text": "x", "blocks": [{"type": "bogus"}]},
    ]
    for case in cases:
        assert validate_slack_message(case) != [], case


def test_mentions_in_slack_plain_text_are_broken() -> None:
    post = StoryPost(1, "<!channel> news", None, "", T0)
    header = slack_alert(post)["blocks"][0]["text"]["text"]
    assert header == f"<{ZWSP}!channel> news"
    assert list(slack_strings(slack_alert(post)))
