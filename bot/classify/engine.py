"""The classifier: lexicon matches -> relevance score, jurisdictions, topics, instruments.

Relevance needs AI evidence and governance evidence *together*: in the title, in one sentence
of the summary, or (weaker) one in the title and the other in the summary. Weak governance
words ("launches", "plan", "alliance", "blocks") count only next to a governmental actor, so
"Google launches an AI lab" is not policy while "Trump launches an AI mission" is. Negative
cues (funding rounds, research results, product launches, sport, theatre) scale the score down
without vetoing it, so a real policy story that mentions a start-up still gets through.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from bot.classify.lexicon import Entry, Lexicon, is_wide, load_lexicon, make_entry
from bot.classify.matcher import Matcher
from bot.classify.verdict import TOPICS, Evidence, Verdict

DEFAULT_THRESHOLD = 0.5
_FAR = 1 << 62  # beyond any text offset
_TAGS_SHARE_OF_THRESHOLD = 0.5  # items scoring at least this share of the threshold get tags

# Field weights: the title says what the story is about; later sentences drift.
_SUMMARY_SENTENCE_WEIGHT = (0.0, 0.85, 0.75, 0.6)
_N_SENTENCE_WEIGHTS = len(_SUMMARY_SENTENCE_WEIGHT)
_LAST_WEIGHT = _SUMMARY_SENTENCE_WEIGHT[-1]  # ... and for every later sentence
_CROSS_WEIGHT = 0.6  # AI in the title, governance only in the summary (or the reverse)
_NEGATIVE_STRENGTH = 3.0  # log-odds a full-strength negative takes away
_ACTOR_GOV = 0.3  # a governmental actor alone is weak governance evidence
# Compute/chip terms are AI evidence only when the item is about export controls or public
# industrial policy (chip export bans, CHIPS Act grants); "AI chip maker raises $1bn" is not.
_COMPUTE_TOPICS = frozenset({"export-controls", "public-investment", "legislation"})
_COMPUTE_ELSEWHERE = 0.3

# Jurisdiction attribution.
_JUR_KIND_WEIGHT = {"institution": 1.2, "instrument": 1.5, "actor": 0.8, "governance": 1.0}
_JUR_TITLE = 2.0
_JUR_MIN = 1.0  # absolute score a code needs
_JUR_RELATIVE = 0.25  # ... and this share of the best country's score
_JUR_REPEAT_DECAY = 0.7
_HINT_WEIGHT = 0.5
_ATTRIBUTIVE_WEIGHT = 0.3  # "the US journal", "a China-based start-up": a modifier, not an actor
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

# Context ("rather than a new law", "under the AI Act", "AI推進法に基づき"): how far its scope
# reaches, in characters, up to the end of the clause.
_SCOPE_LATIN = 50
_SCOPE_WIDE = 16
_CLAUSE_STOP = re.compile(
    r"[,;:!?()\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f]|(?<![A-Z])\.(?:\s|$)"
)

# Topics.
_TOPIC_MIN = 0.8
_TOPIC_RELATIVE = 0.45
_TOPIC_MAX = 3
_TOPIC_HEADLINE = 0.85
_COOPERATION = "international-cooperation"
_REGULATION = "regulation"
_LEGISLATION = "legislation"
_STANDARDS = "standards-safety"
_COOPERATION_PARTNERS = 2.0  # cooperation cues weigh double when several jurisdictions act
_TOPIC_ORDER = {t: i for i, t in enumerate(TOPICS)}
# What an approval verb's object may name for itself: a cabinet approving a bill is
# legislation, not also executive action; approving a plan or a fund is both.
_INSTRUMENT_TOPICS = frozenset({"legislation", "regulation", "executive-action"})
_GOVERNMENT_ROLE = ("executive-action",)
_ROLE_RELATIVE = 0.7  # actors' roles, the last resort: the main one or two
_ROLE_MAX = 2

# Country names from pycountry that are too often something else in news text.
_AMBIGUOUS_COUNTRY_NAMES = frozenset(
    {
        "jersey", "georgia", "jordan", "chad", "guinea", "niger", "turkey", "dominica",
        "mali", "togo", "cuba", "panama", "peru", "monaco", "samoa", "bermuda", "aruba",
        "guam", "jamaica", "malta", "cyprus", "iceland",
    }
)  # fmt: skip


def _clip(v: float) -> float:
    """A piece of evidence as a probability for a noisy-or: at most 0.99, at least 0. (The hot
    loops spell this out inline.)"""
    return 0.0 if v <= 0.0 else (v if v < 0.99 else 0.99)


# Kinds as small integers for the per-hit dispatch.
(
    _AI,
    _COMPUTE,
    _GOV,
    _AI_GOV,
    _INSTITUTION,
    _INSTRUMENT,
    _ACTOR,
    _JUR,
    _NEG,
    _TOPIC,
    _NEUTRAL,
    _CONTEXT,
) = range(12)
_KIND_CODE = {
    "ai": _AI,
    "compute": _COMPUTE,
    "governance": _GOV,
    "ai_governance": _AI_GOV,
    "institution": _INSTITUTION,
    "instrument": _INSTRUMENT,
    "actor": _ACTOR,
    "jurisdiction": _JUR,
    "negative": _NEG,
    "topic": _TOPIC,
    "neutral": _NEUTRAL,
    "context": _CONTEXT,
}
_NEAR_CODE = {"ai": _AI, "compute": _COMPUTE, "actor": _ACTOR}
# `near: [actor]` wants a governmental word, a leader or a country as the subject of its
# sentence, not a country named in passing ("charge tied to H20 exports to China").
_NEAR_ACTOR = 0.9
# Kinds whose topics say what the item is about (and so whether chips count as AI evidence).
_TOPIC_KINDS = frozenset({"governance", "ai_governance", "institution", "instrument", "topic"})
# Governmental words: next to a place they tell how it is used ("US lawmakers", "Dutch
# watchdog"); bodies (actors, institutions) may also stand before a demonym.
_GOV_WORD_KINDS = frozenset({"governance", "actor", "institution", "ai_governance", "instrument"})
_NOUN_KINDS = frozenset({"actor", "institution"})  # "il governo italiano"
# Kinds that are governance evidence at full weight and may carry AI evidence.
_STRONG_GOV_KINDS = frozenset({_AI_GOV, _INSTITUTION, _INSTRUMENT})
_STRONG_GOV_NAMES = frozenset({"ai_governance", "institution", "instrument"})
_SUBJECT_OPENERS = " \"'\u201c\u2018([:-"
_POSSESSIVE = ("'s", "\u2019s")
# How a jurisdiction hit's weight is found (_Rule.jur_mode).
_JUR_PLAIN, _JUR_ATTRIBUTIVE, _JUR_DEMONYM = range(3)
# What a topic hit is to _topics (_Rule.topic_role): an actor's role, an approval verb taking
# the actor's role, a body (cue and role), or a cue.
_ROLE, _VERB, _BODY, _CUE = range(4)


class _Rule:
    """What one lexicon entry means to the scorer, worked out once at load time so that the
    per-hit loop reads plain attributes instead of re-deriving them ~20 times per item."""

    __slots__ = (
        "actor_strength",
        "ai",
        "attributive",
        "base",
        "compute_cue",
        "demonym",
        "detail",
        "extra",
        "from_actor",
        "generic",
        "headline",
        "headline_topic",
        "ident",
        "jur_mode",
        "jur_modifier",
        "jurisdictions",
        "kind",
        "kind_name",
        "label",
        "names_instrument",
        "near",
        "needs_actor",
        "q",
        "q_actor",
        "q_summary",
        "scope",
        "term",
        "topic_role",
        "topic_weight",
        "topical",
        "topics",
        "unless_actor",
        "weight",
        "window",
    )

    def __init__(self, e: Entry, detail: str) -> None:
        self.kind = _KIND_CODE[e.kind]
        self.kind_name = e.kind
        self.term = e.term
        self.label = e.label
        self.ident = e.ident
        self.weight = e.weight
        self.ai = e.ai
        self.needs_actor = e.needs_actor
        self.detail = detail
        self.topics = e.topics
        self.jurisdictions = e.jurisdictions
        # Only a specific cue makes chips AI evidence: "invest", "billion" or "sell" next to
        # "chips" is as often company news ("TSMC to invest $100bn in chip plants").
        self.compute_cue = (
            bool(set(e.topics) & _COMPUTE_TOPICS)
            and e.kind in _TOPIC_KINDS
            and not e.generic
            and not e.near
        )
        self.from_actor = e.from_actor
        self.near = tuple(_NEAR_CODE[k] for k in e.near)
        self.scope = e.scope
        self.unless_actor = e.unless_actor
        self.window = _SCOPE_WIDE if e.term and is_wide(e.term[0]) else _SCOPE_LATIN
        self.topical = bool(e.topics or e.from_actor)  # a topic hit
        self.extra = bool(self.compute_cue or e.jurisdictions or self.topical)
        # A jurisdiction name as a governmental actor of its sentence: "weak" cues are not.
        self.actor_strength = 0.0 if e.label == "weak" else (0.35 if e.label == "demonyms" else 0.6)
        # Jurisdiction attribution: a place's own weight, other kinds a fixed one.
        self.base = e.weight if e.kind == "jurisdiction" else _JUR_KIND_WEIGHT.get(e.kind, 0.6)
        self.attributive = e.kind == "jurisdiction" and e.label in ("names", "capitals")
        self.demonym = e.kind == "jurisdiction" and e.label == "demonyms"
        self.generic = e.generic
        w = e.weight if e.weight > 0 else 0.6
        self.topic_weight = min(w, 1.0)
        self.headline = w >= _TOPIC_HEADLINE and not e.needs_actor
        # What _jurisdictions and _topics ask of every hit, decided once.
        if self.attributive and self.base > _ATTRIBUTIVE_WEIGHT:
            self.jur_mode = _JUR_ATTRIBUTIVE  # a modifier when a noun it describes follows
        elif self.demonym:
            self.jur_mode = _JUR_DEMONYM  # an actor next to a governmental word
        else:
            self.jur_mode = _JUR_PLAIN
        self.jur_modifier = self.base <= _ATTRIBUTIVE_WEIGHT and (self.attributive or self.demonym)
        self.headline_topic = self.headline and not e.generic and not e.from_actor
        if self.kind == _ACTOR or self.kind == _JUR:
            self.topic_role = _ROLE
        elif e.from_actor:
            self.topic_role = _VERB
        elif self.kind == _INSTITUTION:
            self.topic_role = _BODY
        else:
            self.topic_role = _CUE
        self.names_instrument = not e.needs_actor and bool(
            _INSTRUMENT_TOPICS.intersection(e.topics)
        )
        # Factors of the noisy-or products: governance or negative evidence, a governmental
        # actor's weak governance evidence, a negative in the summary.
        self.q = 1.0 - _clip(e.weight)
        self.q_actor = 1.0 - _clip(_ACTOR_GOV * e.weight)
        self.q_summary = 1.0 - _clip(e.weight * 0.6)


# A hit that names a jurisdiction: (hit index, start, end, field, segment, rule).
_JurHit = tuple[int, int, int, str, int, _Rule]
# A hit that carries topics: (segment, field, start, rule, the topics it gives: the rule's,
# or fewer where a context shields some).
_TopicHit = tuple[int, str, int, _Rule, tuple[str, ...]]
# A context's scope: (field, start, end, rule).
_Scope = tuple[str, int, int, _Rule]


def _scope(text: str, start: int, end: int, r: _Rule) -> tuple[int, int]:
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


def _in_context(
    hits: list[_TopicHit],
    contexts: Sequence[_Scope],
    segments: Sequence[tuple[int, float, float, float]],
    seg_actor: dict[int, float],
) -> list[_TopicHit]:
    """Topic hits without the topics their context shields ("opts against a new AI law" is
    not legislation) and without `near` cues whose companion is missing from the sentence."""
    out: list[_TopicHit] = []
    have: dict[int, tuple[float, float]] | None = None  # sentence -> (AI, compute), if asked
    for hit in hits:
        seg, fld, start, r, topics = hit
        if r.near:
            if have is None:
                have = {i: (a, c) for i, a, c, _ in segments}
            a, c = have.get(seg, (0.0, 0.0))
            for k in r.near:
                if (
                    a > 0.0
                    if k == _AI
                    else (c > 0.0 if k == _COMPUTE else seg_actor.get(seg, 0.0) >= _NEAR_ACTOR)
                ):
                    break
            else:
                continue  # no companion in the sentence
        kept = topics
        for c_fld, lo, hi, ctx in contexts:
            if c_fld == fld and lo <= start < hi and ctx.topics:
                kept = tuple(t for t in kept if t not in ctx.topics)
        if kept is topics:
            out.append(hit)  # (a topic hit has topics or takes the actor's)
        elif kept or r.from_actor:
            out.append((seg, fld, start, r, kept))
    return out


def _close(
    seg: int,
    ai: float,
    comp: float,
    actor: float,
    q_gov: float,
    weak: list[float],
    title_actor: float,
) -> tuple[int, float, float, float]:
    """A sentence's (segment, AI, compute, governance) once all its hits are seen: weak
    governance words count times the sentence's actor (in the summary, at least half the
    title's)."""
    if weak:
        if seg:
            actor = max(actor, 0.5 * title_actor)
        for w in weak:
            v = w * actor
            q_gov *= 1.0 - (0.0 if v <= 0.0 else (v if v < 0.99 else 0.99))
    return seg, ai, comp, 1.0 - q_gov


