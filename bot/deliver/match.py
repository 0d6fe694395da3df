"""Matching stories against many subscriptions at once.

Each filter dimension is an index from value to a bitmask of subscriptions (bit i = the i-th
subscription), plus the mask of subscriptions that do not filter on that dimension. A story's
matches are then a handful of big-int ORs and ANDs instead of a loop over every subscription,
and all keywords of all subscriptions are found in ONE Aho-Corasick pass over the text.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import ahocorasick_rs

_SPACE = re.compile(r"\s+")


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
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
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


def _iter_bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


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
        self._kw_unfiltered = 0
        self.instant_mask = 0
        keywords: dict[str, _Keyword] = {}
        for i, s in enumerate(self.subs):
            bit = 1 << i
            self._jur.add(bit, {norm_code(v) for v in s.jurisdictions})
            self._topic.add(bit, {norm_tag(v) for v in s.topics})
            self._inst.add(bit, {norm_tag(v) for v in s.instruments})
            self._lang.add(bit, {x for v in s.languages if (x := norm_lang(v))})
            if s.mode == "instant":
                self.instant_mask |= bit
            kws = {k for v in s.keywords if (k := norm_text(v))}
            if not kws:
                self._kw_unfiltered |= bit
            for k in kws:
                entry = keywords.get(k)
                if entry is None:
                    entry = keywords[k] = _Keyword(
                        text=k, check_left=not _is_cjk(k[0]), check_right=not _is_cjk(k[-1])
                    )
                entry.mask |= bit
        # Overlapping search over the keywords: (keyword index, start, end) of every match.
        self._keywords = list(keywords.values())
        self._find: Callable[..., list[tuple[int, int, int]]] | None = (
            ahocorasick_rs.AhoCorasick(list(keywords)).find_matches_as_indexes if keywords else None
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

    def _keyword_mask(self, text: str) -> int:
        m = self._kw_unfiltered
        if self._find is None:
            return m
        n = len(text)
        keywords = self._keywords
        for i, start, end in self._find(text, overlapping=True):
            kw = keywords[i]
            if kw.mask & ~m == 0:
                continue  # every subscription with this keyword already matched
            if kw.check_left and start > 0 and _is_word(text[start - 1]):
                continue
            if kw.check_right and end < n and _is_word(text[end]):
                continue
            m |= kw.mask
        return m

    def match_mask(self, story: StoryFacts, candidates: int | None = None) -> int:
        m = self.all_mask if candidates is None else candidates
        m &= self._prefix[bisect.bisect_right(self._thresholds, story.score)]
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
        if m & ~self._kw_unfiltered:
            m &= self._keyword_mask(norm_text(f"{story.title}\n{story.summary}"))
        return m

    def match(self, story: StoryFacts, *, instant_only: bool = False) -> list[SubscriptionView]:
        mask = self.match_mask(story, self.instant_mask if instant_only else None)
        return [self.subs[i] for i in _iter_bits(mask)]


def subscription_matches(sub: SubscriptionView, story: StoryFacts) -> bool:
    """One subscription against one story (digests, previews); same rules as the index."""
    return bool(SubscriptionIndex([sub]).match_mask(story))
