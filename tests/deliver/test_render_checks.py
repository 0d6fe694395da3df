"""Independent checkers for rendered payloads (live mentions, links), used by the other
test_render_* files, and tests that the checkers themselves catch what they must (a checker
that never fires would make every property test pass)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from bot.platforms.text import ZWSP, safe_link
from bot.types import StoryPost

# -- walking payloads -------------------------------------------------------------------------


def discord_strings(payload: dict[str, Any]) -> Iterator[str]:
    """Every string of a Discord message that Discord renders."""
    if isinstance(payload.get("content"), str):
        yield payload["content"]
    for e in payload.get("embeds") or ():
        for key in ("title", "description"):
            if isinstance(e.get(key), str):
                yield e[key]
        for key, sub in (("footer", "text"), ("author", "name")):
            if isinstance(e.get(key), dict) and isinstance(e[key].get(sub), str):
                yield e[key][sub]
        for f in e.get("fields") or ():
            yield f.get("name", "")
            yield f.get("value", "")


def _slack_text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node
        for v in node.values():
            yield from _slack_text_objects(v)
    elif isinstance(node, list):
        for v in node:
            yield from _slack_text_objects(v)


def slack_strings(payload: dict[str, Any], *, mrkdwn_only: bool = False) -> Iterator[str]:
    """Every string of a Slack message: the top-level text (parsed as mrkdwn) and every text
    object of the blocks (plain_text ones too unless mrkdwn_only)."""
    if isinstance(payload.get("text"), str):
        yield payload["text"]
    for obj in _slack_text_objects(payload.get("blocks") or []):
        if obj["type"] == "mrkdwn" or not mrkdwn_only:
            yield obj["text"]


# -- mentions ---------------------------------------------------------------------------------

DISCORD_MENTIONS = [
    re.compile(r"@(everyone|here)", re.IGNORECASE),  # no zero-width break after the "@"
    re.compile(r"<@!?\d+>"),
    re.compile(r"<@&\d+>"),
    re.compile(r"<#\d+>"),
    re.compile(r"</[^<>\s:]+(?: [^<>:]+)*:\d+>"),
    re.compile(r"<t:-?\d+(?::[tTdDfFR])?>"),
    re.compile(r"<a?:\w+:\d+>"),
]
SLACK_MENTIONS = [
    re.compile(r"<[!@#]"),  # <!channel>, <!here>, <!subteam^..>, <@U123>, <#C1>
    re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE),
]


def live_mentions(payload: dict[str, Any], platform: str = "discord") -> list[str]:
    """Every piece of a payload that could ping someone."""
    if platform == "discord":
        strings: Iterable[str] = discord_strings(payload)
        patterns = DISCORD_MENTIONS
    else:
        strings, patterns = slack_strings(payload), SLACK_MENTIONS
    return [m.group(0) for s in strings for p in patterns for m in p.finditer(s)]


# -- links ------------------------------------------------------------------------------------

_ESCAPED = re.compile(r"\\.", re.DOTALL)
_MASKED = re.compile(r"\[([^\[\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)\)")
# What Discord or Slack would autolink in text: any scheme://, invites; Slack: www. and domains.
_BARE_SCHEME = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*:/{2}\S*")
_INVITE = re.compile(r"(?i)\bdiscord(?:app)?\.(?:gg|com|io|me|li|new)\b\S*")
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")
_DOMAIN = re.compile(
    r"(?i)(?<![\w.@-])(?:www\.[a-z0-9]|(?:[a-z0-9-]+\.)+(?:com|org|net|io|eu|gov|"
    r"uk|cn|info|example|evil|test|xyz|app|dev|ly|gg)\b)\S*"
)


def discord_links(payload: dict[str, Any]) -> list[str]:
    """Every link target in a Discord message: embed URLs, masked links and anything Discord
    would autolink. Escaped brackets (\\[) are not link syntax."""
    out: list[str] = []
    for e in payload.get("embeds") or ():
        for key in ("url",):
            if key in e:
                out.append(str(e[key]))
        if isinstance(e.get("author"), dict) and "url" in e["author"]:
            out.append(str(e["author"]["url"]))
    for s in discord_strings(payload):
        # Blank out backslash escapes (same length) so "\[" cannot open a masked link.
        plain = _ESCAPED.sub("\x00\x00", s)
        for m in _MASKED.finditer(plain):
            out.append(s[m.start(2) : m.end(2)])
        rest = _MASKED.sub(lambda m: "\x00" * len(m.group(0)), plain)
        # Masked-link syntax the pattern above could not parse is still suspicious.
        out += [f"](…{m.group(0)}" for m in re.finditer(r"\]\(\S*", rest)]
        out += [m.group(0) for m in _BARE_SCHEME.finditer(rest)]
        out += [m.group(0) for m in _INVITE.finditer(rest)]
    return out


def slack_links(payload: dict[str, Any]) -> list[str]:
    """Every link target in a Slack message: <url|label> and bare URLs/domains in mrkdwn."""
    out: list[str] = []
    for s in slack_strings(payload, mrkdwn_only=True):
        for m in _SLACK_LINK.finditer(s):
            out.append(m.group(1))
        rest = _SLACK_LINK.sub(lambda m: "\x00" * len(m.group(0)), s)
        out += [m.group(0) for m in _BARE_SCHEME.finditer(rest)]
        out += [m.group(0) for m in _DOMAIN.finditer(rest)]
    return out


def allowed_links(posts: Iterable[StoryPost]) -> set[str]:
    """The only URLs a rendering of these stories may link to: their own safe URLs."""
    out: set[str] = set()
    for p in posts:
        for u in (p.url, *(s.url for s in p.sources)):
            safe = safe_link(u)
            if safe:
                out.add(safe)
    return out


def bad_links(links: Iterable[str], allowed: set[str]) -> list[str]:
    return [u for u in links if u not in allowed or not re.match(r"https?://", u)]


# -- the checkers catch what they must --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@everyone",
        "hi @here",
        "<@123>",
        "<@!123>",
        "<@&42>",
        "<#99>",
        "</ban user:12>",
        "<t:1700000000:R>",
        "<a:party:123>",
    ],
)
def test_discord_mention_checker_fires(text: str) -> None:
    assert live_mentions({"content": text}) != []
    assert live_mentions({"embeds": [{"fields": [{"name": "x", "value": text}]}]}) != []


@pytest.mark.parametrize(
    "text",
    [
        f"@{ZWSP}everyone",
        f"<{ZWSP}@123>",
        f"<{ZWSP}@{ZWSP}&42>",
        "email at example",
        "<3",
    ],
)
def test_discord_mention_checker_quiet(text: str) -> None:
    assert live_mentions({"content": text}) == []


@pytest.mark.parametrize(
    "text", ["<!channel>", "<!here>", "<@U123>", "<#C1|general>", "@channel", "@here"]
)
def test_slack_mention_checker_fires(text: str) -> None:
    assert live_mentions({"text": text}, "slack") != []
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    assert live_mentions({"text": "x", "blocks": [section]}, "slack") != []


def test_discord_link_extractor() -> None:
    payload = {
        "content": "see [a](javascript:alert(1)) and https://evil.example/x",
        "embeds": [
            {
                "url": "https://ok.example/",
                "description": "\\[not](https://x.example) [ok](https://ok.example/) discord.gg/x",
            }
        ],
    }
    links = discord_links(payload)
    assert "https://ok.example/" in links
    assert "https://evil.example/x" in links
    assert any(u.startswith("discord.gg") for u in links)
    assert "javascript:alert(1)" in links
    assert any(u.startswith("https://x.example") for u in links)  # bare after "\[": autolinked
    assert bad_links(links, {"https://ok.example/"}) != []
    # A scheme broken by a zero-width space is no link.
    assert discord_links({"content": f"https{ZWSP}://evil.example"}) == []


def test_slack_link_extractor() -> None:
    section = {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "<https://ok.example/|ok> www.evil.example "
            "<javascript:x|y> http://bare.example",
        },
    }
    links = slack_links({"text": "x", "blocks": [section]})
    assert links[:2] == ["https://ok.example/", "javascript:x"]
    assert "www.evil.example" in links and "http://bare.example" in links
    assert slack_links({"text": f"evil.{ZWSP}example https{ZWSP}://x"}) == []
