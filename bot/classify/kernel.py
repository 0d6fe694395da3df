"""The classifier's hot loop: one pass over an item's matches, sentence by sentence.

Everything else in the classifier is ordinary Python; this module is where the time goes
(setup.py compiles it to C with mypyc, as it does the matcher and the steps after the kernel).
It keeps the tricks that pay off there and nowhere else: kinds as small integer constants,
each lexicon entry's numbers worked out once into a Rule, noisy-ors kept as running products,
evidence records built without their Python-level constructor, and the match-to-hit
conversion inlined.

The pass yields a Scan: the evidence of every hit, per-sentence AI, compute and governance
evidence, the negatives, and the hits that the jurisdiction, topic and instrument steps read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.classify.matcher import Candidates
from bot.verdict import Evidence

# Lexicon kinds as small integers for the per-hit dispatch (rules.KIND_CODES maps the names).
AI: Final = 0
COMPUTE: Final = 1
GOV: Final = 2
AI_GOV: Final = 3
INSTITUTION: Final = 4
INSTRUMENT: Final = 5
ACTOR: Final = 6
JUR: Final = 7
NEG: Final = 8
TOPIC: Final = 9
NEUTRAL: Final = 10
CONTEXT: Final = 11

ACTOR_GOV: Final = 0.3  # a governmental actor alone is weak governance evidence
# `near: [actor]` wants a governmental word, a leader or a country as the subject of its
# sentence, not a country named in passing ("charge tied to H20 exports to China").
NEAR_ACTOR: Final = 0.9
# "India launches...": a country as the subject of its sentence is its government.
GOVERNMENT_ROLE: Final = ("executive-action",)
_FAR: Final = 1 << 62  # beyond any text offset
# Kinds that are governance evidence at full weight and may carry AI evidence.
_STRONG_GOV_NAMES: Final = frozenset({"ai_governance", "institution", "instrument"})
_SUBJECT_OPENERS: Final = " \"'\u201c\u2018([:-"
_POSSESSIVE: Final = ("'s", "\u2019s")
# Context ("rather than a new law", "AI推進法に基づき"): its scope ends at the clause's end.
_CLAUSE_STOP: Final = re.compile(
    r"[,;:!?()\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f]|(?<![A-Z])\.(?:\s|$)"
)


@dataclass(slots=True)
class Rule:
    """What one lexicon entry means to the classifier, worked out once when it is built
    (rules.compile_rule), so that every step reads plain attributes per hit."""

    kind: int  # the entry's kind as one of the codes above
    kind_name: str  # ... and as the lexicon names it (Evidence.rule)
    term: str
    label: str
    ident: str
    weight: float
    ai: float  # the AI evidence a governance entry carries
    needs_actor: bool  # weak governance: counts times its sentence's actor
    detail: str  # Evidence.detail
    topics: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    near: tuple[int, ...]  # kinds one of which its sentence must hold
    from_actor: bool  # an approval verb: takes its actor's role as topic
    generic: bool
    scope: str  # a context's direction: "after", "before" or "around"
    window: int  # ... and reach, in characters
    unless_actor: bool  # a context that a governmental subject voids
    compute_cue: bool  # makes chips AI evidence
    topical: bool  # a hit that carries topics
    extra: bool  # compute_cue, jurisdictions or topical: a hit other steps read
    actor_strength: float  # a place as the governmental actor of its sentence
    q: float  # 1 - its weight as evidence of a noisy-or
    q_actor: float  # ... as a governmental actor's weak governance evidence
    q_summary: float  # ... as a negative in the summary
    base: float  # its weight as jurisdiction evidence
    jur_mode: int  # how that weight is found (jurisdictions.PLAIN, ATTRIBUTIVE, DEMONYM)
    jur_modifier: bool  # a place named only as a modifier ("US-made")
    topic_weight: float
    headline_topic: bool  # in the title, states its topic outright
    topic_role: int  # what a topic hit is to the topics step (topics.ROLE, VERB, BODY, CUE)
    names_instrument: bool  # its topic names a legal instrument ("bill", "decree")


# A hit that names a jurisdiction: (hit index, start, end, field, segment, rule).
JurHit = tuple[int, int, int, str, int, Rule]
# A hit that carries topics: (segment, field, start, rule, the topics it gives: the rule's,
# or fewer where a context shields some).
TopicHit = tuple[int, str, int, Rule, tuple[str, ...]]
# A context's scope: (field, start, end, rule).
Scope = tuple[str, int, int, Rule]
# A sentence's evidence: (segment, AI, compute, governance); segment 0 is the title.
Segment = tuple[int, float, float, float]


class Scan:
    """What the pass over an item's matches found."""

    def __init__(
        self,
        evidence: list[Evidence],
        segments: list[Segment],
        seg_actor: dict[int, float],
        q_neg_title: float,
        q_neg_summary: float,
        compute_cue: bool,
        jur_hits: list[JurHit],
        topic_hits: list[TopicHit],
        contexts: list[Scope],
        near_cues: bool,
        instruments: list[Rule],
    ) -> None:
        self.evidence = evidence  # one record per hit, in text order
        self.n_hits = len(evidence)  # (later records are the score's and the hints')
        self.segments = segments  # the sentences with hits, in order
        self.seg_actor = seg_actor  # the strongest governmental actor of each sentence
        self.q_neg_title = q_neg_title  # 1 - the negatives' noisy-or, in the title
        self.q_neg_summary = q_neg_summary  # ... and in the summary
        self.compute_cue = compute_cue  # a cue that makes chips AI evidence
        self.jur_hits = jur_hits
        self.topic_hits = topic_hits
        self.contexts = contexts
        self.near_cues = near_cues  # a topic hit with `near` companions to check
        self.instruments = instruments  # the instrument hits' rules


