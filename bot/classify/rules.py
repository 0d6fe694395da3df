"""Rule compilation: each lexicon entry -> the Rule the classifier reads per hit.

Everything the steps would otherwise re-derive from an entry for every hit (its kind as a code,
its weights as noisy-or factors, how it counts as jurisdiction or topic evidence) is decided
here once, when the classifier is built. Also here: the country and US-state names the
shipped lexicon does not spell out, taken from pycountry.
"""

from __future__ import annotations

from typing import Any

from bot.classify import jurisdictions, kernel, relevance, topics
from bot.classify.entries import Entry, Lexicon
from bot.classify.folding import is_wide, lower_same_length
from bot.classify.kernel import Rule
from bot.classify.lexicon import make_entry

KIND_CODES = {
    "ai": kernel.AI,
    "compute": kernel.COMPUTE,
    "governance": kernel.GOV,
    "ai_governance": kernel.AI_GOV,
    "institution": kernel.INSTITUTION,
    "instrument": kernel.INSTRUMENT,
    "actor": kernel.ACTOR,
    "jurisdiction": kernel.JUR,
    "negative": kernel.NEG,
    "topic": kernel.TOPIC,
    "neutral": kernel.NEUTRAL,
    "context": kernel.CONTEXT,
}
_NEAR_CODES = {"ai": kernel.AI, "compute": kernel.COMPUTE, "actor": kernel.ACTOR}
# Kinds whose topics say what the item is about (and so whether chips count as AI evidence).
_TOPIC_KINDS = frozenset({"governance", "ai_governance", "institution", "instrument", "topic"})
# How far a context's scope reaches, in characters (up to the end of its clause).
_SCOPE_LATIN = 50
_SCOPE_WIDE = 16
# A place as the governmental actor of its sentence, by its label: "weak" names are not.
_ACTOR_STRENGTH = {"weak": 0.0, "demonyms": 0.35}
_PLACE_ACTOR_STRENGTH = 0.6
_DEFAULT_TOPIC_WEIGHT = 0.6  # a topic cue without a weight of its own
_NEGATIVE_IN_SUMMARY = 0.6  # a negative in the summary counts for less than in the title

# Country names from pycountry that are too often something else in news text.
_AMBIGUOUS_COUNTRY_NAMES = frozenset(
    {
        "jersey", "georgia", "jordan", "chad", "guinea", "niger", "turkey", "dominica",
        "mali", "togo", "cuba", "panama", "peru", "monaco", "samoa", "bermuda", "aruba",
        "guam", "jamaica", "malta", "cyprus", "iceland",
    }
)  # fmt: skip


# What compile_rule works out from an entry's meaning (all but its term), by that meaning:
# the terms of one group share it, so each is worked out once.
_MEANINGS: dict[tuple[object, ...], dict[str, Any]] = {}


def compile_rule(e: Entry) -> Rule:
    """The Rule of one lexicon entry."""
    key = (
        e.kind,
        e.weight,
        e.topics,
        e.jurisdictions,
        e.needs_actor,
        e.ai,
        e.label,
        e.ident,
        e.generic,
        e.from_actor,
        e.near,
        e.scope,
        e.unless_actor,
    )
    meaning = _MEANINGS.get(key)
    if meaning is None:
        meaning = _MEANINGS[key] = _meaning(e)
    return Rule(
        term=e.term,
        window=_SCOPE_WIDE if e.term and is_wide(e.term[0]) else _SCOPE_LATIN,
        **meaning,
    )


def _meaning(e: Entry) -> dict[str, Any]:
    """compile_rule's fields that do not depend on the entry's term."""
    is_place = e.kind == "jurisdiction"
    attributive = is_place and e.label in ("names", "capitals")
    demonym = is_place and e.label == "demonyms"
    # Its weight as jurisdiction evidence: a place's own, other kinds' by kind.
    base = (
        e.weight
        if is_place
        else jurisdictions.KIND_WEIGHT.get(e.kind, jurisdictions.OTHER_KIND_WEIGHT)
    )
    if attributive and base > jurisdictions.ATTRIBUTIVE_WEIGHT:
        jur_mode = jurisdictions.ATTRIBUTIVE  # a modifier when a noun it describes follows
    elif demonym:
        jur_mode = jurisdictions.DEMONYM  # an actor next to a governmental word
    else:
        jur_mode = jurisdictions.PLAIN
    # Only a specific cue makes chips AI evidence: "invest", "billion" or "sell" next to
    # "chips" is as often company news ("TSMC to invest $100bn in chip plants").
    compute_cue = (
        bool(relevance.COMPUTE_TOPICS.intersection(e.topics))
        and e.kind in _TOPIC_KINDS
        and not e.generic
        and not e.near
    )
    topical = bool(e.topics or e.from_actor)
    w = e.weight if e.weight > 0 else _DEFAULT_TOPIC_WEIGHT
    return dict(
        kind=KIND_CODES[e.kind],
        kind_name=e.kind,
        label=e.label,
        ident=e.ident,
        weight=e.weight,
        ai=e.ai,
        needs_actor=e.needs_actor,
        detail=detail(e),
        topics=e.topics,
        jurisdictions=e.jurisdictions,
        near=tuple(_NEAR_CODES[k] for k in e.near),
        from_actor=e.from_actor,
        generic=e.generic,
        scope=e.scope,
        unless_actor=e.unless_actor,
        compute_cue=compute_cue,
        topical=topical,
        extra=bool(compute_cue or e.jurisdictions or topical),
        actor_strength=_ACTOR_STRENGTH.get(e.label, _PLACE_ACTOR_STRENGTH),
        q=1.0 - relevance.clip(e.weight),
        q_actor=1.0 - relevance.clip(kernel.ACTOR_GOV * e.weight),
        q_summary=1.0 - relevance.clip(e.weight * _NEGATIVE_IN_SUMMARY),
        base=base,
        jur_mode=jur_mode,
        jur_modifier=base <= jurisdictions.ATTRIBUTIVE_WEIGHT and (attributive or demonym),
        topic_weight=min(w, 1.0),
        headline_topic=w >= topics.TOPIC_HEADLINE
        and not e.needs_actor
        and not e.generic
        and not e.from_actor,
        topic_role=_topic_role(e),
        names_instrument=not e.needs_actor
        and bool(topics.INSTRUMENT_TOPICS.intersection(e.topics)),
    )


def _topic_role(e: Entry) -> int:
    if e.kind in ("actor", "jurisdiction"):
        return topics.ROLE
    if e.from_actor:
        return topics.VERB
    if e.kind == "institution":
        return topics.BODY
    return topics.CUE


def detail(e: Entry) -> str:
    """What a hit of the entry supports, for its evidence: codes, topics, label."""
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


def weak_terms(lexicon: Lexicon) -> frozenset[str]:
    """The governance terms weighed by their sentence's actor (see kernel.scan)."""
    return frozenset(e.term for e in lexicon.entries if e.kind == "governance" and e.needs_actor)


def pycountry_entries(lex: Lexicon) -> list[Entry]:
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
        key = lower_same_length(name)
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
    # (pycountry gives the subdivisions as a set: sorted, the entries come in the same order
    # in every process)
    states = pycountry.subdivisions.get(country_code="US") or ()
    for s in sorted(states, key=lambda s: s.code):
        if s.type == "State":
            add("US", s.name, "places", 0.8)
    return out
