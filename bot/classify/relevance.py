"""Relevance: is the item AI-governance news?

It needs AI evidence and governance evidence *together*: in the title, in one sentence of the
summary, or (weaker) one in the title and the other in the summary. Weak governance words
("launches", "plan", "alliance", "blocks") count only next to a governmental actor (the kernel
weighs them), so "Google launches an AI lab" is not policy while "Trump launches an AI
mission" is. Negative cues (funding rounds, research results, product launches, sport,
theatre) scale the score down without vetoing it, so a real policy story that mentions a
start-up still gets through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.classify.kernel import Segment

DEFAULT_THRESHOLD = 0.5
# Items scoring at least this share of the threshold get jurisdictions and topics: a near
# miss still says where and what.
TAGS_SHARE_OF_THRESHOLD = 0.5
# Field weights: the title says what the story is about; later sentences drift.
SUMMARY_SENTENCE_WEIGHT = (0.0, 0.85, 0.75, 0.6)  # by sentence, the last for all later ones
_CROSS_WEIGHT = 0.6  # AI in the title, governance only in the summary (or the reverse)
_NEGATIVE_STRENGTH = 3.0  # log-odds a full-strength negative takes away
# Compute/chip terms are AI evidence only when the item is about export controls or public
# industrial policy (chip export bans, CHIPS Act grants); "AI chip maker raises $1bn" is not.
COMPUTE_TOPICS = frozenset({"export-controls", "public-investment", "legislation"})
_COMPUTE_ELSEWHERE = 0.3


def sentence_weight(seg: int) -> float:
    """How much a summary sentence (1, 2, ...) counts."""
    w = SUMMARY_SENTENCE_WEIGHT
    return w[seg] if seg < len(w) else w[-1]


def clip(v: float) -> float:
    """A piece of evidence as a probability for a noisy-or: at most 0.99, at least 0."""
    return 0.0 if v <= 0.0 else (v if v < 0.99 else 0.99)


@dataclass(slots=True)
class Relevance:
    score: float  # 0..1, rounded to 4 places
    relevant: bool
    tagged: bool  # relevant or a near miss: jurisdictions and topics are worked out
    pair_title: float  # AI and governance evidence together in the title
    pair_summary: float  # ... in a sentence of the summary
    cross: float  # ... one in the title, the other in the summary
    negative: float  # the negatives' evidence
    seg_ai: list[float]  # AI evidence by sentence (0: the title), compute included
    seg_gov: list[float]  # governance evidence by sentence


def relevance(
    segments: Sequence[Segment],
    compute_cue: bool,
    q_neg_title: float,
    q_neg_summary: float,
    threshold: float,
) -> Relevance:
    """The score from the sentences' evidence (`segments`, in order) and the negatives' (as
    1 - their noisy-or in the title and in the summary)."""
    compute_factor = 1.0 if compute_cue else _COMPUTE_ELSEWHERE
    # By sentence: the title and at least one summary sentence (those without hits have none).
    n_segs = max(segments[-1][0] + 1 if segments else 0, 2)
    seg_ai = [0.0] * n_segs
    seg_gov = [0.0] * n_segs
    for i, ai, compute, gov in segments:
        seg_ai[i] = max(ai, compute * compute_factor)
        seg_gov[i] = gov
    pair_title = seg_ai[0] * seg_gov[0]
    q_summary = 1.0
    for i in range(1, n_segs):
        q_summary *= 1.0 - clip(seg_ai[i] * seg_gov[i] * sentence_weight(i))
    pair_summary = 1.0 - q_summary
    ai_sum = max(seg_ai[1:])
    gov_sum = max(seg_gov[1:])
    cross = _CROSS_WEIGHT * max(seg_ai[0] * gov_sum, ai_sum * seg_gov[0])
    positive = 1.0 - (1.0 - clip(pair_title)) * (1.0 - clip(pair_summary)) * (1.0 - clip(cross))
    negative = 1.0 - (1.0 - clip(1.0 - q_neg_title)) * (1.0 - clip(1.0 - q_neg_summary))
    # Negatives push in log-odds space: they sink middling evidence but leave a clear
    # "AI law passed" title standing even when the summary talks about start-ups.
    if positive <= 0.0:
        score = 0.0
    else:
        p = min(positive, 0.995)
        logit = math.log(p / (1.0 - p)) - _NEGATIVE_STRENGTH * negative
        score = 1.0 / (1.0 + math.exp(-logit))
    score = round(min(max(score, 0.0), 1.0), 4)
    relevant = score >= threshold and score > 0.0
    tagged = relevant or score >= threshold * TAGS_SHARE_OF_THRESHOLD
    return Relevance(
        score, relevant, tagged, pair_title, pair_summary, cross, negative, seg_ai, seg_gov
    )
