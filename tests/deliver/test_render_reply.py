"""Reply renderers (Discord interaction JSON, Slack Block Kit): every reply passes the same
validators as alerts (bot.platforms.limits), pings no one and links only to the stories'
own safe URLs; digest replies are real digests (grouped by jurisdiction, then topic)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.types import Reply, Table
from bot.platforms import validate_discord_message, validate_slack_message
from bot.platforms.discord.reply import (
    DISCORD_MAX_MESSAGES,
    EPHEMERAL_FLAG,
    discord_interaction_response,
    discord_reply,
)
from bot.platforms.reply import fit
from bot.platforms.slack.limits import SLACK_BLOCKS_JSON, blocks_json_len
from bot.platforms.slack.reply import SLACK_MAX_MESSAGES, slack_reply
from bot.platforms.text import ZWSP, discord_escape, platform_len, slack_text
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
from tests.deliver.test_render_property import long_text, story_posts, text

T0 = datetime(2026, 11, 20, tzinfo=UTC)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Hostile, huge, emoji-heavy and CJK stories: mostly small ones (cheap), some huge ones.
stories = st.lists(
    st.one_of(story_posts(big=False), story_posts(big=False), story_posts()), max_size=12
)
emoji_cjk = st.sampled_from(
    ["😀" * 3000, "中文标题" * 800, "👨‍👩‍👧" * 600, "🇪🇺" * 1500, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 500]
)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    table = None
    if draw(st.booleans()):
        cols = tuple(draw(st.lists(text, min_size=1, max_size=6)))
        rows = tuple(tuple(draw(text) for _ in cols) for _ in range(draw(st.integers(0, 12))))
        table = Table(cols, rows)
    page = draw(st.integers(1, 5))
    digest = None
    posts = tuple(draw(stories))
    if draw(st.integers(0, 4)) == 0:
        digest = Digest(draw(text), T0 - timedelta(hours=24), T0, posts)
    return Reply(
        title=draw(st.one_of(long_text, emoji_cjk)),
        text=draw(st.one_of(long_text, emoji_cjk)),
        stories=posts,
        table=table,
        error=draw(st.booleans()),
        ephemeral=draw(st.booleans()),
        page=page,
        has_more=draw(st.booleans()),
        more_args=draw(st.one_of(st.just({}), st.builds(lambda q: {"query": q}, text))),
        notices=tuple(draw(st.lists(text, max_size=3))),
        digest=digest,
    )


def _posts(reply: Reply) -> list[StoryPost]:
    return [*reply.stories, *(reply.digest.stories if reply.digest else ())]


def check_discord(messages: list[dict[str, Any]], posts: list[StoryPost]) -> None:
    assert 1 <= len(messages) <= DISCORD_MAX_MESSAGES
    allowed = allowed_links(posts)
    for m in messages:
        assert validate_discord_message(m) == []
        assert live_mentions(m) == []
        assert bad_links(discord_links(m), allowed) == []
        assert not any("\u202e" in s for s in discord_strings(m))


def check_slack(messages: list[dict[str, Any]], posts: list[StoryPost]) -> None:
    assert 1 <= len(messages) <= SLACK_MAX_MESSAGES
    allowed = allowed_links(posts)
    for m in messages:
        assert m["response_type"] in ("ephemeral", "in_channel")
        assert validate_slack_message(m) == []
        assert live_mentions(m, "slack") == []
        assert bad_links(slack_links(m), allowed) == []
        assert not any("\u202e" in s for s in slack_strings(m))
        for b in m["blocks"]:
            if b["type"] == "actions":
                for el in b["elements"]:
                    assert platform_len(el["value"]) <= 2000


@PROPERTY
@given(replies())
def test_any_reply_renders_valid_harmless_discord_messages(reply: Reply) -> None:
    messages = discord_reply(reply)
    check_discord(messages, _posts(reply))
    eph = reply.ephemeral or reply.error
    assert all(bool(m.get("flags", 0) & EPHEMERAL_FLAG) is eph for m in messages)


@PROPERTY
@given(replies())
def test_any_reply_renders_valid_harmless_slack_messages(reply: Reply) -> None:
    messages = slack_reply(reply, owner="U1")
    check_slack(messages, _posts(reply))
    eph = reply.ephemeral or reply.error
    assert all((m["response_type"] == "ephemeral") is eph for m in messages)


def _story(i: int, **kw: Any) -> StoryPost:
    values: dict[str, Any] = dict(
        story_id=i,
        title=f"Story {i}",
        url=f"https://example.org/{i}",
        summary="s",
        published=T0,
        jurisdictions=("EU",),
        topics=("legislation",),
        sources=(Source("Politico Europe", None),),
    )
    values.update(kw)
    return StoryPost(**values)


def test_emoji_heavy_replies_fit_slack_as_the_validator_counts() -> None:
    # Regression: code points were counted, so this came to ~20,800 UTF-16 units of blocks
    # against the 12,000 budget (msg_blocks_too_long).
    posts = tuple(_story(i, title="😀" * 200, summary="🇪🇺" * 200) for i in range(12))
    reply = Reply(title="Search", text="🤖" * 3000, stories=posts)
    messages = slack_reply(reply)
    assert len(messages) > 1
    for m in messages:
        assert blocks_json_len(m["blocks"]) <= SLACK_BLOCKS_JSON
        assert validate_slack_message(m) == []
    for m in discord_reply(reply):
        assert validate_discord_message(m) == []


FEED_LINKS = (
    "see https://evil.example/x, HTTP://EVIL.EXAMPLE, discord.gg/abc,"
    " slack://open?team=T1, www.evil.example and evil.com"
)


def test_urls_and_invites_in_feed_text_do_not_link_but_the_story_title_does() -> None:
    post = _story(
        3,
        title="AI rules https://evil.example/t",
        url="https://example.org/story",
        summary=FEED_LINKS,
        sources=(Source("discord.gg/src", None),),
    )
    for reply in (
        Reply(title="Search", stories=(post,)),
        Reply(title="Why story 3", text=f"Matched: {FEED_LINKS}", stories=(post,)),
        Reply(
            title="Digest",
            text=FEED_LINKS,
            digest=Digest("Digest", T0, T0, (post,)),
            stories=(post,),
        ),
    ):
        d = discord_reply(reply)
        assert (
            bad_links([u for m in d for u in discord_links(m)], {"https://example.org/story"}) == []
        ), reply.title
        assert "https://example.org/story" in json.dumps(d)
        s = slack_reply(reply)
        links = [u for m in s for u in slack_links(m)]
        assert links and set(links) == {"https://example.org/story"}, reply.title
    # The text is still readable: only invisible breaks were added.
    (m,) = discord_reply(Reply(title="Search", stories=(post,)))
    story_embed = m["embeds"][1]
    assert "discord" + ZWSP + ".gg/abc" in story_embed["description"]
    assert story_embed["url"] == "https://example.org/story"


def test_hostile_text_is_shown_not_obeyed() -> None:
    reply = Reply(
        title="@everyone",
        text="<@123456789012345678> [x](javascript:alert(1))",
        stories=(_story(1, title="<!channel> <@U1> hi", url="javascript:alert(1)"),),
    )
    (d,) = discord_reply(reply)
    assert "url" not in d["embeds"][1]
    desc = d["embeds"][0]["description"]
    assert "123456789012345678" in desc  # the text is still readable
    assert "\\[x\\](javascript:alert(1))" in desc  # shown literally, not as a link
    assert live_mentions(d) == []
    (s,) = slack_reply(reply)
    blob = json.dumps(s, ensure_ascii=False)
    assert "&lt;!channel&gt; &lt;@U1&gt; hi" in blob
    assert "<javascript" not in blob
    assert live_mentions(s, "slack") == []


def test_story_links_titles_and_meta() -> None:
    post = _story(7, title="EU *adopts* the AI Act", url="https://example.org/a_(b)")
    (d,) = discord_reply(Reply(title="Search", stories=(post,)))
    e = d["embeds"][1]
    assert e["title"] == "EU \\*adopts\\* the AI Act"
    assert e["url"] == "https://example.org/a_%28b%29"
    assert "#7" in e["description"] and "🇪🇺 EU" in e["description"]
    assert "Legislation" in e["description"]
    (s,) = slack_reply(Reply(title="Search", stories=(post,)))
    section = s["blocks"][1]["text"]["text"]
    assert section.startswith("*<https://example.org/a_%28b%29|EU *adopts* the AI Act>*")


def test_tables_are_one_line_per_row() -> None:
    table = Table(("id", "jurisdictions", "when"), (("3", "EU, CN", "daily"), ("4", "", "x")))
    (d,) = discord_reply(Reply(title="Subscriptions", text="2 subscriptions", table=table))
    desc = d["embeds"][0]["description"]
    assert desc.splitlines() == [
        "2 subscriptions",
        "3 · jurisdictions: EU, CN · when: daily",
        "4 · when: x",
    ]


def test_paging_footer_and_buttons() -> None:
    reply = Reply(
        title="Search",
        stories=(_story(1),),
        page=2,
        has_more=True,
        more_args={"query": "ai"},
        notices=("only the first 12 words were used",),
    )
    (d,) = discord_reply(reply)
    assert "page 2" in d["embeds"][0]["footer"]["text"]
    assert "Note: only the first 12 words" in d["embeds"][0]["description"]
    (s,) = slack_reply(reply, owner="U9")
    actions = next(b for b in s["blocks"] if b["type"] == "actions")["elements"]
    values = [json.loads(a["value"]) for a in actions]
    assert values == [
        {"c": "search", "a": {"query": "ai", "page": 1}, "u": "U9"},
        {"c": "search", "a": {"query": "ai", "page": 3}, "u": "U9"},
    ]
    # the last page keeps Previous (with the same args), and has no More
    last = Reply(title="Search", stories=(_story(1),), page=3, more_args={"query": "ai"})
    (s,) = slack_reply(last, owner="U9")
    (prev,) = next(b for b in s["blocks"] if b["type"] == "actions")["elements"]
    assert json.loads(prev["value"])["a"] == {"query": "ai", "page": 2}
    # a value that would not fit in a button is left out rather than cut
    huge = Reply(title="S", page=1, has_more=True, more_args={"query": "x" * 3000})
    (s2,) = slack_reply(huge)
    assert not [b for b in s2["blocks"] if b["type"] == "actions"]


def test_many_stories_split_and_count_what_was_left_out() -> None:
    reply = Reply(title="Search", stories=tuple(_story(i, summary="z" * 250) for i in range(150)))
    d = discord_reply(reply, ephemeral=False)
    assert len(d) == DISCORD_MAX_MESSAGES
    assert "more not shown" in d[-1]["content"]
    shown = sum(len(m["embeds"]) for m in d) - 1  # minus the title embed
    assert str(151 - 1 - shown) in d[-1]["content"]
    s = slack_reply(reply, ephemeral=False)
    assert len(s) == SLACK_MAX_MESSAGES
    assert "more not shown" in json.dumps(s[-1]["blocks"][-1])
    for m in s:
        assert validate_slack_message(m) == []


def _digest_reply(posts: tuple[StoryPost, ...]) -> Reply:
    digest = Digest("AI governance digest: last 24 h", T0 - timedelta(hours=24), T0, posts)
    return Reply(
        title=digest.title,
        text=f"{len(posts)} stories in the last 24 h (all flagged stories).",
        stories=posts,
        digest=digest,
        ephemeral=False,
    )


def test_digest_replies_are_grouped_by_jurisdiction_then_topic() -> None:
    posts = (
        _story(1, title="EU law", jurisdictions=("EU",), topics=("legislation",)),
        _story(2, title="EU rule", jurisdictions=("EU",), topics=("regulation",)),
        _story(3, title="EU act", jurisdictions=("EU", "US"), topics=("legislation",)),
        _story(4, title="US chips", jurisdictions=("US",), topics=("export-controls",)),
    )
    reply = _digest_reply(posts)
    (d,) = discord_reply(reply)
    assert "flags" not in d  # posted to the channel
    assert [e["title"] for e in d["embeds"]] == ["🇪🇺 EU (3)", "🇺🇸 US (1)"]
    eu = d["embeds"][0]["description"]
    assert eu.index("**Legislation (2)**") < eu.index("**Regulation (1)**")
    assert "[EU law](https://example.org/1)" in eu
    assert "4 stories in 2 jurisdictions" in d["content"]
    assert "(all flagged stories)" in d["content"]  # the handler's sentence is kept
    s = slack_reply(reply)
    (msg,) = s
    assert msg["response_type"] == "in_channel"
    headers = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "header"]
    assert headers == ["AI governance digest: last 24 h", "🇪🇺 EU (3)", "🇺🇸 US (1)"]
    assert "*Legislation (2)*" in json.dumps(msg["blocks"], ensure_ascii=False)
    assert "(all flagged stories)" in json.dumps(msg["blocks"][1])
    assert validate_discord_message(d) == [] and validate_slack_message(msg) == []


def test_huge_digest_replies_drop_the_oldest_stories_to_fit() -> None:
    posts = tuple(
        _story(
            i,
            title=f"Story {i} " + "w" * 150,
            published=T0 - timedelta(hours=i),
            jurisdictions=(("EU", "US", "CN", "JP")[i % 4],),
            sources=tuple(
                Source(f"Source {j} " + "s" * 60, f"https://example.org/src/{i}/{j}")
                for j in range(3)
            ),
        )
        for i in range(400)
    )
    reply = _digest_reply(posts)
    d = discord_reply(reply)
    s = slack_reply(reply)
    assert len(d) <= DISCORD_MAX_MESSAGES and len(s) <= SLACK_MAX_MESSAGES
    check_discord(d, list(posts))
    check_slack(s, list(posts))
    assert "older stories are not shown" in d[0]["content"]
    assert "older stories are not shown" in json.dumps(s[0]["blocks"])
    blob = json.dumps(s)
    assert "Story 0 " in blob and "Story 399 " not in blob  # the newest are kept


def test_interaction_response_wraps_the_first_message() -> None:
    r = discord_interaction_response(Reply(title="Help", text="hi"))
    assert r["type"] == 4
    assert r["data"]["flags"] == EPHEMERAL_FLAG
    assert r["data"]["embeds"][0]["title"] == "Help"


def test_fit_never_cuts_an_escape() -> None:
    out = fit("*" * 100, 51, discord_escape)
    assert platform_len(out) <= 51 and out.endswith("…")
    assert out[:-1] == "\\*" * 25
    assert fit("a & b", 5, slack_text) == "a…"  # "a &amp;…" would not fit
    cut = fit("a & b & c", 8, slack_text)
    assert platform_len(cut) <= 8 and not re.search(r"&[a-z]*…", cut) and cut.endswith("…")