# The nouns a place may modify: (all of them, lower-cased; those in a wide script, as a tuple
# for str.startswith).
_Nouns = tuple[frozenset[str], tuple[str, ...]]


def _nouns(words: set[str]) -> _Nouns:
    return frozenset(words), tuple(sorted(n for n in words if is_wide(n[0])))


# A governmental word in an item: (field, start, end, is a body: actor or institution).
_Span = tuple[str, int, int, bool]


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


def _modified_noun_at(text: str, end: int, nouns: _Nouns) -> int:
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
    words = nouns[0]
    wide = nouns[1]
    for i, w in enumerate(m.groups(), 1):
        if w is None:
            break
        lw = w.lower()
        if lw in words:
            return m.start(i)
        if lw.startswith(wide) and is_wide(w[0]):
            return m.start(i)  # Korean nouns carry particles: 기업들, 업체가
    return -1


def _pycountry_entries(lex: Lexicon) -> list[Entry]:
    """English names of every country and US state not already in the curated gazetteer, so
    that the long tail (Chile, Vietnam, Colorado...) is covered without hand-typing it."""
    try:
        import pycountry
    except ImportError:  # pragma: no cover - a declared dependency, but stay usable without
        return []
    known = {e.key for e in lex.entries}
    out: list[Entry] = []
    char_map: dict[int, str] = {}

    def add(code: str, name: str | None, label: str, weight: float) -> None:
        if not name or "," in name or "(" in name:
            return
        key = name.lower()
        if key in known or key in _AMBIGUOUS_COUNTRY_NAMES:
            return
        known.add(key)
        out.append(
            make_entry(
                "jurisdiction",
                name,
                char_map,
                case=False,
                weight=weight,
                jurisdictions=(code,),
                label=label,
                source="pycountry",
            )
        )

    for c in pycountry.countries:
        add(c.alpha_2, getattr(c, "common_name", None), "names", 1.0)
        add(c.alpha_2, c.name, "names", 1.0)
    for s in pycountry.subdivisions.get(country_code="US") or ():
        if s.type == "State":
            add("US", s.name, "places", 0.8)
    return out


