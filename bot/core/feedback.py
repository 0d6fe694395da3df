"""Relevance feedback: "not relevant" on an alert, `/policy missed`, and the labelled export.

Feedback is stored, listed and exported; it never changes the classifier by itself. The
export is JSON Lines in the format of the labelled eval sets (id, title, summary, lang,
relevant, jurisdictions, topics), so `policybot eval FILE` measures the classifier on what
people said, and a person decides what goes into the lexicons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.stories import find_story
from bot.core.validate import show
from bot.errors import InputError, NotFoundError
from bot.store.models import FeedbackRow, Story, Verdict
from bot.store.storage import Storage
from bot.types import FeedbackInfo, FeedbackKind

MAX_WORDS = 300  # characters of a `missed` report kept when no stored story matches
_URL = re.compile(r"https?://", re.IGNORECASE)


def _info(row: FeedbackRow, verdict: Verdict | None, *, created: bool = True) -> FeedbackInfo:
    return FeedbackInfo(
        id=row.id,
        kind=row.kind,
        story_id=row.story_id,
        title=row.title,
        summary=row.summary,
        language=row.language,
        url=row.url,
        platform=row.platform,
        scope=row.scope,
        channel=row.channel,
        user=row.user_id,
        created_at=row.created_at,
        jurisdictions=tuple(verdict.jurisdictions or ()) if verdict is not None else (),
        topics=tuple(verdict.topics or ()) if verdict is not None else (),
        created=created,
    )


def _store(
    s: Session,
    kind: FeedbackKind,
    story: Story | None,
    *,
    words: str = "",
    platform: str,
    scope: str,
    channel: str,
    user: str,
    now: datetime,
) -> FeedbackInfo:
    verdict = s.get(Verdict, story.id) if story is not None else None
    if story is not None:
        # The same person saying the same of the same story in the same channel: once.
        same = s.scalars(
            select(FeedbackRow).where(
                FeedbackRow.story_id == story.id,
                FeedbackRow.kind == kind.value,
                FeedbackRow.platform == platform,
                FeedbackRow.channel == channel,
                FeedbackRow.user_id == user,
            )
        ).first()
        if same is not None:
            return _info(same, verdict, created=False)
    row = FeedbackRow(
        story_id=story.id if story is not None else None,
        kind=kind.value,
        title=story.title if story is not None else words,
        summary=story.summary if story is not None else "",
        language=story.language if story is not None else None,
        url=story.url if story is not None else None,
        platform=platform[:32],
        scope=scope[:64],
        channel=channel[:64],
        user_id=user[:200],
        created_at=now,
    )
    s.add(row)
    s.flush()
    return _info(row, verdict)


def not_relevant(
    storage: Storage,
    story_id: int,
    *,
    platform: str,
    scope: str,
    channel: str,
    user: str,
    now: datetime,
) -> FeedbackInfo:
    """Record that a posted story was not relevant (for this channel's people)."""
    with storage.write() as s:
        story = s.get(Story, story_id) if 0 < story_id < 2**63 else None
        if story is None:
            raise NotFoundError(f"story {story_id} is no longer stored: nothing to record")
        return _store(
            s,
            FeedbackKind.NOT_RELEVANT,
            story,
            platform=platform,
            scope=scope,
            channel=channel,
            user=user,
            now=now,
        )


def missed(
    storage: Storage,
    item: str,
    *,
    platform: str,
    scope: str,
    channel: str,
    user: str,
    now: datetime,
) -> FeedbackInfo:
    """Record a story that should have been flagged: a stored story (id, link, or words of
    its title), or, when no stored story matches words, the words themselves."""
    text = " ".join(item.split())
    if not text:
        raise InputError(
            "say which story: `/policy missed https://...` or `/policy missed words of its title`"
        )
    with storage.write() as s:
        sid, _note = find_story(s, text, now)
        story = s.get(Story, sid) if sid is not None else None
        if story is None and (_URL.match(text) or text.lstrip("#").isdigit()):
            raise NotFoundError(
                f"no stored story matches {show(text)!r}: the bot never read it. Give the"
                " words of its headline instead (they are kept as the report), or add its feed"
            )
        return _store(
            s,
            FeedbackKind.MISSED,
            story,
            words=text[:MAX_WORDS],
            platform=platform,
            scope=scope,
            channel=channel,
            user=user,
            now=now,
        )


def listing(
    storage: Storage, *, since: datetime | None = None, limit: int | None = None
) -> list[FeedbackInfo]:
    """Feedback, newest first."""
    with storage.session() as s:
        q = select(FeedbackRow).order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
        if since is not None:
            q = q.where(FeedbackRow.created_at >= since)
        if limit is not None:
            q = q.limit(limit)
        rows = list(s.scalars(q))
        ids = [r.story_id for r in rows if r.story_id is not None]
        verdicts = {
            v.story_id: v for v in s.scalars(select(Verdict).where(Verdict.story_id.in_(ids)))
        }
        return [_info(r, verdicts.get(r.story_id) if r.story_id else None) for r in rows]


def eval_records(items: Sequence[FeedbackInfo]) -> list[dict[str, Any]]:
    """Labelled eval records: one per story (its newest feedback decides the label), one per
    report of words that matched no story; oldest first.

    A "missed" story is labelled relevant with the jurisdictions and topics the classifier
    found for it (review them: they are its guess); a "not relevant" one has none, as in the
    eval sets.
    """
    chosen: dict[str, FeedbackInfo] = {}
    counts: dict[str, int] = {}
    for f in sorted(items, key=lambda f: (f.created_at, f.id)):
        key = f"s{f.story_id}" if f.story_id is not None else f"f{f.id}"
        chosen[key] = f  # the newest wins
        counts[key] = counts.get(key, 0) + 1
    out = []
    for key, f in chosen.items():
        relevant = f.kind == FeedbackKind.MISSED
        out.append(
            {
                "id": f"feedback-{key}",
                "title": f.title,
                "summary": f.summary,
                "lang": f.language,
                "relevant": relevant,
                "jurisdictions": list(f.jurisdictions) if relevant else [],
                "topics": list(f.topics) if relevant else [],
                "source": f.url,
                "story_id": f.story_id,
                "feedback": f.kind,
                "reports": counts[key],
                "reported_at": f.created_at.isoformat(),
            }
        )
    return out
