"""The renderers' text helpers: escaping, safe links, clean truncation, labels."""

from __future__ import annotations

import re

import pytest

from bot.platforms import (
    JURISDICTION_LABELS,
    TOPIC_COLOURS,
    TOPIC_LABELS,
    discord_escape,
    safe_link,
    slack_escape,
    truncate,
)
from bot.platforms.text import (
    ELLIPSIS,
    ZWSP,
    clean,
    flag,
    jurisdiction_label,
    platform_len,
    slack_plain,
    slack_text,
    topic_label,
)
from bot.verdict import TOPICS
from tests.deliver.test_render_checks import live_mentions

# -- escaping ---------------------------------------------------------------------------------


def test_discord_escape_neutralises_mentions_and_markdown() -> None:
    out = discord_escape("@everyone <@123> <@&4> <#5> </ban:6> <t:1:R> **b** `c` [x](y) ||s||")
    assert live_mentions({"content": out}) == []
    assert "\\*\\*b\\*\\*" in out and "\\`c\\`" in out and "\\|\\|s\\|\\|" in out
    assert "\\[x\\](y)" in out
    assert out.replace(ZWSP, "").replace("\\", "") == (
        "@everyone <@123> <@&4> <#5> </ban:6> <t:1:R> **b** `c` [x](y) ||s||"
    )


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("# Heading", "\\# Heading"),
        ("-# subtext", "\\-# subtext"),
        ("> quote", "\\> quote"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("12. item", "12\\. item"),
        ("a - b > c # d 3. e", "a - b > c # d 3. e"),  # only at the start of a line
        ("x\n# h", "x\n\\# h"),
        ("```code```", "\\`\\`\\`code\\`\\`\\`"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_discord_escape_line_starts_and_code(raw: str, expected: str) -> None:
    assert discord_escape(raw) == expected


def test_discord_escape_breaks_bare_urls_and_invites() -> None:
    raw = "read https://evil.example/x or HTTP://x.example, discord.gg/abc"
    out = discord_escape(raw)
    assert "https://" not in out.lower() and "http://" not in out.lower()
    assert f"https{ZWSP}://evil.example/x" in out
    assert "discord.gg" not in out
    assert out.replace(ZWSP, "") == raw


def test_slack_escape_is_exactly_three_entities() -> None:
    assert slack_escape("<!channel> & <@U1> *b* _i_ ~s~ `c`") == (
        "&lt;!channel&gt; &amp; &lt;@U1&gt; *b* _i_ ~s~ `c`"
    )


def test_slack_text_breaks_links_and_mass_mentions() -> None:
    out = slack_text("@channel see https://evil.example and www.evil.example <http://x|y>")
    assert "<" not in out and "https://" not in out and "www.evil" not in out
    assert "@channel" not in out
    assert out.replace(ZWSP, "") == (
        "@channel see https://evil.example and www.evil.example &lt;http://x|y&gt;"
    )


def test_clean_drops_controls_and_bidi_overrides() -> None:
    assert clean("a\x1b[31mb\u202ec\u2066d\x00e\ud800f") == "a[31mbcdef"
    assert clean("r\r\nn\tt") == "r\nn t"
    assert slack_plain("<!channel>") == f"<{ZWSP}!channel>"


# -- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://example.org/a?b=1&c=2#f", "https://example.org/a?b=1&c=2#f"),
        ("  http://Example.ORG/x  ", "http://example.org/x"),
        ("HTTPS://example.org", "https://example.org"),
        ("https://example.org/wiki/A_(b)", "https://example.org/wiki/A_%28b%29"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("file:///etc/passwd", None),
        ("ftp://example.org/", None),
        ("//example.org/x", None),
        ("https://user:pw@evil.example/", None),
        ("https://a b.example/", None),
        ("https://example.org/a b", None),
        ("https://example.org/a\tb", None),
        ("https://example.org/\u202egnp.exe", None),
        ("https://example.org/a\u200bb", None),
        ("https://example.org/a|b", None),
        ("https://example.org/a>b", None),
        ("https://example.org/a<b", None),
        ('https://example.org/a"b', None),
        ("https://example.org:99999/", None),
        ("https://", None),
        ("https:///path", None),
        ("https://exa_mple..org/", None),
        ("https://" + "a" * 2100 + ".org/", None),
        ("", None),
        (None, None),
        # Near the plain URLs returned as they are: each still gets the full treatment.
        ("https://example.org/a?", "https://example.org/a"),
        ("https://example.org/a#", "https://example.org/a"),
        ("https://example.org./a", "https://example.org./a"),
        ("https://Example.org/a", "https://example.org/a"),
        ("https://example.org:443/a", "https://example.org:443/a"),
        ("https://example.org/a%2Fb~c;d=e", "https://example.org/a%2Fb~c;d=e"),
        ("https://-bad.example/", None),
        ("https://" + "a" * 64 + ".example/", None),
    ],
)
def test_safe_link(url: str | None, expected: str | None) -> None:
    assert safe_link(url) == expected
    if expected is not None:
        assert safe_link(expected) == expected  # a fixed point: validators compare with it


# -- truncation -------------------------------------------------------------------------------


def test_truncate_keeps_short_text() -> None:
    assert truncate("short", 5) == "short"
    assert truncate("", 0) == ""
    assert truncate("toolong", 0) == ""


def test_truncate_at_word_boundary() -> None:
    out = truncate("the quick brown fox jumps over the lazy dog", 20)
    assert out == "the quick brown fox" + ELLIPSIS
    # One long word (or CJK without spaces): cut inside it rather than lose most of the room.
    assert truncate("a " + "x" * 50, 20) == "a " + "x" * 17 + ELLIPSIS


def test_truncate_never_inside_an_entity() -> None:
    text = slack_escape("Tom & Jerry <3 > all " * 10)
    for limit in range(1, len(text)):
        out = truncate(text, limit)
        assert platform_len(out) <= limit
        body = out.removesuffix(ELLIPSIS)
        assert not re.search(r"&[a-z]*$", body), (limit, out)
        assert re.sub(r"&(amp|lt|gt);", "", body).count("&") == 0


def test_truncate_never_splits_surrogates_flags_or_emoji_sequences() -> None:
    text = "🇪🇺🇺🇸🇨🇳" + "😀" * 5 + "👨‍👩‍👧" + "é" * 3 + "𝔘𝔫𝔦"
    for limit in range(1, platform_len(text) + 1):
        out = truncate(text, limit)
        assert platform_len(out) <= limit
        out.encode("utf-16-le")  # no lone surrogate (would raise)
        body = out.removesuffix(ELLIPSIS)
        flags = re.match(r"[\U0001F1E6-\U0001F1FF]*", body)
        assert flags is not None and len(flags.group(0)) % 2 == 0, (limit, out)
        # The family emoji (ZWJ sequence) is kept whole or left out.
        assert "\u200d" not in body or body.endswith("👨‍👩‍👧") or "é" in body, (limit, out)


def test_truncate_keeps_combining_marks_with_their_letter() -> None:
    text = "cafe\u0301" * 20  # "e" + combining acute accent
    for limit in range(2, len(text)):
        body = truncate(text, limit).removesuffix(ELLIPSIS)
        assert not body.endswith("e"), (limit, body)  # never "e" without its accent


def test_truncate_never_leaves_a_lone_backslash() -> None:
    text = discord_escape("*" * 40)  # \*\*\*...
    for limit in range(1, len(text)):
        body = truncate(text, limit).removesuffix(ELLIPSIS)
        trailing = len(body) - len(body.rstrip("\\"))
        assert trailing % 2 == 0, (limit, body)


def test_truncate_counts_utf16_units() -> None:
    text = "😀" * 10  # 20 UTF-16 units
    assert truncate(text, 20) == text
    out = truncate(text, 11)
    assert out == "😀" * 5 + ELLIPSIS and platform_len(out) == 11


# -- labels -----------------------------------------------------------------------------------


def test_jurisdiction_labels() -> None:
    assert JURISDICTION_LABELS["CN"] == "🇨🇳 CN"
    assert JURISDICTION_LABELS["EU"] == "🇪🇺 EU"
    assert JURISDICTION_LABELS["INTL"] == "🌐 INTL"
    assert JURISDICTION_LABELS["us"] == "🇺🇸 US"
    assert flag("GB") == "🇬🇧" and flag("UK") == "🇬🇧" and flag("USA") == ""
    with pytest.raises(KeyError):
        JURISDICTION_LABELS["<@1>"]
    assert jurisdiction_label("<@1>") == "<@1>"  # left to the platform escape
    assert jurisdiction_label("XYZ") == "XYZ"
    assert platform_len(jurisdiction_label("x" * 500)) <= 40


def test_topic_labels_cover_the_classifier() -> None:
    assert TOPIC_LABELS["export-controls"] == "Export controls"
    for t in TOPICS:
        assert t in TOPIC_LABELS and t in TOPIC_COLOURS
        assert 0 <= TOPIC_COLOURS[t] <= 0xFFFFFF
    assert topic_label("new-thing") == "New thing"
    assert len(set(TOPIC_COLOURS.values())) == len(TOPIC_COLOURS)