class Classifier:
    """Pure, stateless after load: safe to share between threads."""

    def __init__(self, lexicon: Lexicon, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.lexicon = lexicon
        self.threshold = threshold
        self.matcher = Matcher(lexicon, lambda e: _Rule(e, _detail(e)))
        self._nouns = _nouns(lexicon.modified_nouns)
        # Governance words weighed by their sentence's actor (kept in `weak`, not in q_gov).
        self._weak_terms = frozenset(
            e.term for e in lexicon.entries if e.kind == "governance" and e.needs_actor
        )

    @classmethod
    def load(
        cls, extra_lexicons: Sequence[Path] = (), threshold: float | None = None
    ) -> Classifier:
        lex = load_lexicon(extra_lexicons)
        lex.entries.extend(_pycountry_entries(lex))
        return cls(lex, DEFAULT_THRESHOLD if threshold is None else threshold)

    # --- the decision -----------------------------------------------------------------------

    def classify(
        self,
        title: str | None,
        summary: str | None = "",
        lang: str | None = None,
        hints: Sequence[str] = (),
    ) -> Verdict:
        title = title or ""
        summary = summary or ""
        lang_code = _LANG_CODES.get(lang) if lang.__class__ is str else None
        if lang_code is None:
            lang_code = _norm_lang(lang)
            if lang_code and len(_LANG_CODES) < 256 and lang.__class__ is str:
                _LANG_CODES[lang] = lang_code
        spans, joined, n_title, sum_start, starts = self.matcher.candidates(
            title, summary, lang_code
        )
        new = tuple.__new__  # builds an Evidence without the Python-level constructor

        # One pass over the matches (sorted by position, so sentence by sentence): the
        # evidence list, per-sentence AI/governance/actor evidence, negatives, and the hits
        # that the jurisdiction and topic steps need. Noisy-ors are kept as running products
        # of (1 - evidence), in the order the evidence comes. Matches become hits here as in
        # Matcher.hits(), inlined: this loop is most of the classifier's time. A hit's index
        # is its place in `evidence`.
        evidence: list[Evidence] = []
        add_evidence = evidence.append
        segments: list[tuple[int, float, float, float]] = []  # (segment, ai, compute, gov)
        jur_hits: list[_JurHit] = []
        topic_hits: list[_TopicHit] = []
        contexts: list[_Scope] = []
        seg_actor: dict[int, float] = {}  # the strongest governmental actor of each sentence
        # The scope of a background context ("amid scrutiny from lawmakers"): governance
        # evidence in it counts times the context's weight, until this offset of this field.
        bg_field, bg_end, bg_factor = "", -1, 1.0
        instruments: list[str] = []
        compute_cue = False
        near_cues = False  # a topic hit with `near` companions to check
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
        r: _Rule
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
            if k == _GOV:
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
            elif k == _NEG:
                if seg:
                    q_neg_summary *= r.q_summary
                else:
                    q_neg_title *= r.q
            elif k == _JUR:
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
                        # "India launches...": a country as the subject is its government
                        if "INTL" not in r.jurisdictions:
                            topic_hits.append((seg, fld, start, r, _GOVERNMENT_ROLE))
                            if r.near:
                                near_cues = True
                    if strength > actor:
                        actor = strength
            elif k == _AI:
                if r.weight > ai:
                    ai = r.weight
            elif k == _ACTOR:
                if r.weight > actor:
                    actor = r.weight
                if start < bg_end and fld is bg_field:
                    q_gov *= 1.0 - _clip(_ACTOR_GOV * r.weight * bg_factor)
                else:
                    q_gov *= r.q_actor
            elif k == _COMPUTE:
                if r.weight > comp:
                    comp = r.weight
            elif k in _STRONG_GOV_KINDS:
                if start < bg_end and fld is bg_field:
                    q_gov *= 1.0 - _clip(r.weight * bg_factor)
                else:
                    q_gov *= r.q
                if r.ai > ai:
                    ai = r.ai
                if k != _AI_GOV and actor < 1.0:
                    actor = 1.0
                if k == _INSTRUMENT:
                    name = self.lexicon.instruments.get(r.ident, r.label)
                    if name and name not in instruments:
                        instruments.append(name)
            elif k == _CONTEXT:
                if r.unless_actor and actor >= _NEAR_ACTOR:
                    continue  # a governmental subject's words: "EU regulators say it complies"
                text_f = title if fld == "title" else summary
                scope = _scope(text_f, start, end, r)
                contexts.append((fld, scope[0], scope[1], r))
                if r.weight < 1.0:
                    if r.scope != "before":
                        bg_field, bg_end, bg_factor = fld, scope[1], r.weight
                    if r.scope != "after":
                        # The governance words before it in its scope (read back from the
                        # evidence of its clause) count times its weight.
                        lo = scope[0]
                        n_weak = len(weak)
                        for e in reversed(evidence[:-1]):
                            if e[3] is not fld or e[4] < lo:
                                break
                            kind = e[0]
                            if kind == "governance" and e[1] in self._weak_terms:
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
        n_hits = len(evidence)

        # AI and governance together: in the title, in one summary sentence, or across.
        compute_factor = 1.0 if compute_cue else _COMPUTE_ELSEWHERE
        n_segs = cur + 1 if cur >= 0 else 1
        seg_ai = [0.0] * n_segs
        seg_gov = [0.0] * n_segs
        pair_title = 0.0
        q_summary = 1.0
        ai_sum = gov_sum = 0.0
        for i, s_ai, s_comp, g in segments:
            c = s_comp * compute_factor
            a = s_ai if s_ai >= c else c
            seg_ai[i] = a
            seg_gov[i] = g
            if i == 0:
                pair_title = a * g
            else:
                v = (
                    a
                    * g
                    * (_SUMMARY_SENTENCE_WEIGHT[i] if i < _N_SENTENCE_WEIGHTS else _LAST_WEIGHT)
                )
                q_summary *= 1.0 - (0.0 if v <= 0.0 else (v if v < 0.99 else 0.99))
                if a > ai_sum:
                    ai_sum = a
                if g > gov_sum:
                    gov_sum = g
        pair_summary = 1.0 - q_summary
        ai_title = seg_ai[0]
        gov_title = seg_gov[0]
        x = ai_title * gov_sum
        y = ai_sum * gov_title
        cross = _CROSS_WEIGHT * (y if y > x else x)  # max(x, y)
        # The noisy-ors of _clip()ped evidence, spelled out.
        positive = 1.0 - (
            (1.0 - (0.0 if pair_title <= 0.0 else (pair_title if pair_title < 0.99 else 0.99)))
            * (
                1.0
                - (0.0 if pair_summary <= 0.0 else (pair_summary if pair_summary < 0.99 else 0.99))
            )
            * (1.0 - (0.0 if cross <= 0.0 else (cross if cross < 0.99 else 0.99)))
        )
        x = 1.0 - q_neg_title
        y = 1.0 - q_neg_summary
        negative = 1.0 - (1.0 - (0.0 if x <= 0.0 else (x if x < 0.99 else 0.99))) * (
            1.0 - (0.0 if y <= 0.0 else (y if y < 0.99 else 0.99))
        )
        # Negatives push in log-odds space: they sink middling evidence but leave a clear
        # "AI law passed" title standing even when the summary talks about start-ups.
        if positive <= 0.0:
            score = 0.0
        else:
            p = 0.995 if positive > 0.995 else positive  # min(positive, 0.995)
            logit = math.log(p / (1.0 - p)) - _NEGATIVE_STRENGTH * negative
            score = 1.0 / (1.0 + math.exp(-logit))
        score = round(min(max(score, 0.0), 1.0), 4)
        relevant = score >= self.threshold and score > 0.0

        if pair_title > 0:
            add_evidence(
                new(Evidence, ("score", "pair-title", "", "", -1, -1, round(pair_title, 4), ""))
            )
        if pair_summary > 0:
            add_evidence(
                new(Evidence, ("score", "pair-summary", "", "", -1, -1, round(pair_summary, 4), ""))
            )
        if cross > 0:
            add_evidence(
                new(Evidence, ("score", "pair-cross", "", "", -1, -1, round(cross, 4), ""))
            )
        if negative > 0:
            add_evidence(
                new(Evidence, ("score", "negatives", "", "", -1, -1, round(negative, 4), ""))
            )

        # Jurisdictions and topics describe AI-governance news: they are worked out for relevant
        # items and near misses (half the threshold or more: a miss still says where and what);
        # other items have none, as the labels define them.
        if relevant or score >= self.threshold * _TAGS_SHARE_OF_THRESHOLD:
            jurisdictions = _jurisdictions(
                jur_hits,
                n_hits,
                seg_ai,
                seg_gov,
                hints,
                evidence,
                title,
                summary,
                self._nouns,
            )
            if contexts or near_cues:
                topic_hits = _in_context(topic_hits, contexts, segments, seg_actor)
            topics = _topics(topic_hits, relevant, jurisdictions, seg_actor)
        else:
            jurisdictions = topics = ()
            if hints:
                _hint_evidence(hints, evidence)
        # (positional: a keyword call costs a third more)
        return Verdict(relevant, score, jurisdictions, topics, tuple(instruments), tuple(evidence))


def _jurisdictions(
    jur_hits: Sequence[_JurHit],
    n_hits: int,
    seg_ai: list[float],
    seg_gov: list[float],
    hints: Sequence[str],
    evidence: list[Evidence],
    title: str,
    summary: str,
    nouns: _Nouns,
) -> tuple[str, ...]:
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    # One span counts once per code even when several lexicon entries share its text
    # ("China" the country and "china", Spanish for Chinese). Hits of one span are adjacent.
    span_field, span_start = "", -1
    span_best: dict[str, float] = {}
    mentions: dict[str, list[float]] = {}  # code -> value of each span naming it
    # Codes named at least once as more than a modifier: a place only ever named as what
    # describes a firm or a product ("US-made chips", "米新興企業") is not at stake.
    acting: set[str] = set()
    # The governmental words, from the evidence when a place first needs them (rarely).
    gov_spans: list[_Span] | None = None
    last_seg = -1
    fw = prox = 1.0
    for n, start, end, fld, seg, r in jur_hits:
        mode = r.jur_mode
        if mode == _JUR_PLAIN:
            base = r.base
            modifier = r.jur_modifier
        elif mode == _JUR_ATTRIBUTIVE:
            # "the US journal Science", "U.S. tech giants": a place before a noun that it only
            # describes is a modifier, not the actor ("US lawmakers", "Australia and" are).
            base = r.base
            noun = _modified_noun_at(title if fld == "title" else summary, end, nouns)
            # ... unless a governmental word comes first: "US AI export rules for firms"
            if noun >= 0:
                if gov_spans is None:
                    gov_spans = _gov_spans(evidence, n_hits)
                if not any(f == fld and end <= g < noun for f, g, _, _ in gov_spans):
                    base = _ATTRIBUTIVE_WEIGHT
            modifier = base <= _ATTRIBUTIVE_WEIGHT
        else:
            text = title if fld == "title" else summary
            if gov_spans is None:
                gov_spans = _gov_spans(evidence, n_hits)
            base = (
                _DEMONYM_GOVERNMENTAL
                if _next_to_governance(text, fld, start, end, gov_spans)
                else _DEMONYM_ALONE
            )
            modifier = base <= _ATTRIBUTIVE_WEIGHT
        if seg != last_seg:  # hits come sentence by sentence
            last_seg = seg
            fw = _JUR_TITLE if seg == 0 else (1.0 if seg == 1 else 0.8)
            prox = 1.0
            if seg_gov[seg] > 0.2:
                prox += 0.3
            if seg_ai[seg] > 0.0:
                prox += 0.2
        value = base * fw * prox
        if start != span_start or fld != span_field:
            span_field, span_start = fld, start
            span_best = {}
        for code in r.jurisdictions:
            if not modifier:
                acting.add(code)
            prev = span_best.get(code, 0.0)
            if value > prev:
                values = mentions.get(code)
                if values is None:
                    mentions[code] = [value - prev]
                    first_seen.setdefault(code, n)
                else:  # (seen before)
                    values.append(value - prev)
                span_best[code] = value
            elif code not in first_seen:
                first_seen[code] = n
    # Repeated mentions add less and less (1, 1/2, 1/4...): a host named three times should
    # not crowd out the other countries a summit story lists once.
    for code, values in mentions.items():
        if len(values) == 1:
            scores[code] = values[0]
            continue
        if len(values) == 2:
            a, b = values
            scores[code] = a + _JUR_REPEAT_DECAY * b if a >= b else b + _JUR_REPEAT_DECAY * a
            continue
        values.sort(reverse=True)
        total = 0.0
        f = 1.0
        for v in values:
            total += f * v
            f *= _JUR_REPEAT_DECAY
        scores[code] = total
    for code in _hint_evidence(hints, evidence) if hints else ():
        scores[code] = scores.get(code, 0.0) + _HINT_WEIGHT
        first_seen.setdefault(code, n_hits)
    if not scores:
        return ()
    best = 0.0
    for c, v in scores.items():
        if c != "INTL" and v > best:
            best = v
    chosen = [
        c for c, v in scores.items() if v >= _JUR_MIN and (c == "INTL" or v >= _JUR_RELATIVE * best)
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


def _hint_evidence(hints: Sequence[str], evidence: list[Evidence]) -> list[str]:
    """The feeds' jurisdiction hints as codes, each recorded as evidence."""
    codes = []
    for raw in hints:
        code = str(raw).strip().upper()
        if code:
            codes.append(code)
            evidence.append(
                Evidence(rule="hint", term=code, text=code, field="hint", weight=_HINT_WEIGHT)
            )
    return codes


def _topics(
    hits: Sequence[_TopicHit],
    relevant: bool,
    jurisdictions: Sequence[str] = (),
    seg_actor: dict[int, float] | None = None,
) -> tuple[str, ...]:
    """Topic scores from the hits that carry topics; a strong cue in the title states its
    topic outright, others need a share of the best topic's score. Generic cues ("rules",
    "restricts", "regulating") count only when no specific cue decides: "restricts exports of
    AI chips" is export controls, "law regulating AI" is legislation.

    Governmental actors have a role (parliament: legislation, cabinet: executive action):
    an approval verb ("aprueba", "adopts", "beschließt") takes the role of the actor in its
    sentence (or the title's), and when no cue decides, the actors' roles do."""
    specific: dict[str, float] = {}
    generic: dict[str, float] = {}
    role_hits: list[tuple[tuple[str, ...], float]] = []  # actors' roles, weighed if needed
    seg_roles: dict[int, set[str]] = {}
    verbs: list[tuple[int, float]] = []
    named: set[int] = set()  # sentences with a specific cue of their own ("bill", "decree")
    headline: set[str] = set()
    # Several jurisdictions acting together make cooperation words mean international
    # cooperation; a multilateral jurisdiction (INTL) makes it the topic outright. Weak
    # cooperation words ("agree", "pledges", "deal") with one country acting are not.
    partners = "INTL" in jurisdictions or len(jurisdictions) >= 2
    for seg, _, _, r, cue_topics in hits:
        if seg == 0:
            if r.headline_topic:
                headline.update(cue_topics)
            w = r.topic_weight * 2.0
        else:
            w = r.topic_weight * (_SUMMARY_SENTENCE_WEIGHT[seg] if seg < 4 else _LAST_WEIGHT)
        role = r.topic_role
        if role == _CUE:
            # (a context may have taken some of the rule's topics away)
            if r.names_instrument if cue_topics is r.topics else _names_instrument(r, cue_topics):
                named.add(seg)
        elif role == _ROLE:
            seg_roles.setdefault(seg, set()).update(cue_topics)
            role_hits.append((cue_topics, w))
            continue
        elif role == _VERB:
            verbs.append((seg, w))
            continue
        else:  # a body's topic is its role too: "CNJ aprova", "G20 aprova"
            seg_roles.setdefault(seg, set()).update(cue_topics)
        scores = generic if r.generic else specific
        if r.needs_actor and not partners:
            for t in cue_topics:
                if t != _COOPERATION:
                    scores[t] = scores.get(t, 0.0) + w
        else:
            for t in cue_topics:
                scores[t] = scores.get(t, 0.0) + w
    for seg, w in verbs:
        for t in seg_roles.get(seg) or seg_roles.get(0) or ():
            # ... unless what a government or an agency approves is a legal instrument with a
            # topic of its own: a cabinet approving a bill is legislation, approving a decree
            # executive action. (Whatever a parliament passes is legislation.)
            if seg in named and t != _LEGISLATION:
                continue
            specific[t] = specific.get(t, 0.0) + w
    if partners:
        # ... up to the topic threshold: enough to state the topic, not to crowd out others
        for scores in (specific, generic):
            v = scores.get(_COOPERATION, 0.0)
            if 0.0 < v < _TOPIC_MIN:
                scores[_COOPERATION] = min(v * _COOPERATION_PARTNERS, _TOPIC_MIN)
    if "INTL" in jurisdictions:
        specific[_COOPERATION] = max(specific.get(_COOPERATION, 0.0), _TOPIC_MIN)
        headline.add(_COOPERATION)
    # A multilateral item is cooperation anyway: its many cooperation words do not set the
    # bar for what else it is ("G7 nations set up a working group on AI standards").
    bar = _COOPERATION if "INTL" in jurisdictions else ""
    if bar:
        # ... and what multilateral bodies set is soft law: their rules, guidelines and codes
        # are standards ("G7 agrees international guidelines and a code of conduct")
        for scores in (specific, generic):
            v = scores.pop(_REGULATION, 0.0)
            if v:
                scores[_STANDARDS] = scores.get(_STANDARDS, 0.0) + v
    chosen = _choose_topics(specific, headline, bar)
    if not chosen and generic:
        merged = dict(specific)
        for t, v in generic.items():
            merged[t] = merged.get(t, 0.0) + v
        chosen = _choose_topics(merged, headline, bar)
    roles: dict[str, float] = {}
    if not chosen:
        for cue_topics, w in role_hits:
            for t in cue_topics:
                roles[t] = roles.get(t, 0.0) + w
    if roles:
        # "Carney names Canada's first AI minister": what the actors do, not "other policy"
        best = max(roles.values())
        chosen = sorted(
            (t for t, v in roles.items() if v >= _ROLE_RELATIVE * best),
            key=lambda t: (-roles[t], _TOPIC_ORDER[t]),
        )[:_ROLE_MAX]
    if relevant and not chosen:
        return ("other-policy",)
    return tuple(chosen)


def _names_instrument(r: _Rule, topics: tuple[str, ...]) -> bool:
    return not r.needs_actor and bool(_INSTRUMENT_TOPICS.intersection(topics))


def _choose_topics(scores: dict[str, float], headline: set[str], unbarred: str = "") -> list[str]:
    """Topics with enough score and a share of the best one's (`unbarred` does not count as
    the best)."""
    if not scores:
        return []
    if unbarred and unbarred in scores:
        best = max((v for t, v in scores.items() if t != unbarred), default=0.0)
        best = best or max(scores.values())
    else:
        best = max(scores.values())
    chosen = [
        t
        for t, v in scores.items()
        if v >= _TOPIC_MIN and (v >= _TOPIC_RELATIVE * best or t in headline)
    ]
    if len(chosen) > 1:
        chosen.sort(key=lambda t: (-scores[t], _TOPIC_ORDER[t]))
        del chosen[_TOPIC_MAX:]
    return chosen


def _detail(e: Entry) -> str:
    parts = []
    if e.jurisdictions:
        parts.append(",".join(e.jurisdictions))
    if e.topics:
        parts.append(",".join(e.topics))
    if e.label:
        parts.append(e.label)
    if e.needs_actor:
        parts.append("needs-actor")
    return " ".join(parts)


# Item languages as given -> their codes, as _norm_lang() makes them (a few dozen in practice).
_LANG_CODES: dict[str, str] = {}


def _norm_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    return str(lang).strip().lower()[:2] or None
