"""One-click exclusions after "Not relevant": what a channel may leave out, and doing it.

A "Not relevant" on a story offers the channel two exclusions, each added to the channel's
own subscriptions that would post that story (never to the classifier, which people change
only through the lexicons after review):

- the story's source: the feed that first brought it, added to `exclude_feeds`;
- a keyword of the story, added to `exclude` (see `choose_keyword` for which word).

Adding is idempotent (a subscription that leaves it out already is left alone) and
reversible (`undo` removes it from the subscriptions that have it). Subscriptions of the
config file are not edited from chat: the operator changes them there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.deliver.match import StoryFacts, SubscriptionIndex, SubscriptionView
from bot.deliver.route import feed_table, resolve_feeds, subscriptions_changed, view_of
from bot.errors import InputError, NotFoundError, PermissionDenied
from bot.ingest.lang import _function_words
from bot.store.models import (
    Destination,
    Entry,
    Feed,
    OutboxMessage,
    Story,
    Subscription,
    Verdict,
)
from bot.store.storage import Storage
from bot.types import ExclusionInfo, ExclusionKind, Origin

MAX_EXCLUSIONS = 50  # words or feeds one subscription leaves out: beyond, edit it by hand
MIN_WORD = 4  # shorter title words ("new", "law", "AI") say little about what a story is
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


@cache
def _stopwords() -> frozenset[str]:
    """Words never offered as the keyword: function words of every language, and the
    headline words of data/keyword_stopwords.yaml."""
    text = resources.files("bot.core").joinpath("data/keyword_stopwords.yaml").read_text("utf-8")
    listed = yaml.safe_load(text).get("words") or []
    return frozenset(_function_words()) | {str(w).casefold() for w in listed}


def _is_cjk(word: str) -> bool:
    # Unspaced scripts: a "word" found by \w+ is a whole phrase, not something to exclude.
    return any(
        0x3040 <= ord(c) <= 0x30FF or 0x3400 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7AF
        for c in word
    )


def choose_keyword(title: str, summary: str, evidence: Sequence[Any]) -> str | None:
    """The word a "Not relevant" offers to exclude, or None when the story has no fit one.

    Not a term of the classifier's positive evidence, nor an instrument's name: those are
    what made the story look like AI governance ("AI rules", "regulator", "EU AI Act"), so
    excluding them would also drop the channel's relevant stories. Instead, in this order:

    1. a term the classifier itself matched as off-topic (rule "negative", e.g. "football"):
       it names what the story is about instead;
    2. a title word outside every positive evidence span, not a function word of any
       language nor a word of data/keyword_stopwords.yaml, of at least 4 letters: a
       capitalised word inside the title first (a name, such as a company, is the most
       distinctive), else the first such word (headlines lead with their subject).
    """
    records = [e for e in evidence if isinstance(e, dict)]
    for field in ("title", "summary"):
        for e in records:
            text = " ".join(str(e.get("text") or "").split())
            if e.get("rule") == "negative" and e.get("field") == field and 0 < len(text) <= 100:
                return text
    spans = [
        (int(e.get("start", -1)), int(e.get("end", -1)))
        for e in records
        if e.get("field") == "title" and e.get("rule") not in ("score", "hint", "negative")
    ]
    matched = {
        w.casefold()
        for e in records
        if e.get("rule") not in ("score", "hint", "negative")
        for w in _WORD.findall(str(e.get("text") or ""))
    }
    stop = _stopwords()
    candidates: list[tuple[int, int, str]] = []
    for i, m in enumerate(_WORD.finditer(title)):
        word = m.group()
        folded = word.casefold()
        if (
            len(word) < MIN_WORD
            or not any(c.isalpha() for c in word)
            or _is_cjk(word)
            or folded in stop
            or folded in matched
            or any(s < m.end() and m.start() < e for s, e in spans if s >= 0)
        ):
            continue
        name = i > 0 and word[0].isupper()
        candidates.append((0 if name else 1, m.start(), word))
    return min(candidates)[2] if candidates else None


def _home_channel(s: Session, platform: str, story_id: int, channel: str) -> str:
    """The channel whose subscriptions posted the story where the button was clicked: a
    Discord forum post's button answers from inside the post (a thread), whose id the outbox
    row of that post keeps as its thread."""
    q = (
        select(Destination.channel)
        .join(OutboxMessage, OutboxMessage.destination_id == Destination.id)
        .where(
            OutboxMessage.story_id == story_id,
            OutboxMessage.thread_id == channel,
            Destination.platform == platform,
        )
        .limit(1)
    )
    return s.scalar(q) or channel


def _channel_rows(s: Session, platform: str, scope: str, channel: str) -> list[Subscription]:
    # A channel named in the config file has no guild until a chat command is typed there.
    q = (
        select(Subscription)
        .join(Destination, Destination.id == Subscription.destination_id)
        .where(
            Destination.platform == platform,
            Destination.channel == channel,
            Destination.guild.in_((scope, "")),
            Subscription.origin != "implicit",
        )
        .order_by(Subscription.id)
    )
    return list(s.scalars(q))


def _without(
    view: SubscriptionView,
    row: Subscription,
    source: str | None,
    word: str | None,
    table: list[tuple[int, str, Sequence[str]]],
) -> SubscriptionView:
    """The subscription as if it did not leave out this story's offered source and word."""
    specs = [
        f for f in row.exclude_feeds or () if source is None or f.casefold() != source.casefold()
    ]
    words = [w for w in view.exclude if word is None or w.casefold() != word.casefold()]
    return dataclasses.replace(
        view, exclude=tuple(words), exclude_feed_ids=resolve_feeds(specs, table)
    )


