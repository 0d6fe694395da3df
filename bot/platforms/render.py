"""What the Discord, Slack and console renderers share: digest grouping, tag lists, list
fitting. Nothing here escapes: each platform escapes with its own rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.platforms.text import (
    NO_JURISDICTION,
    NO_TOPIC,
    TOPIC_LABELS,
    as_utc,
    inline,
    jurisdiction_label,
    platform_len,
    safe_link,
    topic_label,
    truncate,
)
from bot.types import Digest, StoryPost

UNTITLED = "(untitled)"
MAX_SOURCES_SHOWN = 5  # alerts: beyond this, "+N more"
DIGEST_SOURCES_SHOWN = 2
_TOPIC_ORDER = {t: i for i, t in enumerate(TOPIC_LABELS)}


def title_of(post: StoryPost) -> str:
    return inline(post.title) or UNTITLED


def source_items(post: StoryPost) -> list[tuple[str, str | None]]:
    """(name, safe URL or None) of every source, in order; unnamed ones are named by host."""
    out: list[tuple[str, str | None]] = []
    for s in post.sources:
        url = safe_link(s.url)
        name = inline(s.name)
        if not name and url:
            name = url.split("://", 1)[1].split("/", 1)[0]
        out.append((truncate(name or "(unnamed source)", 80), url))
    return out


def jurisdiction_labels(codes: Sequence[str]) -> list[str]:
    return [jurisdiction_label(c) for c in codes if inline(c)]


def topic_labels(topics: Sequence[str]) -> list[str]:
    return [topic_label(t) for t in topics if inline(t)]


def instrument_labels(instruments: Sequence[str]) -> list[str]:
    return [truncate(inline(i), 100) for i in instruments if inline(i)]


def kicker(post: StoryPost) -> str:
    """A one-line tag summary: "🇪🇺 EU, 🇺🇸 US · Export controls"."""
    parts = []
    js = jurisdiction_labels(post.jurisdictions)
    if js:
        parts.append(", ".join(js[:4]) + (f" +{len(js) - 4}" if len(js) > 4 else ""))
    ts = topic_labels(post.topics)
    if ts:
        parts.append(ts[0])
    return " · ".join(parts)


def fit_list(
    items: Sequence[str],
    limit: int,
    *,
    sep: str = ", ",
    shown: int | None = None,
    more: Callable[[int], str] = lambda n: f"+{n} more",
) -> str:
    """Join already-escaped items within `limit`, ending with "+N more" for those left out.
    Items are indivisible (a link is never cut): the list stops before the first that does not
    fit. Only when not even one fits is the first truncated, so callers keep link items short
    (at most a third of the limit) and fall back to a plain label otherwise."""
    cap = len(items) if shown is None else min(shown, len(items))
    out: list[str] = []
    used = 0
    for i, item in enumerate(items[:cap]):
        rest = len(items) - i - 1
        tail = platform_len(sep + more(rest)) if rest else 0
        n = platform_len(item) + (platform_len(sep) if out else 0)
        if used + n + tail > limit:
            break
        out.append(item)
        used += n
    left = len(items) - len(out)
    if not out and items:
        return truncate(items[0], limit)
    text = sep.join(out)
    if left:
        text = (text + sep if text else "") + more(left)
    return text if platform_len(text) <= limit else truncate(text, limit)


# -- digests ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicGroup:
    topic: str  # the topic code ("" when the story has none)
    label: str
    stories: tuple[StoryPost, ...]


@dataclass(frozen=True, slots=True)
class JurisdictionGroup:
    code: str  # "" when the story has none
    label: str
    topics: tuple[TopicGroup, ...]

    @property
    def count(self) -> int:
        return sum(len(t.stories) for t in self.topics)


def unique_stories(digest: Digest) -> list[StoryPost]:
    """The digest's stories, each story_id once (the first occurrence wins)."""
    seen: set[int] = set()
    out = []
    for p in digest.stories:
        if p.story_id not in seen:
            seen.add(p.story_id)
            out.append(p)
    return out


def group_digest(digest: Digest) -> list[JurisdictionGroup]:
    """Stories grouped by jurisdiction, then topic.

    A story with several jurisdictions (or topics) is listed ONCE, under its first (primary)
    jurisdiction and first topic: the classifier orders them by strength, and listing a story
    twice would make counts add up to more than the number of stories. Its other jurisdictions
    are shown as tags on its line. Larger groups come first; "Unspecified" and "Other" last.
    """
    by_j: dict[str, dict[str, list[StoryPost]]] = {}
    for p in unique_stories(digest):
        j = next((inline(c) for c in p.jurisdictions if inline(c)), "")
        t = next((inline(c) for c in p.topics if inline(c)), "")
        by_j.setdefault(j, {}).setdefault(t, []).append(p)
    groups = []
    for j, topics in by_j.items():
        tgroups = [
            TopicGroup(
                t,
                topic_label(t) if t else NO_TOPIC,
                tuple(sorted(ps, key=lambda p: (-as_utc(p.published).timestamp(), p.story_id))),
            )
            for t, ps in topics.items()
        ]
        tgroups.sort(
            key=lambda g: (
                not g.topic,
                -len(g.stories),
                _TOPIC_ORDER.get(g.topic, len(_TOPIC_ORDER)),
                g.label,
            )
        )
        groups.append(
            JurisdictionGroup(j, jurisdiction_label(j) if j else NO_JURISDICTION, tuple(tgroups))
        )
    groups.sort(key=lambda g: (not g.code, -g.count, g.label))
    return groups


def counted(label: str, n: int, *, continued: bool = False) -> str:
    return f"{label} ({n}{', continued' if continued else ''})"


def digest_summary(groups: list[JurisdictionGroup]) -> str:
    """ "300 stories in 12 jurisdictions" """
    n = sum(g.count for g in groups)
    return (
        f"{n} {'story' if n == 1 else 'stories'} in {len(groups)} "
        f"{'jurisdiction' if len(groups) == 1 else 'jurisdictions'}"
    )


def part_suffix(i: int, total: int) -> str:
    return f" (part {i + 1}/{total})" if total > 1 else ""
