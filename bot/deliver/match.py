"""Matching stories against many subscriptions at once.

Each filter dimension is an index from value to a bitmask of subscriptions (bit i = the i-th
subscription), plus the mask of subscriptions that do not filter on that dimension. A story's
matches are then a handful of big-int ORs and ANDs instead of a loop over every subscription,
and all keywords of all subscriptions are found in ONE Aho-Corasick pass over the text (one
for the include keywords, one for the `exclude` ones: the same whole-word matcher).

Feed routing: a subscription that follows feeds (`feed_ids` not None) matches only stories
from those feeds, flagged or not; every other subscription matches flagged stories only.
Excluded feeds (`exclude_feed_ids`) work the other way: a story one of them brought (its
`feeds`) is left out.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import ahocorasick_rs


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """The parts of a Subscription row that routing needs (detached from the ORM)."""

    id: int
    destination_id: int
    mode: str = "instant"
    origin: str = "config"
    name: str | None = None
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_score: float = 0.0
    at: str = "09:00"
    day: str = "mon"
    timezone: str = "UTC"
    # Feed routing: the ids of the feeds followed (names and tags resolved), None when the
    # subscription follows no feed. An empty set (its feeds were removed) matches nothing.
    feed_ids: frozenset[int] | None = None
    exclude: tuple[str, ...] = ()
    exclude_jurisdictions: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()
    # The ids of the feeds whose stories are left out (`exclude_feeds`, names and tags
    # resolved): a story that one of them brought does not match.
    exclude_feed_ids: frozenset[int] = frozenset()
    # Posts are held back until then: the subscription's own mute or its channel's, the later.
    muted_until: datetime | None = None

    def muted_at(self, when: datetime) -> bool:
        return self.muted_until is not None and when < self.muted_until

    # Pings (routing prefers, per channel, a matching subscription that pings for the story).
    mention: str | None = None
    mention_min_score: float = 0.0
    mention_instruments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What a story offers to the filters."""

    title: str
    summary: str
    language: str | None
    score: float
    jurisdictions: Sequence[str] = ()
    topics: Sequence[str] = ()
    instruments: Sequence[str] = ()
    relevant: bool = True  # flagged by the classifier
    feeds: Sequence[int] = ()  # ids of the feeds it came from (for feed routing)


def norm_code(value: str) -> str:
    return value.strip().upper()


def norm_tag(value: str) -> str:
    return value.strip().casefold()


def norm_lang(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().replace("_", "-").split("-")[0].lower() or None


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def norm_text(text: str) -> str:
    """Case- and width-folded text with whitespace runs collapsed, for keyword search. (Lone
    surrogates go: they are no character and the matcher cannot encode them.)"""
    # split/join collapses the same whitespace as \s+ (both use str.isspace), faster.
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return _SURROGATE.sub("", text) if not text.isascii() else text


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # kana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xAC00 <= o <= 0xD7AF  # hangul
        or 0x20000 <= o <= 0x2FA1F
    )


def _is_word(ch: str) -> bool:
    # CJK characters are letters, but unspaced: "AI" in "日本のAI法" is a word of its own.
    return (ch.isalnum() or ch == "_") and not _is_cjk(ch)


@dataclass(slots=True)
class _Keyword:
    text: str
    mask: int = 0
    # Whole-word checks only where the keyword's edge is a letter of a spaced script: CJK text
    # has no spaces between words, so there a substring match is the best we can do.
    check_left: bool = True
    check_right: bool = True


def iter_bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _KeywordSet:
    """Whole-word keywords of many subscriptions, found in one Aho-Corasick pass."""

    def __init__(self) -> None:
        self.listed = 0  # subscriptions with at least one keyword here
        self._entries: dict[str, _Keyword] = {}
        self._keywords: list[_Keyword] = []
        self._find: Callable[..., list[tuple[int, int, int]]] | None = None

    def add(self, bit: int, words: Iterable[str]) -> None:
        for k in {k for v in words if (k := norm_text(v))}:
            entry = self._entries.get(k)
            if entry is None:
                entry = self._entries[k] = _Keyword(
                    text=k, check_left=not _is_cjk(k[0]), check_right=not _is_cjk(k[-1])
                )
            entry.mask |= bit
            self.listed |= bit

    def build(self) -> None:
        # Overlapping search over the keywords: (keyword index, start, end) of every match.
        self._keywords = list(self._entries.values())
        self._find = (
            ahocorasick_rs.AhoCorasick(list(self._entries)).find_matches_as_indexes
            if self._entries
            else None
        )

    def hits(self, text: str, wanted: int) -> int:
        """The subscriptions among `wanted` with a keyword in `text` (already norm_text'ed)."""
        found = 0
        if self._find is None or not wanted & self.listed:
            return 0
        n = len(text)
        keywords = self._keywords
        for i, start, end in self._find(text, overlapping=True):
            kw = keywords[i]
            if kw.mask & wanted & ~found == 0:
                continue  # every subscription with this keyword is settled already
            if kw.check_left and start > 0 and _is_word(text[start - 1]):
                continue
            if kw.check_right and end < n and _is_word(text[end]):
                continue
            found |= kw.mask
        return found & wanted


@dataclass(slots=True)
class _Dimension:
    unfiltered: int = 0
    by_value: dict[str, int] = field(default_factory=dict)

    def add(self, bit: int, values: Iterable[str]) -> None:
        vals = list(values)
        if not vals:
            self.unfiltered |= bit
            return
        for v in vals:
            self.by_value[v] = self.by_value.get(v, 0) | bit

    def mask(self, values: Iterable[str]) -> int:
        m = self.unfiltered
        by_value = self.by_value
        for v in values:
            m |= by_value.get(v, 0)
        return m


