"""The classifier's output: a verdict with the evidence of why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Evidence:
    rule: str  # which rule fired, e.g. "ai-term", "gov-term", "jurisdiction", "negative"
    term: str  # the lexicon entry that matched
    text: str  # the matched span as it stands in the item
    field: str  # "title" or "summary" or "hint"
    start: int = -1
    end: int = -1
    weight: float = 0.0
    detail: str = ""  # e.g. the jurisdiction code or topic the match supports


@dataclass(frozen=True, slots=True)
class Verdict:
    relevant: bool
    score: float  # 0..1
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("jurisdictions", "topics", "instruments"):
            d[k] = list(d[k])
        d["evidence"] = [dict(e) for e in d["evidence"]]
        return d

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
