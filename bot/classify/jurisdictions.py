"""Jurisdictions: which governments' policy the item is about, as codes (US, EU, CN, INTL...).

Every hit that names a place counts, by what kind of hit it is, where it stands (the title
counts double) and what its sentence holds (governance and AI evidence make it likelier the
actor). A place only ever named as a modifier ("US-made chips", "a China-based start-up") is
not at stake; a demonym names one only next to a governmental word ("Dutch watchdog"). Repeat
mentions add less and less. The feeds' hints add a little, and fill in when the text is silent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.classify.evidence import HINT_WEIGHT, hint_evidence
from bot.classify.folding import is_wide, lower_same_length
from bot.classify.kernel import JurHit
from bot.verdict import Evidence

# How a hit's weight as jurisdiction evidence is found (Rule.jur_mode): its own, or it may be a
# modifier of the noun after it ("US journal"), or a demonym weighed by its neighbours.
PLAIN, ATTRIBUTIVE, DEMONYM = range(3)

KIND_WEIGHT = {"institution": 1.2, "instrument": 1.5, "actor": 0.8, "governance": 1.0}
OTHER_KIND_WEIGHT = 0.6
ATTRIBUTIVE_WEIGHT = 0.3  # "the US journal", "a China-based start-up": a modifier, not an actor
_TITLE = 2.0
_MIN = 1.0  # absolute score a code needs
_RELATIVE = 0.25  # ... and this share of the best country's score
_REPEAT_DECAY = 0.7
_MULTILATERAL = "INTL"  # never the best country: many countries' bodies
# A demonym names a jurisdiction at stake next to a governmental word ("Dutch watchdog",
# "il governo italiano"); otherwise it mostly describes a company or people ("Chinese AI app").
_DEMONYM_GOVERNMENTAL = 1.0
_DEMONYM_ALONE = 0.2
_FOLLOWING_WORDS = re.compile(r"(?:[ \-]+[\w'\u2019]+){1,3}")  # the next three words at most
_SHORT_GAP = re.compile(r"[ \-]+(?:[\w'\u2019]+[ \-]+)?")  # spaces and at most one word
# The next three words, each with its offset: (?: -+(word)) three times.
_NEXT_THREE = re.compile(
    r"[ \-]+([\w'\u2019\-]+)(?:[ \-]+([\w'\u2019\-]+))?(?:[ \-]+([\w'\u2019\-]+))?"
)
# Governmental words: next to a place they tell how it is used ("US lawmakers", "Dutch
# watchdog"); bodies (actors, institutions) may also stand before a demonym.
_GOV_WORD_KINDS = frozenset({"governance", "actor", "institution", "ai_governance", "instrument"})
_NOUN_KINDS = frozenset({"actor", "institution"})  # "il governo italiano"

# The nouns a place may modify: (all of them, lower-cased; those in a wide script, as a tuple
# for str.startswith).
Nouns = tuple[frozenset[str], tuple[str, ...]]
# A governmental word in an item: (field, start, end, is a body: actor or institution).
_Span = tuple[str, int, int, bool]


def nouns(words: set[str]) -> Nouns:
    """The lexicon's `modified_nouns` as jurisdictions() reads them."""
    return frozenset(words), tuple(sorted(n for n in words if is_wide(n[0])))


def jurisdictions(
    jur_hits: Sequence[JurHit],
    evidence: list[Evidence],
    n_hits: int,
    seg_ai: list[float],
    seg_gov: list[float],
    hints: Sequence[str],
    title: str,
    summary: str,
    modified: Nouns,
) -> tuple[str, ...]:
    """The codes at stake, the strongest first. The first `n_hits` records of `evidence` are
    the hits'; the hints' are added to it."""
    mentions, first_seen, acting = _mentions(
        jur_hits, evidence, n_hits, seg_ai, seg_gov, title, summary, modified
    )
    scores = {code: _decayed(values) for code, values in mentions.items()}
    for code in hint_evidence(hints, evidence) if hints else ():
        scores[code] = scores.get(code, 0.0) + HINT_WEIGHT
        first_seen.setdefault(code, n_hits)
    if not scores:
        return ()
    best = max((v for c, v in scores.items() if c != _MULTILATERAL), default=0.0)
    chosen = [
        c for c, v in scores.items() if v >= _MIN and (c == _MULTILATERAL or v >= _RELATIVE * best)
    ]
    if len(chosen) > 1 and len(acting.intersection(chosen)) < len(chosen):
        chosen = [c for c in chosen if c in acting] or chosen
    # Hints alone never outweigh what the text says, but fill in when it says nothing.
    if not chosen:
        hinted = [str(h).strip().upper() for h in hints if str(h).strip()]
        chosen = list(dict.fromkeys(hinted))
    if len(chosen) > 1:
        chosen.sort(key=lambda c: (-scores[c], first_seen[c]))
    return tuple(chosen)


