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
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bot.classify.lexicon import Entry, Lexicon, load_lexicon, make_entry
from bot.classify.matcher import Hit, Matcher
from bot.classify.verdict import TOPICS, Evidence, Verdict

DEFAULT_THRESHOLD = 0.5

# Field weights: the title says what the story is about; later sentences drift.
_SUMMARY_SENTENCE_WEIGHT = (0.0, 0.85, 0.75, 0.6)
_CROSS_WEIGHT = 0.6  # AI in the title, governance only in the summary (or the reverse)
_NEGATIVE_STRENGTH = 3.0  # log-odds a full-strength negative takes away
_ACTOR_GOV = 0.3  # a governmental actor alone is weak governance evidence
# Compute/chip terms are AI evidence only when the item is about export controls or public
# industrial policy (chip export bans, CHIPS Act grants); "AI chip maker raises $1bn" is not.
_COMPUTE_TOPICS = frozenset({"export-controls", "public-investment", "legislation"})
_COMPUTE_ELSEWHERE = 0.3

# Jurisdiction attribution.
_JUR_KIND_WEIGHT = {"institution": 1.2, "instrument": 1.5, "actor": 0.8}
_JUR_TITLE = 2.0
_JUR_MIN = 1.0  # absolute score a code needs
_JUR_RELATIVE = 0.3  # ... and this share of the best country's score
_HINT_WEIGHT = 0.5
_ATTRIBUTIVE_WEIGHT = 0.6  # "the US journal", "a China-based start-up": a modifier, not an actor
_NEXT_WORD = re.compile(r"[ -]+([^\W\d_][\w-]*)")

# Topics.
_TOPIC_MIN = 0.8
_TOPIC_RELATIVE = 0.45
_TOPIC_MAX = 3
_TOPIC_HEADLINE = 0.85

# Country names from pycountry that are too often something else in news text.
_AMBIGUOUS_COUNTRY_NAMES = frozenset(
    {
        "jersey", "georgia", "jordan", "chad", "guinea", "niger", "turkey", "dominica",
        "mali", "togo", "cuba", "panama", "peru", "monaco", "samoa", "bermuda", "aruba",
        "guam", "jamaica", "malta", "cyprus", "iceland",
    }
)  # fmt: skip


def _noisy_or(values: Sequence[float]) -> float:
    p = 1.0
    for v in values:
        p *= 1.0 - max(0.0, min(v, 0.99))
    return 1.0 - p


class _Segment:
    """What one sentence (or the title) says; plain slots class, several per item."""

    __slots__ = ("actor", "ai", "compute", "gov", "neg", "weak_gov")

    def __init__(self) -> None:
        self.ai = 0.0
        self.compute = 0.0
        self.actor = 0.0
        self.gov: list[float] = []
        self.weak_gov: list[float] = []  # needs an actor
        self.neg: list[float] = []

    def governance(self, actor: float) -> float:
        return _noisy_or([*self.gov, *(w * actor for w in self.weak_gov)])


def _subject_position(h: Hit, title: str, summary: str) -> bool:
    """A place that opens the headline ("China seeks...", "Beijing tightens...") or owns
    something ("Korea's AI law") is the actor of the story, not a passing mention."""
    text = title if h.field == "title" else summary
    if h.field == "title" and not text[: h.start].strip(" \"'\u201c\u2018([:-"):
        return True
    return text[h.end : h.end + 2] in ("'s", "\u2019s")


def _attributive(h: Hit, texts: dict[str, str], gov_starts: set[tuple[str, int]]) -> bool:
    """A place name followed by a lower-case common noun that is not itself governance
    ("the US journal Science") modifies the noun; "US lawmakers" or "China's" do not count."""
    text = texts[h.field]
    m = _NEXT_WORD.match(text, h.end)
    if not m or not m.group(1)[0].islower():
        return False
    return (h.field, m.start(1)) not in gov_starts


