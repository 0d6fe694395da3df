"""What a match is, checked exactly in Python, and how the matches are ranked.

What matches:
- Every term must occur in the title or the summary (or a feed's name holds every term: its
  stories match by source, see planner.matching_feeds).
- A term of 1-2 letters or digits in a spaced script ("AI", "EU", "G7", "de") is a whole word,
  because as a substring it would match "said", "neutral", "Ukraine". Where a Latin word runs
  into CJK text ("AI法案", "AIの") the CJK character also ends the word.
- A "quoted phrase" in a spaced script is a sequence of whole words ("export controls" does
  not match "export controlsx"), as quotes mean elsewhere; it is also far cheaper to find.
- Every other term is a case-insensitive substring: CJK, Thai and the like have no spaces,
  and "regulat" should find "deregulation" and "regulations".

The order (the contract; tests/store/search/test_order.py): score = RELEVANCE_WEIGHT x
relevance + the rest x recency (half-life RECENCY_HALF_LIFE_DAYS, by story time), the same on
both databases. A match at least as relevant and at least as new never ranks below another;
equal scores go newer first, then the higher id.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from bot.store.search.query import TOKEN, ParsedQuery

RECENCY_HALF_LIFE_DAYS = 14.0
RELEVANCE_WEIGHT = 0.7
# From here on (CJK, kana, Hangul, full-width forms) a character may end a Latin word glued to it.
GLUE_MIN = "\u2e80"
MAX_CHAR = "\U0010ffff"


class Row(NamedTuple):
    """A match's text and time: what it is ranked on."""

    id: int
    title: str
    summary: str
    when: datetime  # see story_time


def story_time(published: datetime, first_seen: datetime) -> datetime:
    """When a story happened, for "newest": its published time, never later than when it was
    first seen (a date ahead of that is a feed's clock error). A back catalogue stored today
    keeps its old dates."""
    return min(published, first_seen)


def _is_token_char(ch: str) -> bool:
    # As FTS5's unicode61 tokenizer: letters, digits and private-use characters.
    return ch.isalnum() or unicodedata.category(ch) == "Co"


def _word_hits(word: str, hay: str) -> int:
    """Occurrences of `word` as a whole word (a CJK character after it also ends it)."""
    n = 0
    i = hay.find(word)
    while i >= 0:
        left = hay[i - 1] if i else ""
        j = i + len(word)
        right = hay[j] if j < len(hay) else ""
        lsep = not left or not _is_token_char(left)
        rsep = not right or not _is_token_char(right)
        # The second case is what the glue lane answers (see sqlite.sqlite_text_lanes); a CJK
        # character before the word with a space after it is in neither index: no match.
        if (lsep and rsep) or ((lsep or left >= GLUE_MIN) and right >= GLUE_MIN):
            n += 1
        i = hay.find(word, i + 1)
    return n


def _substring_hits(term: str, hay: str) -> float:
    """Occurrences, those at the start of a word counting double (for ranking)."""
    total = hay.count(term)
    if not total:
        return 0.0
    starts = 0
    i = hay.find(term)
    while i >= 0:
        if i == 0 or not _is_token_char(hay[i - 1]):
            starts += 1
        i = hay.find(term, i + 1)
    return 0.5 * (total + starts)


def _phrase_hits(tokens: Sequence[str], hay_tokens: Sequence[str]) -> int:
    n, k = 0, len(tokens)
    for i, tok in enumerate(hay_tokens):
        if tok == tokens[0] and list(hay_tokens[i : i + k]) == list(tokens):
            n += 1
    return n


class Matcher:
    """The exact test for a set of terms, whichever index found the candidate."""

    def __init__(self, terms: Sequence[str]) -> None:
        pq = ParsedQuery(tuple(terms))
        self.terms = pq.terms
        self.words = pq.words
        self.phrases = {p: TOKEN.findall(p) for p in pq.phrases}
        self.substrings = pq.substrings

    def matches(self, title: str, summary: str) -> bool:
        """True when the title or the summary holds every term."""
        t, s = title.lower(), summary.lower()
        for w in self.words:
            if not (_word_hits(w, t) or _word_hits(w, s)):
                return False
        if not all(x in t or x in s for x in self.substrings):
            return False
        if self.phrases:
            # Every word present somewhere is cheap to test and rules most candidates out.
            for toks in self.phrases.values():
                if not all(w in t or w in s for w in toks):
                    return False
            tt, st = TOKEN.findall(t), TOKEN.findall(s)
            for toks in self.phrases.values():
                if not (_phrase_hits(toks, tt) or _phrase_hits(toks, st)):
                    return False
        return True

    def relevance(self, title: str, summary: str, source_hit: bool) -> float:
        """0..1: term hits weighted title > source > summary, plus a bonus for the phrase."""
        if not self.terms:
            return 0.0
        t, s = title.lower(), summary.lower()
        tt, st = (TOKEN.findall(t), TOKEN.findall(s)) if self.phrases else ([], [])
        raw = 0.0
        for term in self.terms:
            if term in self.words:
                th, sh = float(_word_hits(term, t)), float(_word_hits(term, s))
            elif term in self.phrases:
                toks = self.phrases[term]
                th, sh = float(_phrase_hits(toks, tt)), float(_phrase_hits(toks, st))
            else:
                th, sh = _substring_hits(term, t), _substring_hits(term, s)
            raw += 3.0 * min(2.0, th) + 1.0 * min(4.0, sh)
            if source_hit:
                raw += 2.0
        if len(self.terms) > 1 and " ".join(self.terms) in t:
            raw += 4.0
        raw /= len(self.terms)
        return raw / (raw + 4.0)


def relevance(terms: Sequence[str], title: str, summary: str, source_hit: bool) -> float:
    """How well a story matches `terms`, 0..1 (see Matcher.relevance)."""
    return Matcher(terms).relevance(title, summary, source_hit)


def recency(when: datetime, now: datetime) -> float:
    """1 now, halving every RECENCY_HALF_LIFE_DAYS."""
    age_days = max(0.0, (now - when).total_seconds() / 86400.0)
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def rank(
    rows: Iterable[Row], terms: Sequence[str], from_feeds: set[int], now: datetime
) -> list[int]:
    """Ids of `rows`, best and newest first; `from_feeds` holds those that match by source."""
    matcher = Matcher(terms)
    scored: list[tuple[float, datetime, int]] = []
    for r in rows:
        rec = recency(min(r.when, now), now)
        if terms:
            rel = matcher.relevance(r.title, r.summary, r.id in from_feeds)
            score = RELEVANCE_WEIGHT * rel + (1 - RELEVANCE_WEIGHT) * rec
        else:
            score = rec
        scored.append((score, r.when, r.id))
    scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
    return [sid for _, _, sid in scored]