def _plan(
    s: Session, story_id: int, platform: str, scope: str, channel: str
) -> tuple[list[ExclusionInfo], dict[int, Subscription]]:
    story = s.get(Story, story_id) if 0 < story_id < 2**63 else None
    if story is None:
        raise NotFoundError(f"story {story_id} is no longer stored: nothing to exclude")
    verdict = s.get(Verdict, story_id)
    sources = list(
        s.execute(
            select(Entry.feed_id, Feed.name)
            .join(Feed, Feed.id == Entry.feed_id)
            .where(Entry.story_id == story_id)
            .order_by(Entry.first_seen, Entry.id)
        )
    )
    source = sources[0][1] if sources else None  # the feed that brought it first
    word = choose_keyword(
        story.title, story.summary or "", verdict.evidence or [] if verdict else []
    )
    facts = StoryFacts(
        title=story.title,
        summary=story.summary or "",
        language=story.language,
        score=float(verdict.score) if verdict else 0.0,
        jurisdictions=tuple(verdict.jurisdictions or ()) if verdict else (),
        topics=tuple(verdict.topics or ()) if verdict else (),
        instruments=tuple(verdict.instruments or ()) if verdict else (),
        relevant=bool(verdict.relevant) if verdict else False,
        feeds=tuple(sorted({fid for fid, _ in sources})),
    )
    if word is not None:
        # The word must hold this very story back under routing's whole-word matcher.
        probe = SubscriptionView(id=0, destination_id=0, exclude=(word,))
        if SubscriptionIndex([probe]).match_mask(dataclasses.replace(facts, relevant=True)):
            word = None
    rows = _channel_rows(s, platform, scope, _home_channel(s, platform, story_id, channel))
    table = feed_table(s) if rows else []
    posting: list[Subscription] = []
    for row in rows:
        view = _without(view_of(row, table, channel_muted_until=None), row, source, word, table)
        if SubscriptionIndex([view]).match_mask(facts):
            posting.append(row)
    out: list[ExclusionInfo] = []
    for kind, value in ((ExclusionKind.SOURCE, source), (ExclusionKind.KEYWORD, word)):
        if not value:
            continue
        folded = value.casefold()
        editable, done, config = [], [], []
        for row in posting:
            if kind == ExclusionKind.SOURCE:
                if folded in {f.casefold() for f in row.feeds or ()}:
                    continue  # it follows this very feed: unsubscribing is the way
                have = folded in {f.casefold() for f in row.exclude_feeds or ()}
            else:
                if folded in {k.casefold() for k in row.keywords or ()}:
                    continue  # it asks for this word: excluding it would contradict that
                have = folded in {w.casefold() for w in row.exclude or ()}
            if row.origin == Origin.CONFIG.value:
                config.append(row.id)
                continue
            editable.append(row.id)
            if have:
                done.append(row.id)
        if editable or config:
            out.append(
                ExclusionInfo(
                    story_id=story_id,
                    kind=kind.value,
                    value=value,
                    subscriptions=tuple(editable),
                    excluded=tuple(done),
                    config=tuple(config),
                )
            )
    return out, {r.id: r for r in posting}


def offers(
    storage: Storage, story_id: int, *, platform: str, scope: str, channel: str
) -> list[ExclusionInfo]:
    """The exclusions a channel may add after "Not relevant" on a story (source first)."""
    with storage.session() as s:
        return _plan(s, story_id, platform, scope, channel)[0]


def apply(
    storage: Storage,
    story_id: int,
    kind: str,
    *,
    platform: str,
    scope: str,
    channel: str,
    undo: bool = False,
) -> ExclusionInfo:
    """Add (or with `undo` remove) the story's source or keyword exclusion to the channel's
    subscriptions that would post it; `changed` says which were edited."""
    try:
        wanted = ExclusionKind(kind)
    except ValueError:
        raise InputError("this button names no exclusion: use `source` or `keyword`") from None
    with storage.write() as s:
        plans, rows = _plan(s, story_id, platform, scope, channel)
        info = next((p for p in plans if p.kind == wanted.value), None)
        if info is None:
            raise NotFoundError(
                "no subscription of this channel posts this story any more: nothing to"
                " exclude (see `/policy subscriptions`)"
            )
        field = "exclude_feeds" if wanted == ExclusionKind.SOURCE else "exclude"
        if not info.subscriptions:
            ids = ", ".join(str(i) for i in info.config)
            raise PermissionDenied(
                f"subscription {ids} comes from the bot's config file: the operator adds"
                f" `{field}` there"
            )
        folded = info.value.casefold()
        targets = (
            info.excluded
            if undo
            else tuple(i for i in info.subscriptions if i not in info.excluded)
        )
        for sid in targets:
            row = rows[sid]
            current = list(getattr(row, field) or [])
            if undo:
                new = [v for v in current if str(v).casefold() != folded]
            else:
                if len(current) >= MAX_EXCLUSIONS:
                    raise InputError(
                        f"subscription {sid} leaves out {len(current)} {field} already (at"
                        f" most {MAX_EXCLUSIONS}): remove it and subscribe again with fewer"
                    )
                new = [*current, info.value]
            setattr(row, field, new)  # a new list: the JSON column sees the change
        s.flush()
        excluded = (
            tuple(i for i in info.excluded if i not in targets)
            if undo
            else tuple(i for i in info.subscriptions)
        )
    if targets:
        subscriptions_changed()
    return dataclasses.replace(info, excluded=excluded, changed=tuple(targets))
