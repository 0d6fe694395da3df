"""The classifier's output: a verdict with the evidence of why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

TOPICS: tuple[str, ...] = (
    "legislation",
    "regulation",
    "executive-action",
    "international-cooperation",
    "standards-safety",
    "enforcement-litigation",
    "export-controls",
    "public-investment",
    "other-policy",
)


class Evidence(NamedTuple):
    """One matched span or fired rule. A named tuple rather than a dataclass: ~25 are made per
    classified item, and a tuple is several times cheaper to build."""

    rule: str  # which rule fired, e.g. "ai-term", "gov-term", "jurisdiction", "negative"
    term: str  # the lexicon entry that matched
    text: str  # the matched span as it stands in the item
    field: str  # "title" or "summary" or "hint"
    start: int = -1
    end: int = -1
    weight: float = 0.0
    detail: str = ""  # e.g. the jurisdiction code or topic the match supports


def evidence_dicts(evidence: Iterable[Evidence]) -> list[dict[str, Any]]:
    """Evidence records as dicts (what Evidence._asdict() gives, in half the time: a verdict's
    output is mostly its evidence)."""
    return [
        {
            "rule": rule,
            "term": term,
            "text": text,
            "field": fld,
            "start": start,
            "end": end,
            "weight": weight,
            "detail": detail,
        }
        for rule, term, text, fld, start, end, weight, detail in evidence
    ]


@dataclass(frozen=True, slots=True)
class Verdict:
    relevant: bool
    score: float  # 0..1
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relevant": self.relevant,
            "score": self.score,
            "jurisdictions": list(self.jurisdictions),
            "topics": list(self.topics),
            "instruments": list(self.instruments),
            "evidence": evidence_dicts(self.evidence),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(
            relevant=bool(d["relevant"]),
            score=float(d["score"]),
            jurisdictions=tuple(d.get("jurisdictions", ())),
            topics=tuple(d.get("topics", ())),
            instruments=tuple(d.get("instruments", ())),
            evidence=tuple(Evidence(**e) for e in d.get("evidence", ())),
        )
