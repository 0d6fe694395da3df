"""feedparser's 745 hostile-HTML sanitizer cases as story titles and summaries (raw, and after
ingest's HTML-to-text step): every rendered message is valid, pings no one and links only to
the story's own safe URLs."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.ingest.normalise import html_to_text
from bot.platforms import (
    console_alert,
    console_digest,
    discord_alert,
    discord_digest,
    safe_link,
    slack_alert,
    slack_digest,
    validate_discord_message,
    validate_slack_message,
)
from bot.types import Digest, Source, StoryPost
from tests.deliver.test_render_checks import (
    allowed_links,
    bad_links,
    discord_links,
    live_mentions,
    slack_links,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SANITIZE = SHARED / "corpora" / "feedparser" / "wellformed" / "sanitize"
T0 = datetime(2026, 3, 4, tzinfo=UTC)
_HREF = re.compile(r"""(?:href|src)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)

pytestmark = pytest.mark.shared


def _posts() -> list[StoryPost]:
    if not SANITIZE.is_dir():
        pytest.skip(f"{SANITIZE} is absent (the shared corpora are not checked out)")
    files = sorted(SANITIZE.glob("*.xml"))
    assert len(files) >= 700, f"expected the 745 sanitize cases, found {len(files)}"
    posts = []
    for i, f in enumerate(files):
        raw = f.read_text(encoding="utf-8", errors="replace")
        # The first URL the case carries (often javascript:, data:, vbscript:...) as the
        # story's URL, with its entities decoded as a feed parser would.
        m = _HREF.search(html.unescape(raw))
        url = html.unescape(m.group(1)) if m else None
        for j, text in enumerate((raw, html_to_text(raw))):
            posts.append(
                StoryPost(
                    story_id=2 * i + j,
                    title=text,
                    url=url,
                    summary=text,
                    published=T0,
                    sources=(Source(f.stem + " " + text[:200], url),),
                    jurisdictions=("EU", text[:20]),
                    topics=("regulation",),
                    instruments=(text[:100],),
                )
            )
    return posts


@pytest.fixture(scope="module")
def posts() -> list[StoryPost]:
    return _posts()


def _problems(kind: str, payload: dict[str, Any], allowed: set[str]) -> list[str]:
    if kind == "discord":
        found = validate_discord_message(payload) + live_mentions(payload)
        found += bad_links(discord_links(payload), allowed)
    else:
        found = validate_slack_message(payload) + live_mentions(payload, "slack")
        found += bad_links(slack_links(payload), allowed)
    return found


def test_corpus_alerts(posts: list[StoryPost]) -> None:
    failures = []
    for post in posts:
        allowed = allowed_links([post])
        for kind, payload in (("discord", discord_alert(post)), ("slack", slack_alert(post))):
            problems = _problems(kind, payload, allowed)
            if problems:
                failures.append((post.story_id, kind, problems[:3]))
        text = console_alert(post)
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
            failures.append((post.story_id, "console", ["control character"]))
    assert failures == []
    # Both kinds of URL were really exercised: linked ones and refused ones.
    assert sum(1 for p in posts if safe_link(p.url)) > 100
    assert sum(1 for p in posts if p.url and safe_link(p.url) is None) > 20


def test_corpus_digests(posts: list[StoryPost]) -> None:
    digest = Digest("Sanitizer corpus", T0, T0, tuple(posts))
    allowed = allowed_links(posts)
    d = discord_digest(digest)
    s = slack_digest(digest)
    assert len(d) > 1 and len(s) > 1
    failures = [(i, "discord", _problems("discord", m, allowed)) for i, m in enumerate(d)]
    failures += [(i, "slack", _problems("slack", m, allowed)) for i, m in enumerate(s)]
    assert [f for f in failures if f[2]] == []
    lines = sum(1 for ln in console_digest(digest).splitlines() if ln.startswith("    • "))
    assert lines == len(posts)