def scope(text: str, start: int, end: int, r: Rule) -> tuple[int, int]:
    """The words a context governs: after it, before it (SOV languages: "AI推進法に基づき")
    or around it ("250 millions d'euros d'amende"), within the clause and the rule's window."""
    lo, hi = end, start
    if r.scope != "after":  # before, around
        lo = max(0, start - r.window)
        for m in _CLAUSE_STOP.finditer(text, lo, start):
            lo = m.end()
    if r.scope != "before":  # after, around
        hi = min(len(text), end + r.window)
        stop = _CLAUSE_STOP.search(text, end, hi)
        if stop:
            hi = stop.start()
    return lo, hi


def _clip(v: float) -> float:
    """A piece of evidence as a probability for a noisy-or: at most 0.99, at least 0."""
    return 0.0 if v <= 0.0 else (v if v < 0.99 else 0.99)


def _close(
    seg: int,
    ai: float,
    comp: float,
    actor: float,
    q_gov: float,
    weak: list[float],
    title_actor: float,
) -> Segment:
    """A sentence's evidence once all its hits are seen: weak governance words count times
    the sentence's actor (in the summary, at least half the title's)."""
    if weak:
        if seg:
            actor = max(actor, 0.5 * title_actor)
        for w in weak:
            v = w * actor
            q_gov *= 1.0 - (0.0 if v <= 0.0 else (v if v < 0.99 else 0.99))
    return seg, ai, comp, 1.0 - q_gov