def _mentions(
    jur_hits: Sequence[JurHit],
    evidence: list[Evidence],
    n_hits: int,
    seg_ai: list[float],
    seg_gov: list[float],
    title: str,
    summary: str,
    modified: Nouns,
) -> tuple[dict[str, list[float]], dict[str, int], set[str]]:
    """(code -> the value of each span naming it, code -> its first hit, the codes named at
    least once as more than a modifier: a place only ever named as what describes a firm or
    a product, "US-made chips", "米新興企業", is not at stake)."""
    mentions: dict[str, list[float]] = {}
    first_seen: dict[str, int] = {}
    acting: set[str] = set()
    # One span counts once per code even when several lexicon entries share its text
    # ("China" the country and "china", Spanish for Chinese). Hits of one span are adjacent.
    span_field, span_start = "", -1
    span_best: dict[str, float] = {}
    # The governmental words, from the evidence when a place first needs them (rarely).
    gov_spans: list[_Span] | None = None
    for n, start, end, fld, seg, r in jur_hits:
        text = title if fld == "title" else summary
        base = r.base
        modifier = r.jur_modifier
        if r.jur_mode == ATTRIBUTIVE:
            # "the US journal Science", "U.S. tech giants": a place before a noun that it only
            # describes is a modifier, not the actor ("US lawmakers", "Australia and" are)...
            noun = _modified_noun_at(text, end, modified)
            if noun >= 0:
                if gov_spans is None:
                    gov_spans = _gov_spans(evidence, n_hits)
                # ... unless a governmental word comes first: "US AI export rules for firms"
                if not any(f == fld and end <= g < noun for f, g, _, _ in gov_spans):
                    base = ATTRIBUTIVE_WEIGHT
            modifier = base <= ATTRIBUTIVE_WEIGHT
        elif r.jur_mode == DEMONYM:
            if gov_spans is None:
                gov_spans = _gov_spans(evidence, n_hits)
            governmental = _next_to_governance(text, fld, start, end, gov_spans)
            base = _DEMONYM_GOVERNMENTAL if governmental else _DEMONYM_ALONE
            modifier = base <= ATTRIBUTIVE_WEIGHT
        field_weight = _TITLE if seg == 0 else (1.0 if seg == 1 else 0.8)
        proximity = 1.0
        if seg_gov[seg] > 0.2:
            proximity += 0.3
        if seg_ai[seg] > 0.0:
            proximity += 0.2
        value = base * field_weight * proximity
        if start != span_start or fld != span_field:
            span_field, span_start = fld, start
            span_best = {}
        for code in r.jurisdictions:
            if not modifier:
                acting.add(code)
            first_seen.setdefault(code, n)
            prev = span_best.get(code, 0.0)
            if value > prev:
                mentions.setdefault(code, []).append(value - prev)
                span_best[code] = value
    return mentions, first_seen, acting


def _decayed(values: list[float]) -> float:
    """Repeated mentions add less and less (1, 0.7, 0.49...): a host named three times
    should not crowd out the other countries a summit story lists once."""
    total = 0.0
    f = 1.0
    for v in sorted(values, reverse=True):
        total += f * v
        f *= _REPEAT_DECAY
    return total


def _gov_spans(evidence: Sequence[Evidence], n_hits: int) -> list[_Span]:
    """The governmental words among an item's hits (the first `n_hits` of its evidence)."""
    return [
        (e[3], e[4], e[5], e[0] in _NOUN_KINDS)
        for e in evidence[:n_hits]
        if e[0] in _GOV_WORD_KINDS
    ]


def _next_to_governance(text: str, fld: str, start: int, end: int, gov: Sequence[_Span]) -> bool:
    """Does a governmental word follow within three words ("Chinese AI regulators") or a
    governmental body come just before ("le gouvernement français", "il Garante italiano")?
    (A verb before does not count: "blocks Chinese app".)"""
    reach = -1
    for g_fld, g_start, g_end, body in gov:
        if g_fld != fld:
            continue
        if end <= g_start < end + 60:
            if reach < 0:
                m = _FOLLOWING_WORDS.match(text, end)
                reach = m.end() if m else end
            if g_start < reach:
                return True
        elif body and start - 40 <= g_end <= start and _SHORT_GAP.fullmatch(text, g_end, start):
            return True
    return False


def _modified_noun_at(text: str, end: int, nouns: Nouns) -> int:
    """Where a noun that the place ending at `end` may describe starts, within the next
    three words ("U.S. facial recognition company"), or -1. One regex, no other table."""
    c = text[end : end + 1]
    if c != " " and c != "-":  # ", ", "'s", the end: no noun follows
        if c and "\u30a0" <= c <= "\u30ff":
            return end  # 米パープレキシティ: a place glued to a katakana name is a firm's origin
        # 米企業, 中国企业 (only a wide noun can start at a wide character)
        return end if text.startswith(nouns[1], end) else -1
    m = _NEXT_THREE.match(text, end)
    if m is None:
        return -1
    words, wide = nouns
    for i, w in enumerate(m.groups(), 1):
        if w is None:
            break
        lw = w.lower() if w.isascii() else lower_same_length(w)
        if lw in words:
            return m.start(i)
        if lw.startswith(wide) and is_wide(w[0]):
            return m.start(i)  # Korean nouns carry particles: 기업들, 업체가
    return -1
