"""Cross-source story grouping by title: pure functions and a small in-memory index.

Two outlets carrying the same wire story produce near-identical headlines ("EU agrees AI Act
deal" / "EU agrees AI Act deal - Reuters"). Different stories often differ by a single name
("EU fines Meta over AI" / "EU fines Google over AI"), so plain fuzzy similarity is not enough:
we also refuse to merge when each title has a meaningful word the other lacks.
"""

from __future__ import annotations

import heapq
import itertools
import re
import sys
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Generic

from rapidfuzz import fuzz, process
from typing_extensions import TypeVar

# ----------------------------------------------------------------------------- keys

# Trailing " - Source" / " | Source" segments are dropped when short and the rest is a
# headline of its own; separators must have spaces around them so "AI-driven" is safe.
_SUFFIX_SEP_RE = re.compile(r"\s+(?:[-|–—•·:]{1,2}|::)\s+")
_SUFFIX_MAX_WORDS = 4
_SUFFIX_MAX_CHARS = 40
_MIN_REST_WORDS = 3
# Wire-service prefixes such as "UPDATE 2-" or "EXCLUSIVE:" say nothing about the story.
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:update|corrected|refile|exclusive|breaking|analysis|factbox|explainer|"
    r"live|watch|video|opinion)(?:\s*\d+)?\s*[-:|]+\s*)+",
    re.IGNORECASE,
)
_APOSTROPHES = "'’ʼ`´"
_POSSESSIVE_RE = re.compile(r"(?<=\w)['’ʼ]s\b", re.IGNORECASE)
# Outlets whose name is stripped from either end even when the rest is a short headline.
KNOWN_SOURCES: frozenset[str] = frozenset(
    {"reuters", "ap", "ap news", "associated press", "afp", "bloomberg", "bbc", "bbc news",
     "the verge", "politico", "politico europe", "the guardian", "guardian", "financial times",
     "ft", "ft.com", "cnn", "cnbc", "techcrunch", "axios", "wired", "the new york times",
     "nytimes", "nyt", "the wall street journal", "wsj", "euractiv", "euronews", "xinhua",
     "新华网", "新华社", "nikkei", "nikkei asia", "yonhap", "the register", "ars technica",
     "the hill", "npr", "al jazeera", "dw", "le monde", "der spiegel", "el país",
     "south china morning post", "scmp", "the economist", "fortune", "forbes", "semafor"}
)  # fmt: skip


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # kana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF  # Han
        or 0xAC00 <= o <= 0xD7A3  # Hangul syllables
        or 0x1100 <= o <= 0x11FF
        or 0x3130 <= o <= 0x318F  # Hangul jamo
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x2FA1F
        or 0x31F0 <= o <= 0x31FF
    )


def _word_count(s: str) -> int:
    return len(_tokens(s))


def _strip_source_suffix(title: str) -> str:
    # Twice: "Deal done - Politics - BBC News" carries two.
    for _ in range(2):
        seps = list(_SUFFIX_SEP_RE.finditer(title))
        if not seps:
            break
        rest, tail = title[: seps[-1].start()].strip(), title[seps[-1].end() :].strip()
        known = tail.casefold() in KNOWN_SOURCES
        if (known and rest) or (
            _word_count(tail) <= _SUFFIX_MAX_WORDS
            and len(tail) <= _SUFFIX_MAX_CHARS
            and _word_count(rest) >= _MIN_REST_WORDS
        ):
            title = rest
        else:
            break
    return title


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    """Key form of one character: punctuation/symbols/spaces become a space; letters are
    case-folded and lose their accents, except CJK, where marks change the word."""
    if ch in _APOSTROPHES or unicodedata.category(ch)[0] in "PSZC":
        return " "
    if _is_cjk(ch):
        return ch
    decomposed = unicodedata.normalize("NFKD", ch.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_ASCII_NON_WORD_RE = re.compile(r"[^a-z0-9]+")
# "U.S." and "U.K." are written both ways; fold the dotted form into the plain one.
_DOTTED_ACRONYM_RE = re.compile(r"\b((?:[A-Za-z]\.){2,})")


def title_key(title: str) -> str:
    """Comparable form of a headline: case-folded, unaccented (CJK kept), no punctuation,
    no source suffix (" - Reuters") or wire prefix ("UPDATE 2-"), whitespace folded."""
    if not title:
        return ""
    t = unicodedata.normalize("NFKC", title)
    t = " ".join(t.split())
    t = _PREFIX_RE.sub("", t)
    t = _strip_source_suffix(t)
    t = _POSSESSIVE_RE.sub("", t)  # "Meta's AI" and "Meta AI" are the same headline
    t = _DOTTED_ACRONYM_RE.sub(lambda m: m.group(1).replace(".", "") + " ", t)
    if t.isascii():  # the common case, without a per-character loop
        return _ASCII_NON_WORD_RE.sub(" ", t.lower()).strip()
    return " ".join("".join(map(_fold_char, t)).split())


def _tokens(key: str) -> list[str]:
    """Words of a key; runs of CJK characters become one token per character."""
    if key.isascii():
        return key.split()
    toks: list[str] = []
    for word in key.split():
        buf = ""
        for ch in word:
            if _is_cjk(ch):
                if buf:
                    toks.append(buf)
                    buf = ""
                toks.append(ch)
            else:
                buf += ch
        if buf:
            toks.append(buf)
    return toks


# ----------------------------------------------------------------------------- comparison

MIN_TOKENS = 4  # shorter titles must match exactly
SIMILARITY = 88.0  # rapidfuzz ratio (0-100) on the keys
_QUICK_REJECT = 60.0  # below this ratio not even the one-inserted-word rule can hold
_TOKEN_SIMILARITY = 80.0  # inflections: "rule"/"rules", "agrees"/"agreed"
_INSERTION_MIN_CORE = 5  # meaningful words a title needs before one added word is tolerated
_PREFIX_LEN = 4  # fuzzy-paired words must share this prefix (also the index key)
# Words whose substitution does not change the story ("fines Meta over AI" / "on AI").
STOPWORDS: frozenset[str] = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "over",
     "and", "or", "as", "is", "are", "was", "be", "its", "it", "this", "that", "after",
     "into", "amid", "about", "de", "la", "le", "les", "des", "du", "et", "der", "die", "das",
     "und", "el", "los", "las", "y", "en"}
)  # fmt: skip