def _field_weight(h: Hit) -> float:
    if h.field == "title":
        return 1.0
    return _SUMMARY_SENTENCE_WEIGHT[min(h.segment, len(_SUMMARY_SENTENCE_WEIGHT) - 1)]


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
        self.matcher = Matcher(lexicon)
        # Evidence detail strings, computed once per entry (keyed by identity: entries live as
        # long as the lexicon).
        self._details = {id(e): _detail(e) for e in lexicon.entries}

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
        title: str,
        summary: str = "",
        lang: str | None = None,
        hints: Sequence[str] = (),
    ) -> Verdict:
        title = title or ""
        summary = summary or ""
        hits = self.matcher.scan(title, summary, _norm_lang(lang))
        segs: dict[int, _Segment] = defaultdict(_Segment)
        topic_hint: set[str] = set()
        for h in hits:
            e = h.entry
            s = segs[h.segment]
            k = e.kind
            if k == "ai":
                s.ai = max(s.ai, e.weight)
            elif k == "compute":
                s.compute = max(s.compute, e.weight)
            elif k == "governance":
                (s.weak_gov if e.needs_actor else s.gov).append(e.weight)
                topic_hint.update(e.topics)
            elif k in ("ai_governance", "institution", "instrument"):
                s.gov.append(e.weight)
                s.ai = max(s.ai, e.ai)
                if k != "ai_governance":
                    s.actor = max(s.actor, 1.0)
                topic_hint.update(e.topics)
            elif k == "actor":
                s.actor = max(s.actor, e.weight)
                s.gov.append(_ACTOR_GOV * e.weight)
            elif k == "jurisdiction":
                if e.label != "weak":
                    strength = 0.6 if e.label != "demonyms" else 0.35
                    if _subject_position(h, title, summary):
                        strength = 1.0
                    s.actor = max(s.actor, strength)
            elif k == "negative":
                s.neg.append(e.weight)
            elif k == "topic":
                topic_hint.update(e.topics)

        compute_factor = 1.0 if topic_hint & _COMPUTE_TOPICS else _COMPUTE_ELSEWHERE
        title_seg = segs.get(0, _Segment())
        title_actor = title_seg.actor
        seg_ai: dict[int, float] = {}
        seg_gov: dict[int, float] = {}
        for i, s in segs.items():
            actor = s.actor if i == 0 else max(s.actor, 0.5 * title_actor)
            seg_ai[i] = max(s.ai, s.compute * compute_factor)
            seg_gov[i] = s.governance(actor)

        pair_title = seg_ai.get(0, 0.0) * seg_gov.get(0, 0.0)
        sum_pairs = []
        for i in segs:
            if i == 0:
                continue
            w = _SUMMARY_SENTENCE_WEIGHT[min(i, len(_SUMMARY_SENTENCE_WEIGHT) - 1)]
            sum_pairs.append(seg_ai[i] * seg_gov[i] * w)
        pair_summary = _noisy_or(sum_pairs)
        ai_sum = max((v for i, v in seg_ai.items() if i), default=0.0)
        gov_sum = max((v for i, v in seg_gov.items() if i), default=0.0)
        cross = _CROSS_WEIGHT * max(seg_ai.get(0, 0.0) * gov_sum, ai_sum * seg_gov.get(0, 0.0))
        positive = _noisy_or([pair_title, pair_summary, cross])

        neg_title = _noisy_or(title_seg.neg)
        neg_summary = _noisy_or([w * 0.6 for i, s in segs.items() if i for w in s.neg])
        negative = _noisy_or([neg_title, neg_summary])
        # Negatives push in log-odds space: they sink middling evidence but leave a clear
        # "AI law passed" title standing even when the summary talks about start-ups.
        if positive <= 0.0:
            score = 0.0
        else:
            p = min(positive, 0.995)
            logit = math.log(p / (1.0 - p)) - _NEGATIVE_STRENGTH * negative
            score = 1.0 / (1.0 + math.exp(-logit))
        score = round(min(max(score, 0.0), 1.0), 4)
        relevant = score >= self.threshold and score > 0.0

        details = self._details
        evidence: list[Evidence] = [
            Evidence(
                h.entry.kind,
                h.entry.term,
                h.text,
                h.field,
                h.start,
                h.end,
                h.entry.weight,
                details[id(h.entry)],
            )
            for h in hits
        ]
        for name, value in (
            ("pair-title", pair_title),
            ("pair-summary", pair_summary),
            ("pair-cross", cross),
            ("negatives", negative),
        ):
            if value > 0:
                evidence.append(
                    Evidence(rule="score", term=name, text="", field="", weight=round(value, 4))
                )

        jurisdictions = self._jurisdictions(
            hits, seg_ai, seg_gov, hints, evidence, {"title": title, "summary": summary}
        )
        topics = self._topics(hits, relevant)
        instruments = _instruments(hits, self.lexicon)
        return Verdict(
            relevant=relevant,
            score=score,
            jurisdictions=jurisdictions,
            topics=topics,
            instruments=instruments,
            evidence=tuple(evidence),
        )

    def _jurisdictions(
        self,
        hits: Sequence[Hit],
        seg_ai: dict[int, float],
        seg_gov: dict[int, float],
        hints: Sequence[str],
        evidence: list[Evidence],
        texts: dict[str, str],
    ) -> tuple[str, ...]:
        scores: dict[str, float] = defaultdict(float)
        first_seen: dict[str, int] = {}
        # One span counts once per code even when several lexicon entries share its text
        # ("China" the country and "china", Spanish for Chinese).
        best_per_span: dict[tuple[str, int, str], float] = {}
        gov_starts = {
            (h.field, h.start)
            for h in hits
            if h.entry.kind in ("governance", "actor", "institution", "ai_governance")
        }
        for n, h in enumerate(hits):
            e = h.entry
            if not e.jurisdictions:
                continue
            if e.kind == "jurisdiction":
                base = e.weight
                if e.label in ("names", "capitals") and _attributive(h, texts, gov_starts):
                    base = min(base, _ATTRIBUTIVE_WEIGHT)
            else:
                base = _JUR_KIND_WEIGHT.get(e.kind, 0.6)
            fw = _JUR_TITLE if h.field == "title" else (1.0 if h.segment == 1 else 0.8)
            prox = 1.0
            if seg_gov.get(h.segment, 0.0) > 0.2:
                prox += 0.3
            if seg_ai.get(h.segment, 0.0) > 0.0:
                prox += 0.2
            for code in e.jurisdictions:
                key = (h.field, h.start, code)
                value = base * fw * prox
                prev = best_per_span.get(key, 0.0)
                if value > prev:
                    scores[code] += value - prev
                    best_per_span[key] = value
                first_seen.setdefault(code, n)
        for raw in hints:
            code = str(raw).strip().upper()
            if not code:
                continue
            scores[code] += _HINT_WEIGHT
            first_seen.setdefault(code, len(hits))
            evidence.append(
                Evidence(rule="hint", term=code, text=code, field="hint", weight=_HINT_WEIGHT)
            )
        if not scores:
            return ()
        best = max((v for c, v in scores.items() if c != "INTL"), default=0.0)
        chosen = []
        for code, v in scores.items():
            if v < _JUR_MIN:
                continue
            if code != "INTL" and v < _JUR_RELATIVE * best:
                continue
            chosen.append(code)
        # Hints alone never outweigh what the text says, but fill in when it says nothing.
        if not chosen:
            hinted = [str(h).strip().upper() for h in hints if str(h).strip()]
            chosen = list(dict.fromkeys(hinted))
        chosen.sort(key=lambda c: (-scores[c], first_seen[c]))
        return tuple(chosen)

    def _topics(self, hits: Sequence[Hit], relevant: bool) -> tuple[str, ...]:
        scores: dict[str, float] = defaultdict(float)
        headline: set[str] = set()  # topics a strong cue in the title states outright
        for h in hits:
            e = h.entry
            if not e.topics:
                continue
            w = e.weight if e.weight > 0 else 0.6
            if h.field == "title" and w >= _TOPIC_HEADLINE and not e.needs_actor:
                headline.update(e.topics)
            w = min(w, 1.0) * (2.0 if h.field == "title" else _field_weight(h))
            for t in e.topics:
                scores[t] += w
        if scores:
            best = max(scores.values())
            chosen = [
                t
                for t, v in scores.items()
                if v >= _TOPIC_MIN and (v >= _TOPIC_RELATIVE * best or t in headline)
            ]
            chosen.sort(key=lambda t: (-scores[t], TOPICS.index(t)))
            chosen = chosen[:_TOPIC_MAX]
        else:
            chosen = []
        if relevant and not chosen:
            chosen = ["other-policy"]
        return tuple(chosen)


def _instruments(hits: Sequence[Hit], lex: Lexicon) -> tuple[str, ...]:
    names: list[str] = []
    for h in hits:
        if h.entry.kind == "instrument":
            name = lex.instruments.get(h.entry.ident, h.entry.label)
            if name and name not in names:
                names.append(name)
    return tuple(names)


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


def _norm_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    return str(lang).strip().lower()[:2] or None
