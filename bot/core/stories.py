"""Stories seen from outside: search, and why an item was flagged."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.core.validate import show, suggest
from bot.errors import NotFoundError
from bot.store.models import Entry, Feed, Story, Verdict
from bot.store.search import SearchPage, parse_since, search_stories, story_posts
from bot.store.storage import Storage
from bot.types import Explanation, SearchQuery


def search(storage: Storage, q: SearchQuery, *, now: datetime) -> SearchPage:
    """Stories matching `q`, best first (see bot.store.search)."""
    since = parse_since(q.since, now) if isinstance(q.since, str) else q.since
    with storage.session() as s:
        if q.source is not None:
            names = list(s.scalars(select(Feed.name)))
            if q.source.casefold() not in {n.casefold() for n in names}:
                raise NotFoundError(
                    f"no feed is called {show(q.source)!r}", suggest(q.source, names)
                )
        return search_stories(
            s,
            q.text,
            jurisdiction=q.jurisdiction,
            topic=q.topic,
            since=since,
            source=q.source,
            lang=q.lang,
            relevant_only=q.relevant_only,
            page=q.page,
            per_page=q.per_page,
            now=now,
        )


def _find(s: Any, item: str, now: datetime) -> tuple[int | None, str]:
    """A story id from an id, a URL or a title search; with a note on how it was found."""
    t = item.strip().lstrip("#")
    if t.isdigit() and len(t) < 12:
        sid = int(t)
        return (sid, "") if s.get(Story, sid) is not None else (None, "")
    if re.match(r"https?://", t, re.IGNORECASE):
        found = s.scalar(select(Story.id).where(Story.url == t).limit(1))
        if found is None:
            found = s.scalar(select(Entry.story_id).where(Entry.url == t).limit(1))
        return found, ""
    page = search_stories(s, t, relevant_only=False, per_page=5, now=now)
    if not page.hits:
        return None, ""
    note = ""
    if len(page.hits) > 1:
        note = f"Best of {page.total if page.total is not None else 'many'} matches."
    return page.hits[0].story_id, note


def find_story(s: Any, item: str, now: datetime) -> tuple[int | None, str]:
    """A stored story's id from an id, a URL or words of its title (None: no match), with a
    note when several matched."""
    return _find(s, item, now)


def explain(
    storage: Storage, item: str, *, now: datetime, classify: Callable[[str, str], Any] | None
) -> Explanation:
    """Why the story named by `item` (an id, a URL or words of its title) was flagged or not.

    A story with no stored verdict is classified now by `classify(title, summary)`.
    """
    with storage.session() as s:
        sid, note = _find(s, item, now)
        if sid is None:
            raise NotFoundError(f"no stored item matches {show(item)!r}: try its id or its link")
        (post,) = story_posts(s, [sid])
        v = s.get(Verdict, sid)
        stored: dict[str, Any] | None = None
        if v is not None:
            stored = {
                "relevant": v.relevant,
                "score": v.score,
                "evidence": list(v.evidence),
                "jurisdictions": list(v.jurisdictions),
                "topics": list(v.topics),
                "instruments": list(v.instruments),
            }
    live = False
    if stored is None and classify is not None:
        stored = dict(classify(post.title, post.summary).to_dict())
        live = True
    if stored is None:
        return Explanation(post, False, 0.0, (), (), (), (), live=False, note="no verdict")
    return Explanation(
        story=post,
        relevant=bool(stored["relevant"]),
        score=float(stored["score"]),
        jurisdictions=tuple(stored.get("jurisdictions") or ()),
        topics=tuple(stored.get("topics") or ()),
        instruments=tuple(stored.get("instruments") or ()),
        evidence=tuple(stored.get("evidence") or ()),
        live=live,
        note=note,
    )
