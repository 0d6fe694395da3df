"""The one-line command parser behind Slack's /policy: forgiving input, clear mistakes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.feedback import NOT_RELEVANT_COMMAND
from bot.commands.handlers import COMMANDS as HANDLERS
from bot.commands.spec import BUTTON_COMMANDS, COMMANDS, needs_admin
from bot.commands.textargs import Parsed, TextArgsError, parse, tokenize, unslack


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "search eu ai act --jurisdiction EU --since 7d",
            Parsed("search", {"query": "eu ai act", "jurisdiction": "EU", "since": "7d"}),
        ),
        (
            "subscribe jurisdictions=CN,EU topics=legislation mode=daily at=09:00 tz=Europe/Berlin",
            Parsed(
                "subscribe",
                {
                    "jurisdictions": ["CN", "EU"],
                    "topics": ["legislation"],
                    "mode": "daily",
                    "at": "09:00",
                    "timezone": "Europe/Berlin",
                },
            ),
        ),
        # the help text's own syntax (key:value) works too
        (
            "search 人工智能 jurisdiction:CN since:7d",
            Parsed("search", {"query": "人工智能", "jurisdiction": "CN", "since": "7d"}),
        ),
        (
            'subscribe keywords:"AI Act" mode:daily',
            Parsed("subscribe", {"keywords": ["AI Act"], "mode": "daily"}),
        ),
        (
            "search \u201cai act\u201d china --share",  # Slack's smart quotes
            Parsed("search", {"query": '"ai act" china', "share": True}),
        ),
        (
            "search children's online safety",
            Parsed("search", {"query": "children's online safety"}),
        ),
        ("search ai --share maybe", Parsed("search", {"query": "ai maybe", "share": True})),
        (
            "search ai --page=2 --share no",
            Parsed("search", {"query": "ai", "page": 2, "share": False}),
        ),
        ("SEARCH  ai   ", Parsed("search", {"query": "ai"})),
        ("find ai", Parsed("search", {"query": "ai"})),
        ("search title:ai", Parsed("search", {"query": "title:ai"})),  # unknown key: a word
        (
            "subscribe --topics legislation --topics regulation,legislation",
            Parsed("subscribe", {"topics": ["legislation", "regulation"]}),
        ),
        ("subscribe mode=d", Parsed("subscribe", {"mode": "daily"})),  # unique prefix
        (
            "feeds add <https://example.org/a.xml|example.org/a.xml> name=\u201cEx AI\u201d",
            Parsed("feeds", {"action": "add", "url": "https://example.org/a.xml", "name": "Ex AI"}),
        ),
        ("feeds", Parsed("feeds", {})),
        ("feeds st", Parsed("feeds", {"action": "status"})),
        (
            "why https://example.org/x?a=1&amp;b=2",
            Parsed("why", {"item": "https://example.org/x?a=1&b=2"}),
        ),
        ("why AI Act vote", Parsed("why", {"item": "AI Act vote"})),
        ("digest 48", Parsed("digest", {"hours": 48})),
        ("unsubscribe all", Parsed("unsubscribe", {"id": "all"})),
        ("subscriptions --all", Parsed("subscriptions", {"all_channels": True})),
        ("search a &lt;b&gt; &amp; c", Parsed("search", {"query": "a <b> & c"})),
        ("", Parsed("help")),
        ("   ", Parsed("help")),
        ("help subscribe", Parsed("help", {"command": "subscribe"})),
        ("search --help", Parsed("help", {"command": "search"})),
        ('search "unclosed quote', Parsed("search", {"query": '"unclosed quote'})),
        (
            'subscribe instruments=eu-ai-act,"US CHIPS and Science Act" min_score=0.6',
            Parsed(
                "subscribe",
                {"instruments": ["eu-ai-act", "US CHIPS and Science Act"], "min_score": 0.6},
            ),
        ),
        (
            "subscribe --min-score 0,75 --instrument eu-ai-act",
            Parsed("subscribe", {"min_score": 0.75, "instruments": ["eu-ai-act"]}),
        ),
        # a feed's name of several words needs no quotes, and quotes do not end up in it
        ("feeds remove My Feed", Parsed("feeds", {"action": "remove", "url": "My Feed"})),
        ('feeds remove "My Feed"', Parsed("feeds", {"action": "remove", "url": "My Feed"})),
        (
            "feeds remove Policy: AI news",
            Parsed("feeds", {"action": "remove", "url": "Policy: AI news"}),
        ),
    ],
)
def test_parse(text: str, expected: Parsed) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "suggestion"),
    [
        ("serch ai", "Unknown command `serch`", "search"),
        ("eu ai act", "Unknown command `eu`", None),
        ("search x --jurisdction EU", "has no option `jurisdction`", "jurisdiction"),
        ("search x jurisdcition=EU", "has no option `jurisdcition`", "jurisdiction"),
        ("subscribe mode=hourly", "`mode` is one of instant, daily, weekly", None),
        ("search x --page two", "`page` takes a whole number", None),
        ("search x --share=maybe", "`share` is yes or no", None),
        ("search x --since", "`--since` needs a value", None),
        ("why 1 --item", "`--item` needs a value", None),
        ("digest 48 72", "does not take `72`", None),
        ("search x since=", "`since` needs a value", None),
        ("subscribe min_score=high", "`min_score` takes a number", None),
    ],
)
def test_mistakes_say_what_to_do(text: str, message: str, suggestion: str | None) -> None:
    with pytest.raises(TextArgsError) as info:
        parse(text)
    assert message in info.value.message
    if suggestion is not None:
        assert suggestion in info.value.suggestions


def test_tokenize_and_unslack() -> None:
    assert tokenize('a "b c" \'d e\' f""g') == ["a", "b c", "d e", "fg"]
    assert tokenize("it's 'quoted'") == ["it's", "quoted"]
    assert unslack("<https://x.org/a|x.org/a> &amp; <mailto:a@b.c>") == (
        "https://x.org/a & mailto:a@b.c"
    )


def test_spec_matches_the_handlers() -> None:
    # "not-relevant" is the button under alerts, "exclude" the ones it offers: no one types them
    assert set(COMMANDS) == set(HANDLERS) - set(BUTTON_COMMANDS)
    assert set(BUTTON_COMMANDS) == {NOT_RELEVANT_COMMAND, "exclude"}
    assert needs_admin("exclude", {"story": 1}) and not needs_admin(NOT_RELEVANT_COMMAND, {})
    assert needs_admin("subscribe", {}) and needs_admin("unsubscribe", {"id": "1"})
    assert needs_admin("feeds", {"action": "add"}) and needs_admin("feeds", {"action": "remove"})
    assert not needs_admin("feeds", {}) and not needs_admin("search", {"query": "x"})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_explains(text: str) -> None:
    try:
        parsed = parse(text)
    except TextArgsError as exc:
        assert exc.message
        return
    assert parsed.command in COMMANDS
    spec = COMMANDS[parsed.command]
    for key in parsed.args:
        assert spec.option(key) is not None
