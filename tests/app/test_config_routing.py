"""feeds.yaml: feed routing, tags and exclusions; each mistake a one-line fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.config import ConfigError, parse_config

REPO = Path(__file__).resolve().parents[2]
DEST = {"platform": "discord", "channel": "123456789012345678"}
FEEDS = [
    {"name": "EDPB", "url": "https://example.org/edpb.xml", "tags": ["privacy"]},
    {"name": "Wire", "url": "https://example.org/wire.xml"},
]


def _cfg(sub: dict[str, Any], feeds: list[dict[str, Any]] | None = None) -> Any:
    data = {
        "feeds": FEEDS if feeds is None else feeds,
        "subscriptions": [{"destination": DEST, **sub}],
    }
    return parse_config(data, Path("/etc/policybot/feeds.yaml"))


def _problem(sub: dict[str, Any], feeds: list[dict[str, Any]] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        _cfg(sub, feeds)
    msg = str(info.value)
    assert "/etc/policybot/feeds.yaml" in msg and "Traceback" not in msg
    return msg


def test_routing_options_reach_the_subscription_record() -> None:
    cfg = _cfg(
        {
            "feeds": ["EDPB", "tag:privacy"],
            "exclude": ["crypto", "blockchain"],
            "exclude_jurisdictions": "us, cn",
            "exclude_topics": ["standards-safety"],
        }
    )
    (opts,) = cfg.subscription_options()
    assert opts.feeds == ("EDPB", "tag:privacy")
    assert opts.exclude == ("crypto", "blockchain")
    assert opts.exclude_jurisdictions == ("US", "CN")
    assert opts.exclude_topics == ("standards-safety",)
    assert cfg.feed_options()[0].tags == ("privacy",)


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        ({"feeds": ["EDBP"]}, r"no feed is called 'EDBP' \(did you mean 'EDPB'\?\)"),
        ({"feeds": ["tag:privcy"]}, r"no feed has the tag 'privcy'; give feeds `tags: \[privcy\]`"),
        ({"feeds": ["tag:"]}, r"needs a tag name: tag:privacy"),
        ({"exclude_topics": ["standard"]}, r"unknown topic 'standard': choose from"),
        ({"exclude_jurisdictions": ["Europe"]}, r"'Europe' is not a jurisdiction code"),
        (
            {"jurisdictions": ["EU"], "exclude_jurisdictions": ["EU"]},
            r"EU is both in `jurisdictions` and in `exclude_jurisdictions`",
        ),
        ({"keywords": ["AI"], "exclude": ["ai"]}, r"ai is both in `keywords` and in `exclude`"),
        ({"exclude": ["  "]}, r"an empty keyword matches nothing"),
        ({"exclude_keywords": ["x"]}, r"exclude_keywords: unknown setting"),
    ],
)
def test_mistakes_say_what_to_fix(sub: dict[str, Any], expected: str) -> None:
    msg = _problem(sub)
    assert re.search(expected, msg), msg
    assert "subscriptions[0]" in msg


def test_bad_feed_tags_are_refused() -> None:
    feeds = [{"name": "A", "url": "https://example.org/a.xml", "tags": ["two words"]}]
    msg = _problem({}, feeds)
    assert "feeds[0]" in msg and "tag 'two words': use letters, digits" in msg


def test_the_readme_subscriptions_example_is_valid() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Subscriptions", 1)[1]
    example = section.split("```yaml", 1)[1].split("```", 1)[0]
    cfg = parse_config(yaml.safe_load(example), REPO / "feeds.yaml")
    names = [s.name for s in cfg.subscriptions]
    assert names == ["privacy-everything", "edpb-ai-only", "eu-no-crypto"]
    # every option the README's table lists is a real subscription setting
    table = section.split("| option | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name.strip("` ") for row in table.splitlines()[2:] for name in row.split("|")[1].split(",")
    }
    from bot.app.config import SubscriptionConfig

    assert documented == set(SubscriptionConfig.model_fields)
