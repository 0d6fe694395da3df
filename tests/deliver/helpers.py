"""Building stories, verdicts and subscriptions directly in the database for delivery tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.deliver.config_sync import get_or_create_destination
from bot.deliver.match import StoryFacts
from bot.store.models import Destination, Entry, Feed, Story, Subscription
from bot.store.pollwrite import store_verdict
from bot.verdict import Verdict as VerdictValue

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_uids = itertools.count(1)


def feed(session: Session, name: str = "Politico Europe") -> Feed:
    row = session.query(Feed).filter(Feed.name == name).one_or_none()
    if row is None:
        row = Feed(
            name=name,
            config_url=f"https://example.org/{name}.xml",
            url=f"https://example.org/{name}.xml",
            jurisdictions=[],
            added_at=NOW,
            consecutive_failures=0,
            entry_count=0,
        )
        session.add(row)
        session.flush()
    return row


def story(
    session: Session,
    title: str = "EU adopts the AI Act",
    *,
    summary: str = "",
    language: str | None = "en",
    jurisdictions: Sequence[str] = ("EU",),
    topics: Sequence[str] = ("legislation",),
    instruments: Sequence[str] = ("law",),
    score: float = 0.8,
    relevant: bool = True,
    first_seen: datetime = NOW,
    announce: bool = True,
    feeds: Sequence[str] = ("Politico Europe",),
) -> tuple[Story, VerdictValue]:
    s = Story(
        title=title,
        title_key=title.casefold()[:400],
        url=f"https://example.org/{title}",
        summary=summary,
        language=language,
        published=first_seen,
        first_seen=first_seen,
        announce=announce,
        source_count=len(feeds),
    )
    session.add(s)
    session.flush()
    for name in feeds:
        f = feed(session, name)
        session.add(
            Entry(
                feed_id=f.id,
                uid=f"u{next(_uids)}",
                uid_hash=f"h{next(_uids)}",
                story_id=s.id,
                url=f"https://{name.replace(' ', '')}.example/{s.id}",
                title=title,
                summary=summary,
                language=language,
                published=first_seen,
                published_known=True,
                first_seen=first_seen,
            )
        )
    v = VerdictValue(
        relevant=relevant,
        score=score,
        jurisdictions=tuple(jurisdictions),
        topics=tuple(topics),
        instruments=tuple(instruments),
    )
    store_verdict(session, s.id, v)
    session.flush()
    return s, v


def destination(
    session: Session, platform: str = "discord", channel: str = "1", webhook_env: str = ""
) -> Destination:
    return get_or_create_destination(session, platform, channel=channel, webhook_env=webhook_env)


def subscription(session: Session, dest: Destination, **kw: Any) -> Subscription:
    values: dict[str, Any] = {
        "origin": "chat",
        "jurisdictions": [],
        "topics": [],
        "instruments": [],
        "keywords": [],
        "languages": [],
        "min_score": 0.0,
        "mode": "instant",
        "created_at": NOW,
    }
    values.update(kw)
    sub = Subscription(destination_id=dest.id, **values)
    session.add(sub)
    session.flush()
    return sub


def facts(title: str = "x", summary: str = "", **kw: Any) -> StoryFacts:
    base: dict[str, Any] = {
        "language": "en",
        "score": 0.8,
        "jurisdictions": ("EU",),
        "topics": ("legislation",),
        "instruments": ("law",),
    }
    base.update(kw)
    return StoryFacts(title=title, summary=summary, **base)


# Minimal renderers for worker mechanics (the real ones are tested in test_render*.py and in
# the end-to-end test): the title and sources, so tests see what was loaded at send time.
def simple_alert(platform: str, post: Any) -> list[Any]:
    line = f"{post.title} [{', '.join(s.name for s in post.sources)}]"
    if platform.startswith("discord"):
        return [{"content": line}]
    if platform.startswith("slack"):
        return [{"text": line}]
    return [line]


def simple_digest(platform: str, digest: Any, per_part: int = 2) -> list[Any]:
    titles = [p.title for p in digest.stories]
    chunks = [titles[i : i + per_part] for i in range(0, len(titles), per_part)]
    if platform.startswith("discord"):
        return [{"content": " | ".join(c)} for c in chunks]
    if platform.startswith("slack"):
        return [{"text": " | ".join(c)} for c in chunks]
    return [" | ".join(c) for c in chunks]