def scan(found: Candidates, title: str, summary: str, weak_terms: frozenset[str]) -> Scan:
    """One pass over the matches (sorted by position, so sentence by sentence). Noisy-ors are
    kept as running products of (1 - evidence), in the order the evidence comes. Matches
    become hits here as in Matcher.hits(), inlined. A hit's index is its place in the
    evidence. `weak_terms`: the governance terms that need an actor."""
    spans, joined, n_title, sum_start, starts = found
    new = tuple.__new__  # builds an Evidence without the Python-level constructor
    evidence: list[Evidence] = []
    add_evidence = evidence.append
    segments: list[Segment] = []
    jur_hits: list[JurHit] = []
    topic_hits: list[TopicHit] = []
    contexts: list[Scope] = []
    seg_actor: dict[int, float] = {}
    instruments: list[Rule] = []
    # The scope of a background context ("amid scrutiny from lawmakers"): governance
    # evidence in it counts times the context's weight, until this offset of this field.
    bg_field, bg_end, bg_factor = "", -1, 1.0
    compute_cue = False
    near_cues = False
    cur = -1
    ai = comp = actor = title_actor = 0.0
    q_gov = q_neg_title = q_neg_summary = 1.0
    weak: list[float] = []  # needs-actor words of the sentence, weighed at its end
    # The longest match so far: (-end, start). Spans come by start, longest first, so a
    # span is inside an earlier one unless it reaches further or repeats the last kept
    # span (whose end is always the furthest yet).
    min_neg_end = 1
    last_start = -1
    # The summary's sentence of a match, bisect_right(starts, start): matches come in
    # order, so the count of sentence starts at or before them only moves forward.
    sentence = 0
    n_starts = len(starts)
    next_start = starts[0]
    r: Rule
    for start, neg_end, _, rule in spans:
        # Longest match wins: drop a match inside a longer one (same span: keep all).
        if neg_end < min_neg_end:
            min_neg_end = neg_end
            last_start = start
        elif neg_end > min_neg_end or start != last_start:
            continue
        r = rule  # (typed: the compiled build reads its fields directly)
        end = -neg_end
        text = joined[start:end]
        if start < n_title:
            fld = "title"
            seg = 0
        else:
            fld = "summary"
            while start >= next_start:
                sentence += 1
                next_start = starts[sentence] if sentence < n_starts else _FAR
            seg = sentence
            start -= sum_start
            end -= sum_start
        if seg != cur:
            if cur >= 0:
                segments.append(
                    _close(cur, ai, comp, actor, q_gov, weak, title_actor)
                    if weak
                    else (cur, ai, comp, 1.0 - q_gov)
                )
                seg_actor[cur] = actor
                if cur == 0:
                    title_actor = actor
            cur = seg
            ai = comp = actor = 0.0
            q_gov = 1.0
            if weak:
                weak = []
        add_evidence(
            new(Evidence, (r.kind_name, r.term, text, fld, start, end, r.weight, r.detail))
        )
        k = r.kind
        if k == GOV:
            if start < bg_end and fld is bg_field:
                w = r.weight * bg_factor
                if r.needs_actor:
                    weak.append(w)
                else:
                    q_gov *= 1.0 - _clip(w)
            elif r.needs_actor:
                weak.append(r.weight)
            else:
                q_gov *= r.q
        elif k == NEG:
            if seg:
                q_neg_summary *= r.q_summary
            else:
                q_neg_title *= r.q
        elif k == JUR:
            strength = r.actor_strength
            if strength:
                # A place that opens the headline ("China seeks...", "Beijing tightens...")
                # or owns something ("Korea's AI law") is the actor of the story, not a
                # passing mention.
                if (
                    summary[end : end + 2] in _POSSESSIVE
                    if seg
                    else (
                        not title[:start].strip(_SUBJECT_OPENERS)
                        or title[end : end + 2] in _POSSESSIVE
                    )
                ):
                    strength = 1.0
                    if "INTL" not in r.jurisdictions:
                        topic_hits.append((seg, fld, start, r, GOVERNMENT_ROLE))
                        if r.near:
                            near_cues = True
                if strength > actor:
                    actor = strength
        elif k == AI:
            if r.weight > ai:
                ai = r.weight
        elif k == ACTOR:
            if r.weight > actor:
                actor = r.weight
            if start < bg_end and fld is bg_field:
                q_gov *= 1.0 - _clip(ACTOR_GOV * r.weight * bg_factor)
            else:
                q_gov *= r.q_actor
        elif k == COMPUTE:
            if r.weight > comp:
                comp = r.weight
        elif k in (AI_GOV, INSTITUTION, INSTRUMENT):
            if start < bg_end and fld is bg_field:
                q_gov *= 1.0 - _clip(r.weight * bg_factor)
            else:
                q_gov *= r.q
            if r.ai > ai:
                ai = r.ai
            if k != AI_GOV and actor < 1.0:
                actor = 1.0
            if k == INSTRUMENT:
                instruments.append(r)
        elif k == CONTEXT:
            if r.unless_actor and actor >= NEAR_ACTOR:
                continue  # a governmental subject's words: "EU regulators say it complies"
            lo, hi = scope(title if fld == "title" else summary, start, end, r)
            contexts.append((fld, lo, hi, r))
            if r.weight < 1.0:
                if r.scope != "before":
                    bg_field, bg_end, bg_factor = fld, hi, r.weight
                if r.scope != "after":
                    # The governance words before it in its scope (read back from the
                    # evidence of its clause) count times its weight.
                    n_weak = len(weak)
                    for e in reversed(evidence[:-1]):
                        if e[3] is not fld or e[4] < lo:
                            break
                        kind = e[0]
                        if kind == "governance" and e[1] in weak_terms:
                            n_weak -= 1
                            if n_weak >= 0:
                                weak[n_weak] *= r.weight
                        elif kind == "governance" or kind in _STRONG_GOV_NAMES:
                            w = e[6]
                            q_gov *= (1.0 - _clip(w * r.weight)) / (1.0 - _clip(w))
            continue
        if r.extra:
            if r.compute_cue:
                compute_cue = True
            if r.jurisdictions:
                jur_hits.append((len(evidence) - 1, start, end, fld, seg, r))
            if r.topical:
                topic_hits.append((seg, fld, start, r, r.topics))
                if r.near:
                    near_cues = True
    if cur >= 0:
        segments.append(
            _close(cur, ai, comp, actor, q_gov, weak, title_actor)
            if weak
            else (cur, ai, comp, 1.0 - q_gov)
        )
        seg_actor[cur] = actor
    return Scan(
        evidence,
        segments,
        seg_actor,
        q_neg_title,
        q_neg_summary,
        compute_cue,
        jur_hits,
        topic_hits,
        contexts,
        near_cues,
        instruments,
    )