def _stem(token: str) -> str:
    return token[:_PREFIX_LEN]


def _tokens_pair(a: str, b: str) -> bool:
    """Same word up to inflection: words with digits and short words only match exactly."""
    if a == b:
        return True
    if len(a) < _PREFIX_LEN or len(b) < _PREFIX_LEN or _stem(a) != _stem(b):
        return False
    if not (a.isalpha() and b.isalpha()):  # "2023"/"2024", "gpt4"/"gpt5"
        return False
    return fuzz.ratio(a, b) >= _TOKEN_SIMILARITY


def _unmatched(a: Sequence[str], b: Sequence[str]) -> tuple[list[str], list[str]]:
    """Tokens of each side with no equal or inflected counterpart on the other side."""
    ca, cb = Counter(a), Counter(b)
    common = ca & cb
    only_a = list((ca - common).elements())
    by_stem: dict[str, list[str]] = {}
    for u in (cb - common).elements():
        by_stem.setdefault(_stem(u), []).append(u)
    left_a: list[str] = []
    for t in only_a:
        group = by_stem.get(_stem(t), [])  # pairs always share a stem: look only there
        for i, u in enumerate(group):
            if _tokens_pair(t, u):
                del group[i]
                break
        else:
            left_a.append(t)
    return left_a, [u for group in by_stem.values() for u in group]


