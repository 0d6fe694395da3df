"""Property tests: random and hostile stories and digests -> every rendered message passes
the validator, pings no one and links only to the stories' own safe URLs."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms import (
    console_alert,
    console_digest,
    discord_alert,
    discord_digest,
    discord_escape,
    safe_link,
    slack_alert,
    slack_digest,
    truncate,
    validate_discord_message,
    validate_slack_message,
)
from bot.platforms.text import ELLIPSIS, platform_len, slack_text
from bot.types import Digest, Source, StoryPost
from bot.verdict import TOPICS
from tests.deliver.test_render_checks import (
    allowed_links,
    bad_links,
    discord_links,
    live_mentions,
    slack_links,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DIGEST_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = [
    "@everyone",
    "@here",
    "@channel",
    "<@123456789012345678>",
    "<@!1>",
    "<@&42>",
    "<#99>",
    "</ban:1>",
    "</policy search:12>",
    "<t:1700000000:R>",
    "<a:x:1>",
    "<!channel>",
    "<!here>",
    "<!subteam^S1>",
    "<@U123>",
    "<#C1|general>",
    "<http://evil.example|click>",
    "<javascript:alert(1)|x>",
    "[x](javascript:alert(1))",
    "[click](https://evil.example)",
    "https://evil.example/p?q=1",
    "HTTP://EVIL.EXAMPLE",
    "www.evil.example",
    "evil.com",
    "discord.gg/abc",
    "mailto:a@b.example",
    "```",
    "`",
    "**",
    "__",
    "~~",
    "||",
    "\\",
    "\\\\",
    "> quote",
    ">>> q",
    "# head",
    "-# sub",
    "1. item",
    "- item",
    "\n# head\n",
    "\n- item",
    "&amp;",
    "&lt;!channel&gt;",
    "&",
    "<",
    ">",
    "|",
    "]",
    "(",
    ")",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\x1b[31m",
    "\x00",
    "\r\n",
    "\t",
    "🇪🇺",
    "👨‍👩‍👧",
    "e\u0301",
    "مرحبا بالعالم",
    "שלום",
    "中文标题",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "a" * 50,
]
# Any code point but surrogates (feeds are decoded text), astral, RTL and zero-width included.
chars = st.characters(exclude_categories=["Cs"])
text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(chars, max_size=30)), max_size=20).map(
    " ".join
)
long_text = st.one_of(
    text,
    st.tuples(text, st.integers(1, 300)).map(lambda t: t[0] * t[1]),
    st.just("😀" * 3000),
    st.just("<@1>" * 2000),
    st.just("&" * 5000),
    st.just("x" * 9000),
)
urls = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "https://example.org/a",
            "http://example.org/b?x=1&y=2",
            "https://example.org/(x)",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:x",
            "https://a b",
            "https://user:pw@evil.example/",
            "ftp://x",
            "https://ex.org/a|b>c",
            "https://ex.org/\u202ex",
            "https://bücher.example/ä",
            "https://[::1]/",
            "https://example.org/" + "p" * 1990,
            "  https://pad.example/  ",
            "https://ex.org/<@1>",
            "https://ex.org/)](javascript:x)",
        ]
    ),
    st.text(chars, max_size=40).map(lambda s: "https://example.org/" + s),
    st.text(chars, max_size=40),
)
jurisdictions = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "EU",
                "US",
                "CN",
                "GB",
                "UK",
                "INTL",
                "JP",
                "zz",
                "",
                "<@1>",
                "@everyone",
                "A" * 300,
                "🇪🇺",
            ]
        ),
        text,
    ),
    max_size=6,
)
topics = st.lists(st.one_of(st.sampled_from([*TOPICS, "@here", "", "x" * 500]), text), max_size=4)
dates = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14))]
        ),
    ),
)


@st.composite
def story_posts(
    draw: st.DrawFn, ids: st.SearchStrategy[int] = st.integers(1, 10**12), big: bool = True
) -> StoryPost:
    t = long_text if big else text
    return StoryPost(
        story_id=draw(ids),
        title=draw(t),
        url=draw(urls),
        summary=draw(t),
        published=draw(dates),
        sources=tuple(draw(st.lists(st.builds(Source, text, urls), max_size=12 if big else 4))),
        jurisdictions=tuple(draw(jurisdictions)),
        topics=tuple(draw(topics)),
        instruments=tuple(draw(st.lists(text, max_size=5))),
        score=draw(st.floats(0, 1)),
        language=draw(st.none() | st.sampled_from(["en", "zh", "ar"])),
    )


def _check_discord(messages: list[dict[str, Any]], posts: list[StoryPost]) -> None:
    allowed = allowed_links(posts)
    for m in messages:
        assert validate_discord_message(m) == []
        assert live_mentions(m) == []
        assert bad_links(discord_links(m), allowed) == []


def _check_slack(messages: list[dict[str, Any]], posts: list[StoryPost]) -> None:
    allowed = allowed_links(posts)
    for m in messages:
        assert validate_slack_message(m) == []
        assert live_mentions(m, "slack") == []
        assert bad_links(slack_links(m), allowed) == []
        assert m["unfurl_links"] is False and m["unfurl_media"] is False


@SETTINGS
@given(story_posts())
def test_alerts_are_valid_and_harmless(post: StoryPost) -> None:
    _check_discord([discord_alert(post)], [post])
    _check_slack([slack_alert(post)], [post])
    out = console_alert(post)
    assert "\x1b" not in out and "\x00" not in out and "\u202e" not in out
    url = safe_link(post.url)
    assert out.splitlines()[1] == (url or "(no link)")


@DIGEST_SETTINGS
@given(st.lists(story_posts(ids=st.integers(1, 40), big=False), max_size=40), text, dates, dates)
def test_digests_are_valid_harmless_and_list_each_story_once(
    posts: list[StoryPost], title: str, start: datetime, end: datetime
) -> None:
    digest = Digest(title, start, end, tuple(posts))
    unique = len({p.story_id for p in posts})
    d = discord_digest(digest)
    _check_discord(d, posts)
    s = slack_digest(digest)
    _check_slack(s, posts)
    # Story lines start with "• " (titles are folded onto one line, so only ours do).
    d_lines = [
        ln
        for m in d
        for e in m["embeds"]
        for ln in e.get("description", "").split("\n")
        if ln.startswith("• ")
    ]
    s_lines = [
        ln
        for m in s
        for b in m["blocks"]
        if b["type"] == "section"
        for ln in b["text"]["text"].split("\n")
        if ln.startswith("• ")
    ]
    assert len(d_lines) == unique and len(s_lines) == unique
    for msgs, key in ((d, "content"), (s, "text")):
        if len(msgs) > 1:
            for i, m in enumerate(msgs):
                assert f"(part {i + 1}/{len(msgs)})" in m[key]
        if not posts:
            assert len(msgs) == 1 and "no new items" in str(msgs[0][key])
    c = console_digest(digest)
    assert sum(1 for ln in c.splitlines() if ln.startswith("    • ")) == unique


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(story_posts(big=False), min_size=1, max_size=12), st.integers(150, 500))
def test_big_hostile_digests_split_into_valid_messages(samples: list[StoryPost], n: int) -> None:
    # Hundreds of stories, cheaply: hostile samples repeated under distinct ids.
    posts = [replace(samples[i % len(samples)], story_id=i) for i in range(n)]
    digest = Digest("Digest", posts[0].published, posts[-1].published, tuple(posts))
    d = discord_digest(digest)
    _check_discord(d, posts)
    s = slack_digest(digest)
    _check_slack(s, posts)
    d_lines = sum(
        e["description"].count("\n• ") + e["description"].startswith("• ")
        for m in d
        for e in m["embeds"]
    )
    assert d_lines == n


@SETTINGS
@given(long_text, st.integers(0, 5000))
def test_truncate_respects_the_limit_and_stays_clean(raw: str, limit: int) -> None:
    for escaped, backslash_escapes in ((discord_escape(raw), True), (slack_text(raw), False)):
        out = truncate(escaped, limit)
        assert platform_len(out) <= limit
        out.encode("utf-16-le")  # no half surrogate pair
        if out != escaped:
            assert out == "" or out.endswith(ELLIPSIS)
            body = out.removesuffix(ELLIPSIS)
            assert escaped.startswith(body)
            tail = re.search(r"&[a-zA-Z#0-9]*$", body)  # the cut is never inside an entity
            assert not tail or not re.match(r"&#?[a-zA-Z0-9]+;", escaped[tail.start() :])
            if backslash_escapes:  # Discord: never half of "\\\\" or "\\*"
                assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


@SETTINGS
@given(st.one_of(urls, st.text(chars, max_size=60)))
def test_safe_link_only_yields_clean_http_urls(url: str | None) -> None:
    out = safe_link(url)
    if out is not None:
        assert re.fullmatch(r"https?://[\x21-\x7e]+", out)
        assert not set(out) & set("<>|\"'`\\{}^()")
        assert "@" not in out.split("://", 1)[1].split("/", 1)[0]
        assert safe_link(out) == out


def test_story_ids_counted_once_even_when_repeated() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    posts = [StoryPost(i % 7, f"Story {i % 7}", None, "", t0) for i in range(50)]
    d = discord_digest(Digest("D", t0, t0, tuple(posts)))
    counts = Counter(re.findall(r"Story (\d)", str(d)))
    assert counts == Counter({str(i): 1 for i in range(7)})
