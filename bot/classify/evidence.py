"""Evidence: the records of why a verdict is what it is, beyond the hits the kernel records.

A verdict's evidence is, in this order: one record per hit (rule = the entry's kind), then the
score's parts (rule "score"), then the feeds' hints (rule "hint").
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.classify.relevance import Relevance
from bot.verdict import Evidence

HINT_WEIGHT = 0.5  # what a feed's jurisdiction hint adds to its code's score


def score_evidence(rel: Relevance) -> list[Evidence]:
    """The parts of the relevance score that are not zero."""
    parts = (
        ("pair-title", rel.pair_title),
        ("pair-summary", rel.pair_summary),
        ("pair-cross", rel.cross),
        ("negatives", rel.negative),
    )
    return [Evidence("score", name, "", "", -1, -1, round(v, 4), "") for name, v in parts if v > 0]


def hint_evidence(hints: Sequence[str], evidence: list[Evidence]) -> list[str]:
    """The feeds' jurisdiction hints as codes, each recorded in `evidence`."""
    codes = []
    for raw in hints:
        code = str(raw).strip().upper()
        if code:
            codes.append(code)
            evidence.append(
                Evidence(rule="hint", term=code, text=code, field="hint", weight=HINT_WEIGHT)
            )
    return codes