def _shared_numbers(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """The tokens of `a` with a digit that `b` has too, in `a`'s order."""
    in_b = {t for t in b if not t.isalpha()}
    return [t for t in a if t in in_b and any(c.isdigit() for c in t)]


def _is_subsequence(short: Sequence[str], long: Sequence[str]) -> bool:
    it = iter(long)
    return all(any(_tokens_pair(t, u) for u in it) for t in short)


def _surely_swapped(ta: Sequence[str], tb: Sequence[str]) -> bool:
    """True when each side has a meaningful word with no equal or same-stem word on the other.

    Such words can pair with nothing in `_unmatched`, so both sides keep a meaningful unmatched
    word and `_same` says no; this finds that with a few set operations instead of Counters.
    """
    sa, sb = set(ta), set(tb)
    stems_b = {_stem(u) for u in sb}
    if not any(t not in STOPWORDS and _stem(t) not in stems_b for t in sa - sb):
        return False
    stems_a = {_stem(t) for t in sa}
    return any(u not in STOPWORDS and _stem(u) not in stems_a for u in sb - sa)


def _same(ka: str, ta: Sequence[str], kb: str, tb: Sequence[str]) -> bool:
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    if len(ta) < MIN_TOKENS or len(tb) < MIN_TOKENS:
        return False
    # A headline of nothing but stopwords names no story: it only ever matches exactly.
    if all(t in STOPWORDS for t in ta) or all(t in STOPWORDS for t in tb):
        return False
    ratio = fuzz.ratio(ka, kb, score_cutoff=_QUICK_REJECT)
    if not ratio:  # far below anything either rule below accepts
        return False
    if _surely_swapped(ta, tb):  # the common "same template, other name or number" case
        return False
    only_a, only_b = _unmatched(ta, tb)
    sig_a = [t for t in only_a if t not in STOPWORDS]
    sig_b = [t for t in only_b if t not in STOPWORDS]
    # A meaningful word swapped for another (Meta -> Google, 2023 -> 2024) is a new story.
    if sig_a and sig_b:
        return False
    # Numbers carry identity ("part 2 of 3" / "part 3 of 2", "bill 12, section 4"): the ones
    # both titles share must come in the same order, however similar the rest is.
    if _shared_numbers(ta, tb) != _shared_numbers(tb, ta):
        return False
    if ratio >= SIMILARITY:
        return True
    # One extra meaningful word ("landmark") in an otherwise identical headline of at least
    # five meaningful words, in the same order, is still the same headline. Shorter ones are
    # too easily a different story ("EU fines Meta" / "EU fines Meta and Google").
    # Word order matters too: "Meta sues EU" is not "EU sues Meta".
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    core = [t for t in short if t not in STOPWORDS]
    return (
        len(sig_a) + len(sig_b) <= 1
        and len(core) >= _INSERTION_MIN_CORE
        and _is_subsequence(core, [t for t in long if t not in STOPWORDS])
    )


def same_story(a_title: str, b_title: str) -> bool:
    """True when two headlines are the same story: near-identical after `title_key`."""
    ka, kb = title_key(a_title), title_key(b_title)
    return _same(ka, _tokens(ka), kb, _tokens(kb))


# ----------------------------------------------------------------------------- index


# Whatever the caller identifies stories by (int primary keys, strings); unannotated use is Any.
StoryId = TypeVar("StoryId", default=Any)


# Stems that a stopword of four letters or more also has ("about" / "abouts"): a query word with
# one of them may pair with a stopword, which the index does not record, so lookups skip them.
_STOP_STEMS = frozenset(_stem(w) for w in STOPWORDS if len(w) >= _PREFIX_LEN)


@dataclass(slots=True)
class _Entry(Generic[StoryId]):
    # No tuple of the key's words: they are split again for the few entries a lookup
    # compares in full, and 100,000 titles kept ~16 MB less.
    story_id: StoryId
    key: str
    stems: tuple[str, ...]  # distinct stems of the meaningful words, interned
    sig: str | None  # the stem this entry is filed under for "all my words are in the query"
    when: datetime


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


class RecentTitles(Generic[StoryId]):
    """Recently seen titles -> story ids, for grouping the same story across sources.

    Holds at most `max_size` titles from the last `window`; the oldest go first.

    A title can only be the same story as the query when one of the two has no meaningful
    word left unpaired (see `_same`): either it holds a word of every meaningful stem of the
    query, or all its own meaningful stems are among the query's. Lookups gather exactly those
    two groups, the first by intersecting stem postings (rarest first), the second from
    titles filed under one of their stems (`_Entry.sig`, the rarest when added), and compare
    only them, so a lookup costs little however many titles share common words.
    """

    _MAX_CANDIDATES = 64  # full comparisons per lookup, best-overlap first

    def __init__(self, window: timedelta = timedelta(hours=72), max_size: int = 100_000) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.window = window
        self.max_size = max_size
        self._entries: dict[int, _Entry[StoryId]] = {}
        self._by_key: dict[str, int] = {}  # exact key -> newest entry with it
        # Stem -> ids of the entries with it, and stem -> ids of the entries filed under it.
        # Arrays of ids in insertion order (an eighth of a set's memory); evicted ids stay
        # until `_compact` drops them, and lookups skip ids no longer in `_entries`.
        self._postings: dict[str, array[int]] = {}
        self._filed: dict[str, array[int]] = {}
        self._dead = 0  # evicted ids still in the arrays
        self._live = 0  # ids of live entries in the arrays
        self._heap: list[tuple[datetime, int]] = []  # (when, id): oldest first
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, story_id: StoryId, title: str, when: datetime) -> None:
        key = title_key(title)
        if not key:
            return
        when = _aware(when)
        tokens = _tokens(key)
        stems = self._stems(tokens)
        # Filed under its rarest stem now: that keeps each filing list short.
        sig = min(stems, key=lambda st: len(self._postings.get(st, ()))) if stems else None
        entry = _Entry(story_id, key, stems, sig, when)
        eid = next(self._ids)
        self._entries[eid] = entry
        newest = self._by_key.get(key)
        if newest is None or self._entries[newest].when <= when:
            self._by_key[entry.key] = eid
        for stem in stems:
            self._postings.setdefault(stem, array("q")).append(eid)
        if sig is not None:
            self._filed.setdefault(sig, array("q")).append(eid)
        self._live += len(stems) + (sig is not None)
        heapq.heappush(self._heap, (when, eid))
        while len(self._entries) > self.max_size:
            self._evict_oldest()

    def find(self, title: str, now: datetime) -> StoryId | None:
        """The story id of a recent title that is the same story, or None."""
        now = _aware(now)
        self.prune(now)
        key = title_key(title)
        if not key:
            return None
        cutoff = now - self.window
        eid = self._by_key.get(key)
        if eid is not None and self._entries[eid].when >= cutoff:
            return self._entries[eid].story_id
        tokens = _tokens(key)
        if len(tokens) < MIN_TOKENS:
            return None  # short titles only ever match exactly
        best: tuple[float, datetime, StoryId] | None = None
        for cand in self._candidates(key, tokens):
            entry = self._entries[cand]
            if entry.when < cutoff or not _same(key, tokens, entry.key, _tokens(entry.key)):
                continue
            score = (fuzz.ratio(key, entry.key), entry.when, entry.story_id)
            if best is None or score[:2] > best[:2]:
                best = score
        return best[2] if best else None

    def prune(self, now: datetime) -> None:
        """Forget titles older than the window."""
        cutoff = _aware(now) - self.window
        while self._heap and self._heap[0][0] < cutoff:
            self._evict_oldest()

    # -- internals

    @staticmethod
    def _stems(tokens: Sequence[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(sys.intern(_stem(t)) for t in tokens if t not in STOPWORDS))

    def _candidates(self, key: str, tokens: Sequence[str]) -> list[int]:
        """Entries that may be the same story (see the class docstring), oldest first."""
        mine = {_stem(t) for t in tokens if t not in STOPWORDS}
        testable = [st for st in mine if st not in _STOP_STEMS]
        if not testable:
            return []  # nothing but stopwords: such titles only match exactly
        entries = self._entries
        found: set[int] = set()
        # Entries with every meaningful stem of the query: walk the shortest posting.
        postings = [self._postings.get(st) for st in testable]
        if all(p is not None for p in postings):
            by_length = sorted((p for p in postings if p is not None), key=len)
            shortest = by_length[0]
            if len(by_length) > 1 and len(by_length[1]) <= 16 * len(shortest):
                # Cheap enough to let C intersect the two shortest first.
                pool: Iterable[int] = set(shortest).intersection(by_length[1])
            else:
                pool = shortest
            for eid in pool:
                entry = entries.get(eid)
                if entry is not None and all(map(entry.stems.__contains__, testable)):
                    found.add(eid)
        # Entries whose meaningful stems all occur in the query: filed under one of them.
        # (map over __contains__: these loops run a few hundred times per lookup)
        everything = {_stem(t) for t in tokens}
        inside = everything.__contains__
        for st in everything:
            for eid in self._filed.get(st, ()):
                entry = entries.get(eid)
                if entry is not None and eid not in found and all(map(inside, entry.stems)):
                    found.add(eid)
        if len(found) <= self._MAX_CANDIDATES:
            return sorted(found)
        # Common words everywhere ("EU", "AI", "Act"): rank the survivors by similarity in
        # rapidfuzz's C loop and compare in full only the best few.
        choices = {eid: self._entries[eid].key for eid in sorted(found)}
        ranked = process.extract(
            key,
            choices,
            scorer=fuzz.ratio,
            limit=self._MAX_CANDIDATES,
            score_cutoff=_QUICK_REJECT,
        )
        return sorted(eid for _, _, eid in ranked)

    def _evict_oldest(self) -> None:
        _, eid = heapq.heappop(self._heap)
        entry = self._entries.pop(eid, None)
        if entry is None:
            return
        if self._by_key.get(entry.key) == eid:
            del self._by_key[entry.key]
        dead = len(entry.stems) + (entry.sig is not None)
        self._live -= dead
        self._dead += dead
        if not self._entries:
            self._postings.clear()
            self._filed.clear()
            self._dead = 0
        elif self._dead > max(self._live, 4096):
            self._compact()

    def _compact(self) -> None:
        """Drop evicted ids from the arrays (amortised: only once as many are dead as live)."""
        entries = self._entries
        for index in (self._postings, self._filed):
            for stem in list(index):
                kept = array("q", (eid for eid in index[stem] if eid in entries))
                if kept:
                    index[stem] = kept
                else:
                    del index[stem]
        self._dead = 0
