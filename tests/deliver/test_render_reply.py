"""Reply renderers (Discord interaction JSON, Slack Block Kit): any reply stays within the
platforms' limits, pings no one and links nowhere but http(s)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.types import Reply, Table
from bot.deliver.render.reply import (
    DISCORD_MAX_MESSAGES,
    EPHEMERAL_FLAG,
    SLACK_MAX_MESSAGES,
    all_text,
    discord_interaction_response,
    discord_reply,
    discord_text,
    fit,
    link_target,
    slack_reply,
    slack_text,
    utf16_len,
)
from bot.deliver.types import Source, StoryPost

DISCORD_MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>|</[\w -]+:\d+>")
# A masked link whose target is not http(s); a bare one too.
DISCORD_BAD_LINK = re.compile(r"\]\(\s*(?!https?://)", re.IGNORECASE)
SLACK_ANGLE = re.compile(r"<([^>]*)>")
SLACK_MASS = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)

HOSTILE_BITS = [
    "@everyone", "@here", "<@123456789012345678>", "<@!1>", "<@&42>", "<#99>", "<!channel>",
    "<!here>", "<@U123>", "<#C1|general>", "[x](javascript:alert(1))", "<javascript:x|y>",
    "</ban:1>", "&lt;!channel&gt;", "```", "**", "\\", "\u202e", "||spoiler||", "> quote",
    "# head", "https://ok.example/a", "\U0001f600" * 3, "a" * 50,
]

text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=40)), max_size=30
).map(" ".join)
# Long texts by repetition: cheap to generate, still past every limit.
long_text = st.one_of(
    text,
    st.tuples(text, st.integers(1, 400)).map(lambda t: t[0] * t[1]),
    st.just("\U0001f600" * 2500),
    st.just("<@1>" * 1500),
)
urls = st.one_of(
    st.none(),
    st.sampled_from(["https://example.org/a", "http://example.org/b?x=1&y=<2>",
                     "javascript:alert(1)", "data:text/html,hi", "https://a b",
                     "https://user:pw@evil.example/", "ftp://x", "https://ex.org/a|b>c",
                     "https://ex.org/(x)"]),
)


@st.composite
def story_posts(draw: st.DrawFn) -> StoryPost:
    return StoryPost(
        story_id=draw(st.integers(1, 10**9)),
        title=draw(long_text),
        url=draw(urls),
        summary=draw(long_text),
        published=datetime(2026, 11, 20, tzinfo=UTC),
        sources=tuple(Source(draw(text), draw(urls)) for _ in range(draw(st.integers(0, 4)))),
        jurisdictions=tuple(draw(st.lists(st.sampled_from(["EU", "US", "CN", "<@1>"]),
                                          max_size=3))),
        topics=tuple(draw(st.lists(st.sampled_from(["legislation", "@here"]), max_size=2))),
    )


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    table = None
    if draw(st.booleans()):
        cols = tuple(draw(st.lists(text, min_size=1, max_size=6)))
        rows = tuple(tuple(draw(text) for _ in cols) for _ in range(draw(st.integers(0, 12))))
        table = Table(cols, rows)
    page = draw(st.integers(1, 5))
    return Reply(
        title=draw(long_text),
        text=draw(long_text),
        stories=tuple(draw(st.lists(story_posts(), max_size=12))),
        table=table,
        error=draw(st.booleans()),
        ephemeral=draw(st.booleans()),
        page=page,
        has_more=draw(st.booleans()),
        more_args={"query": draw(text), "page": page + 1},
        notices=tuple(draw(st.lists(text, max_size=3))),
    )


def _discord_strings(payload: dict[str, Any]) -> list[str]:
    out = [payload.get("content", "")]
    for e in payload.get("embeds", ()):
        out += [e.get("title", ""), e.get("description", ""),
                e.get("footer", {}).get("text", ""), e.get("author", {}).get("name", "")]
        for f in e.get("fields", ()):
            out += [f["name"], f["value"]]
    return out


def check_discord(messages: list[dict[str, Any]]) -> None:
    assert 1 <= len(messages) <= DISCORD_MAX_MESSAGES
    for m in messages:
        assert m["allowed_mentions"] == {"parse": []}
        assert utf16_len(m.get("content", "")) <= 2000
        embeds = m.get("embeds", [])
        assert len(embeds) <= 10
        assert m.get("content") or embeds
        total = 0
        for e in embeds:
            assert utf16_len(e.get("title", "")) <= 256
            assert utf16_len(e.get("description", "")) <= 4096
            assert utf16_len(e.get("footer", {}).get("text", "")) <= 2048
            assert len(e.get("fields", ())) <= 25
            if "url" in e:
                assert re.match(r"^https?://[^\s@]+$", e["url"]), e["url"]
            total += sum(utf16_len(s) for s in _discord_strings({"embeds": [e]}))
        assert total <= 6000
        for s in _discord_strings(m):
            assert not DISCORD_MENTION.search(s), s
            assert not DISCORD_BAD_LINK.search(s), s
            assert "\u202e" not in s


def _without_button_values(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_button_values(v) for k, v in node.items() if k != "value"}
    if isinstance(node, list):
        return [_without_button_values(v) for v in node]
    return node


def check_slack(messages: list[dict[str, Any]]) -> None:
    assert 1 <= len(messages) <= SLACK_MAX_MESSAGES
    for m in messages:
        assert m["response_type"] in ("ephemeral", "in_channel")
        assert utf16_len(m["text"]) <= 3000
        blocks = m["blocks"]
        assert len(blocks) <= 50
        assert len(json.dumps(blocks, ensure_ascii=False)) <= 13_000
        for b in blocks:
            if b["type"] == "header":
                assert utf16_len(b["text"]["text"]) <= 150
                assert b["text"]["type"] == "plain_text"
            if b["type"] == "section":
                assert utf16_len(b["text"]["text"]) <= 3000
            if b["type"] == "actions":
                for el in b["elements"]:
                    assert len(el["value"]) <= 2000
        mrkdwn = [m["text"]] + [
            s for b in blocks if b["type"] in ("section", "context") for s in all_text(b)
        ]
        for s in mrkdwn:
            for inner in SLACK_ANGLE.findall(s):
                # The only <...> we emit is a link to an http(s) URL.
                assert re.match(r"^https?://[^\s|<>]+\|", inner), inner
            assert not SLACK_MASS.search(s), s
            assert "\u202e" not in s
        for s in all_text(_without_button_values(blocks)):  # values are data, never shown
            assert not SLACK_MASS.search(s), s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(replies())
def test_any_reply_renders_within_discord_limits(reply: Reply) -> None:
    messages = discord_reply(reply)
    check_discord(messages)
    eph = reply.ephemeral or reply.error
    assert all(bool(m.get("flags", 0) & EPHEMERAL_FLAG) is eph for m in messages)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(replies())
def test_any_reply_renders_within_slack_limits(reply: Reply) -> None:
    messages = slack_reply(reply, owner="U1")
    check_slack(messages)
    eph = reply.ephemeral or reply.error
    assert all((m["response_type"] == "ephemeral") is eph for m in messages)


def _story(i: int, **kw: Any) -> StoryPost:
    values: dict[str, Any] = dict(
        story_id=i, title=f"Story {i}", url=f"https://example.org/{i}", summary="s",
        published=datetime(2026, 11, 20, tzinfo=UTC), jurisdictions=("EU",),
        topics=("legislation",), sources=(Source("Politico Europe", None),))
    values.update(kw)
    return StoryPost(**values)


def test_hostile_text_is_shown_not_obeyed() -> None:
    reply = Reply(title="@everyone", text="<@123456789012345678> [x](javascript:alert(1))",
                  stories=(_story(1, title="<!channel> <@U1> hi", url="javascript:alert(1)"),))
    (d,) = discord_reply(reply)
    assert "javascript" not in d["embeds"][1].get("url", "")
    assert "url" not in d["embeds"][1]
    desc = d["embeds"][0]["description"]
    assert "123456789012345678" in desc  # the text is still readable
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in desc  # shown literally, not as a link
    (s,) = slack_reply(reply)
    blob = json.dumps(s, ensure_ascii=False)
    assert "&lt;!channel&gt; &lt;@U1&gt; hi" in blob
    assert "<javascript" not in blob


def test_story_links_titles_and_meta() -> None:
    post = _story(7, title="EU *adopts* the AI Act", url="https://example.org/a_(b)")
    (d,) = discord_reply(Reply(title="Search", stories=(post,)))
    e = d["embeds"][1]
    assert e["title"] == "EU \\*adopts\\* the AI Act"
    assert e["url"] == "https://example.org/a_%28b%29"
    assert "#7" in e["description"] and "European Union" in e["description"]
    (s,) = slack_reply(Reply(title="Search", stories=(post,)))
    section = s["blocks"][1]["text"]["text"]
    assert section.startswith("*<https://example.org/a_%28b%29|EU *adopts* the AI Act>*")


def test_tables_are_one_line_per_row() -> None:
    table = Table(("id", "jurisdictions", "when"), (("3", "EU, CN", "daily"), ("4", "", "x")))
    (d,) = discord_reply(Reply(title="Subscriptions", text="2 subscriptions", table=table))
    desc = d["embeds"][0]["description"]
    assert desc.splitlines() == ["2 subscriptions", "3 · jurisdictions: EU, CN · when: daily",
                                 "4 · when: x"]


def test_paging_footer_and_buttons() -> None:
    reply = Reply(title="Search", stories=(_story(1),), page=2, has_more=True,
                  more_args={"query": "ai", "page": 3})
    (d,) = discord_reply(reply)
    assert "page 2" in d["embeds"][0]["footer"]["text"]
    (s,) = slack_reply(reply, owner="U9")
    actions = next(b for b in s["blocks"] if b["type"] == "actions")["elements"]
    values = [json.loads(a["value"]) for a in actions]
    assert values == [{"c": "search", "a": {"query": "ai", "page": 1}, "u": "U9"},
                      {"c": "search", "a": {"query": "ai", "page": 3}, "u": "U9"}]
    # a value that would not fit in a button is left out rather than cut
    huge = Reply(title="S", page=1, has_more=True, more_args={"query": "x" * 3000})
    (s2,) = slack_reply(huge)
    assert not [b for b in s2["blocks"] if b["type"] == "actions"]


def test_many_stories_split_and_count_what_was_left_out() -> None:
    reply = Reply(title="Digest", stories=tuple(_story(i, summary="z" * 250)
                                                for i in range(150)))
    d = discord_reply(reply, ephemeral=False)
    assert len(d) == DISCORD_MAX_MESSAGES
    assert "more not shown" in d[-1]["content"]
    shown = sum(len(m["embeds"]) for m in d) - 1  # minus the title embed
    assert str(151 - 1 - shown) in d[-1]["content"]
    s = slack_reply(reply, ephemeral=False)
    assert len(s) == SLACK_MAX_MESSAGES
    assert "more not shown" in json.dumps(s[-1]["blocks"][-1])


def test_interaction_response_wraps_the_first_message() -> None:
    r = discord_interaction_response(Reply(title="Help", text="hi"))
    assert r["type"] == 4
    assert r["data"]["flags"] == EPHEMERAL_FLAG
    assert r["data"]["embeds"][0]["title"] == "Help"


def test_fit_never_cuts_an_escape() -> None:
    s = "*" * 100
    out = fit(s, 51, discord_text)
    assert utf16_len(out) <= 51 and out.endswith("…")
    assert out[:-1] == "\\*" * 25
    assert fit("a & b", 5, slack_text) == "a…"  # "a &amp;…" would not fit
    cut = fit("a & b & c", 8, slack_text)
    assert utf16_len(cut) <= 8 and "&am…" not in cut and cut.endswith("…")


def test_link_target() -> None:
    assert link_target("https://example.org/x?a=1") == "https://example.org/x?a=1"
    for bad in ("javascript:alert(1)", "data:x", "//example.org", "https://a b",
                "https://u:p@evil.example/", "", None, "https://" + "a" * 2100):
        assert link_target(bad) is None