class SubscriptionIndex:
    """An immutable, compiled set of subscriptions; `match` returns the matching views."""

    def __init__(self, subs: Sequence[SubscriptionView]) -> None:
        self.subs: tuple[SubscriptionView, ...] = tuple(subs)
        self.all_mask = (1 << len(self.subs)) - 1
        self._jur = _Dimension()
        self._topic = _Dimension()
        self._inst = _Dimension()
        self._lang = _Dimension()
        self._xjur = _Dimension()
        self._xtopic = _Dimension()
        self._xfeeds = _Dimension()
        self._include = _KeywordSet()
        self._exclude = _KeywordSet()
        self._feeds = _Dimension()  # unfiltered: the subscriptions that follow no feed
        self.instant_mask = 0
        # Routing skips its per-subscription mute and ping checks where no bit is set here.
        self.muted_mask = 0
        self.mention_mask = 0
        self.destination_of: tuple[int, ...] = tuple(s.destination_id for s in self.subs)
        for i, s in enumerate(self.subs):
            bit = 1 << i
            if s.muted_until is not None:
                self.muted_mask |= bit
            if s.mention:
                self.mention_mask |= bit
            self._jur.add(bit, {norm_code(v) for v in s.jurisdictions})
            self._topic.add(bit, {norm_tag(v) for v in s.topics})
            self._inst.add(bit, {norm_tag(v) for v in s.instruments})
            self._lang.add(bit, {x for v in s.languages if (x := norm_lang(v))})
            self._xjur.add(bit, {norm_code(v) for v in s.exclude_jurisdictions})
            self._xtopic.add(bit, {norm_tag(v) for v in s.exclude_topics})
            self._xfeeds.add(bit, [str(f) for f in s.exclude_feed_ids])
            if s.feed_ids is None:
                self._feeds.add(bit, ())
            else:
                self._feeds.add(bit, [str(f) for f in s.feed_ids] or ["none"])
            if s.mode == "instant":
                self.instant_mask |= bit
            self._include.add(bit, s.keywords)
            self._exclude.add(bit, s.exclude)
        self._include.build()
        self._exclude.build()
        self._kw_unfiltered = self.all_mask & ~self._include.listed
        # Subscriptions that take flagged stories only (all but the feed-routed ones).
        self._flag_only = self._feeds.unfiltered
        self.feed_mask = self.all_mask & ~self._flag_only
        self.followed_feeds: frozenset[int] = frozenset(
            f for s in self.subs for f in (s.feed_ids or ())
        )
        # Feeds some subscription leaves out: routing must know which feeds brought a story.
        self.excluded_feeds: frozenset[int] = frozenset(
            f for s in self.subs for f in s.exclude_feed_ids
        )
        # Score thresholds: subscriptions sorted by min_score, with prefix masks, so "min_score
        # <= score" is one bisect.
        order = sorted(range(len(self.subs)), key=lambda i: self.subs[i].min_score)
        self._thresholds = [self.subs[i].min_score for i in order]
        self._prefix: list[int] = [0]
        acc = 0
        for i in order:
            acc |= 1 << i
            self._prefix.append(acc)

    def __len__(self) -> int:
        return len(self.subs)

    def match_mask(self, story: StoryFacts, candidates: int | None = None) -> int:
        m = self.all_mask if candidates is None else candidates
        if not story.relevant:
            m &= ~self._flag_only
        m &= self._prefix[bisect.bisect_right(self._thresholds, story.score)]
        if not m:
            return 0
        # Feeds and exclusions cost nothing when no subscription uses them.
        if self._feeds.by_value:
            m &= self._feeds.mask([str(f) for f in story.feeds])
            if not m:
                return 0
        if self._xjur.by_value:
            m &= (
                ~self._xjur.mask([norm_code(v) for v in story.jurisdictions])
                | self._xjur.unfiltered
            )
        if self._xtopic.by_value:
            m &= ~self._xtopic.mask([norm_tag(v) for v in story.topics]) | self._xtopic.unfiltered
        if self._xfeeds.by_value and story.feeds:
            m &= ~self._xfeeds.mask([str(f) for f in story.feeds]) | self._xfeeds.unfiltered
        if not m:
            return 0
        m &= self._jur.mask(norm_code(v) for v in story.jurisdictions)
        if not m:
            return 0
        m &= self._topic.mask(norm_tag(v) for v in story.topics)
        if not m:
            return 0
        m &= self._inst.mask(norm_tag(v) for v in story.instruments)
        if not m:
            return 0
        lang = norm_lang(story.language)
        m &= self._lang.mask((lang,) if lang else ())
        if not m:
            return 0
        # Keywords last: the text scan is the only costly step, skipped when nothing is left.
        needs_include = m & self._include.listed
        needs_exclude = m & self._exclude.listed
        if needs_include or needs_exclude:
            text = norm_text(f"{story.title}\n{story.summary}")
            if needs_include:
                m &= self._kw_unfiltered | self._include.hits(text, needs_include)
            if m & self._exclude.listed:
                m &= ~self._exclude.hits(text, m & self._exclude.listed)
        return m

    def match(self, story: StoryFacts, *, instant_only: bool = False) -> list[SubscriptionView]:
        mask = self.match_mask(story, self.instant_mask if instant_only else None)
        return [self.subs[i] for i in iter_bits(mask)]


def subscription_matches(sub: SubscriptionView, story: StoryFacts) -> bool:
    """One subscription against one story (digests, previews); same rules as the index."""
    return bool(SubscriptionIndex([sub]).match_mask(story))
