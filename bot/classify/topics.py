"""Topics: what kind of policy an item is about (TOPICS in verdict.py).

Topic scores come from the hits that carry topics. A strong cue in the title states its topic
outright; others need a share of the best topic's score. Generic cues ("rules", "restricts",
"regulating") count only when no specific cue decides: "restricts exports of AI chips" is
export controls, "law regulating AI" is legislation. Governmental actors have a role
(parliament: legislation, cabinet: executive action): an approval verb ("aprueba", "adopts",
"beschließt") takes the role of the actor in its sentence (or the title's), and when no cue
decides, the actors' roles do.

How topics settle against each other is in one table, TOPIC_PRECEDENCE; topics() applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.classify.kernel import AI, COMPUTE, NEAR_ACTOR, Rule, Scope, Segment, TopicHit
from bot.classify.relevance import sentence_weight
from bot.verdict import TOPICS

TOPIC_MIN = 0.8  # the score a topic needs
TOPIC_RELATIVE = 0.45  # ... and this share of the best topic's (unless the title states it)
TOPIC_MAX = 3
TOPIC_HEADLINE = 0.85  # a title cue this strong states its topic (rules.compile_rule)
_TITLE_WEIGHT = 2.0  # a cue in the title counts double
_ROLE_RELATIVE = 0.7  # actors' roles, the last resort: the main one or two
_ROLE_MAX = 2
MULTILATERAL = "INTL"  # the jurisdiction code of multilateral bodies (G7, UN, OECD)

# What a topic hit is to topics() (Rule.topic_role): a governmental actor's role, an approval
# verb that takes the role of its sentence's actor, a body (a cue, and a role too), or a cue.
ROLE, VERB, BODY, CUE = range(4)

STATED = "stated"  # Standing.multilateral: the topic is stated outright


@dataclass(frozen=True, slots=True)
class Standing:
    """How one topic stands against the others: a row of TOPIC_PRECEDENCE."""

    # Its cues name a legal instrument ("bill", "decree", "rules"): in their sentence, an
    # approval verb gives the instrument's topic, not the approver's role...
    names_instrument: bool = False
    # ... unless the approver's role is this topic: whatever a parliament passes is legislation.
    role_beside_instrument: bool = False
    # Weak (needs-actor) cues of it ("agree", "pledges", "deal") count only when several
    # jurisdictions act, or a multilateral one.
    needs_partners: bool = False
    # Then its score is multiplied by this, up to TOPIC_MIN: enough to state the topic, not to
    # crowd out the others.
    partner_boost: float = 1.0
    # In a multilateral item: STATED (it is a topic outright, and its cues never set the bar
    # for the others), or the topic whose score it adds to instead (what multilateral bodies
    # set is soft law: their rules are standards), or "" (no change).
    multilateral: str = ""
    # The topic of a relevant item that no cue and no actor's role gives a topic.
    fallback: bool = False


# Which topic wins, yields to or merges into which, in one place. Beyond these rows, evidence
# is weighed in tiers, each tried only when the one before gives no topic: specific cues, then
# specific and generic cues together, then the actors' roles (the main one or two), then the
# fallback. Within a tier, topics with TOPIC_MIN and TOPIC_RELATIVE of the best (or stated in
# the title) are chosen, highest score first, ties in the order of this table.
TOPIC_PRECEDENCE: dict[str, Standing] = {
    "legislation": Standing(names_instrument=True, role_beside_instrument=True),
    "regulation": Standing(names_instrument=True, multilateral="standards-safety"),
    "executive-action": Standing(names_instrument=True),
    "international-cooperation": Standing(
        needs_partners=True, partner_boost=2.0, multilateral=STATED
    ),
    "standards-safety": Standing(),
    "enforcement-litigation": Standing(),
    "export-controls": Standing(),
    "public-investment": Standing(),
    "other-policy": Standing(fallback=True),
}
assert tuple(TOPIC_PRECEDENCE) == TOPICS, "TOPIC_PRECEDENCE must list every topic, in order"

INSTRUMENT_TOPICS = frozenset(t for t, s in TOPIC_PRECEDENCE.items() if s.names_instrument)
_ORDER = {t: i for i, t in enumerate(TOPIC_PRECEDENCE)}
_NEEDS_PARTNERS = frozenset(t for t, s in TOPIC_PRECEDENCE.items() if s.needs_partners)
_PARTNER_BOOST = [(t, s.partner_boost) for t, s in TOPIC_PRECEDENCE.items() if s.partner_boost != 1]
_STATED = frozenset(t for t, s in TOPIC_PRECEDENCE.items() if s.multilateral == STATED)
_MERGED = [
    (t, s.multilateral) for t, s in TOPIC_PRECEDENCE.items() if s.multilateral not in ("", STATED)
]
_FALLBACK = tuple(t for t, s in TOPIC_PRECEDENCE.items() if s.fallback)


def in_context(
    hits: list[TopicHit],
    contexts: Sequence[Scope],
    segments: Sequence[Segment],
    seg_actor: dict[int, float],
) -> list[TopicHit]:
    """Topic hits without the topics their context shields ("opts against a new AI law" is
    not legislation) and without `near` cues whose companion is missing from the sentence."""
    out: list[TopicHit] = []
    have: dict[int, tuple[float, float]] | None = None  # sentence -> (AI, compute), if asked
    for hit in hits:
        seg, fld, start, r, topics = hit
        if r.near:
            if have is None:
                have = {i: (a, c) for i, a, c, _ in segments}
            if not _has_companion(r, seg, have, seg_actor):
                continue
        kept = topics
        for c_fld, lo, hi, ctx in contexts:
            if c_fld == fld and lo <= start < hi and ctx.topics:
                kept = tuple(t for t in kept if t not in ctx.topics)
        if kept is topics:
            out.append(hit)  # (a topic hit has topics or takes the actor's)
        elif kept or r.from_actor:
            out.append((seg, fld, start, r, kept))
    return out


def _has_companion(
    r: Rule, seg: int, have: dict[int, tuple[float, float]], seg_actor: dict[int, float]
) -> bool:
    """Does the sentence hold one of the kinds of hit the rule wants near it?"""
    a, c = have.get(seg, (0.0, 0.0))
    for k in r.near:
        if k == AI:
            found = a > 0.0
        elif k == COMPUTE:
            found = c > 0.0
        else:  # an actor as the subject of the sentence
            found = seg_actor.get(seg, 0.0) >= NEAR_ACTOR
        if found:
            return True
    return False


def topics(
    hits: Sequence[TopicHit],
    relevant: bool,
    jurisdictions: Sequence[str] = (),
) -> tuple[str, ...]:
    """The item's topics, from the hits that carry them (see the module's docstring)."""
    specific: dict[str, float] = {}
    generic: dict[str, float] = {}
    role_hits: list[tuple[tuple[str, ...], float]] = []  # actors' roles, weighed if needed
    seg_roles: dict[int, set[str]] = {}
    verbs: list[tuple[int, float]] = []
    named: set[int] = set()  # sentences with a cue naming an instrument ("bill", "decree")
    headline: set[str] = set()
    multilateral = MULTILATERAL in jurisdictions
    partners = multilateral or len(jurisdictions) >= 2
    for seg, _, _, r, cue_topics in hits:
        if seg == 0:
            if r.headline_topic:
                headline.update(cue_topics)
            w = r.topic_weight * _TITLE_WEIGHT
        else:
            w = r.topic_weight * sentence_weight(seg)
        role = r.topic_role
        if role == CUE:
            # (a context may have taken some of the rule's topics away)
            if r.names_instrument if cue_topics is r.topics else names_instrument(r, cue_topics):
                named.add(seg)
        elif role == ROLE:
            seg_roles.setdefault(seg, set()).update(cue_topics)
            role_hits.append((cue_topics, w))
            continue
        elif role == VERB:
            verbs.append((seg, w))
            continue
        else:  # a body's topic is its role too: "CNJ aprova", "G20 aprova"
            seg_roles.setdefault(seg, set()).update(cue_topics)
        scores = generic if r.generic else specific
        for t in cue_topics:
            if partners or not r.needs_actor or t not in _NEEDS_PARTNERS:
                scores[t] = scores.get(t, 0.0) + w
    for seg, w in verbs:
        for t in seg_roles.get(seg) or seg_roles.get(0) or ():
            if seg in named and not TOPIC_PRECEDENCE[t].role_beside_instrument:
                continue
            specific[t] = specific.get(t, 0.0) + w
    if partners:
        for t, factor in _PARTNER_BOOST:
            for scores in (specific, generic):
                v = scores.get(t, 0.0)
                if 0.0 < v < TOPIC_MIN:
                    scores[t] = min(v * factor, TOPIC_MIN)
    unbarred: frozenset[str] = frozenset()
    if multilateral:
        unbarred = _STATED
        for t in _STATED:
            specific[t] = max(specific.get(t, 0.0), TOPIC_MIN)
            headline.add(t)
        for t, into in _MERGED:
            for scores in (specific, generic):
                v = scores.pop(t, 0.0)
                if v:
                    scores[into] = scores.get(into, 0.0) + v
    chosen = _choose(specific, headline, unbarred)
    if not chosen and generic:
        merged = dict(specific)
        for t, v in generic.items():
            merged[t] = merged.get(t, 0.0) + v
        chosen = _choose(merged, headline, unbarred)
    if not chosen and role_hits:
        chosen = _main_roles(role_hits)
    if relevant and not chosen:
        return _FALLBACK
    return tuple(chosen)


def names_instrument(r: Rule, topics: tuple[str, ...]) -> bool:
    """Does a cue with these topics name a legal instrument ("bill", "decree")?"""
    return not r.needs_actor and bool(INSTRUMENT_TOPICS.intersection(topics))


def _choose(scores: dict[str, float], headline: set[str], unbarred: frozenset[str]) -> list[str]:
    """Topics with enough score and a share of the best one's (the `unbarred` topics do not
    count as the best)."""
    if not scores:
        return []
    best = max((v for t, v in scores.items() if t not in unbarred), default=0.0)
    best = best or max(scores.values())
    chosen = [
        t
        for t, v in scores.items()
        if v >= TOPIC_MIN and (v >= TOPIC_RELATIVE * best or t in headline)
    ]
    if len(chosen) > 1:
        chosen.sort(key=lambda t: (-scores[t], _ORDER[t]))
        del chosen[TOPIC_MAX:]
    return chosen


def _main_roles(role_hits: Sequence[tuple[tuple[str, ...], float]]) -> list[str]:
    """ "Carney names Canada's first AI minister": what the actors do, not "other policy"."""
    roles: dict[str, float] = {}
    for cue_topics, w in role_hits:
        for t in cue_topics:
            roles[t] = roles.get(t, 0.0) + w
    if not roles:
        return []
    best = max(roles.values())
    return sorted(
        (t for t, v in roles.items() if v >= _ROLE_RELATIVE * best),
        key=lambda t: (-roles[t], _ORDER[t]),
    )[:_ROLE_MAX]
