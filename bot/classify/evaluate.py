"""Scoring the classifier against labelled items (JSON Lines), for `policybot eval` and tests.

Labels per item: `relevant` (bool), `jurisdictions`, `topics`, optional `lang`. Metrics:
precision/recall/F1 for relevance; micro-F1 of jurisdictions and topics over the items that are
relevant in the labels (the tags of an irrelevant item do not matter); recall per language;
the lists of misses and false alarms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bot import errors
from bot.classify.engine import Classifier
from bot.verdict import Verdict, evidence_dicts


class InputError(errors.InputError):
    """A line of input that cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class InputItem:
    line: int
    id: Any
    title: str
    summary: str
    lang: str | None
    hints: tuple[str, ...]
    raw: dict[str, Any]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


# Values orjson reads exactly as json does: it reads integers beyond 64 bits as floats.
_EXACT = frozenset({str, int, bool, type(None)})


def _loads(s: str) -> Any:
    """json.loads(s), read by orjson (in a fifth of the time) when that gives the same: a
    JSON object of strings, integers, booleans, nulls and lists of strings, as items are.
    What orjson refuses (NaN, lone surrogates, errors) or may read otherwise goes to json."""
    try:
        obj = orjson.loads(s)
    except orjson.JSONDecodeError:
        return json.loads(s)
    if type(obj) is not dict:
        return json.loads(s)
    for v in obj.values():
        t = type(v)
        if t not in _EXACT and (t is not list or any(type(x) is not str for x in v)):
            return json.loads(s)
    return obj


def parse_line(line_no: int, line: str) -> InputItem | None:
    """One JSON Lines record -> InputItem; None for a blank line; InputError when unusable."""
    s = line.strip()
    if not s:
        return None
    try:
        obj = _loads(s)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"line {line_no}: expected a JSON object, got {type(obj).__name__}")
    try:
        title = _text(obj.get("title"))
        summary = _text(obj.get("summary"))
    except TypeError as exc:
        raise InputError(f"line {line_no}: title/summary: {exc}") from None
    lang = obj.get("lang")
    lang = lang.strip() or None if isinstance(lang, str) else None
    hints_raw = obj.get("hints") or obj.get("feed_jurisdictions") or ()
    hints = tuple(str(h) for h in hints_raw) if isinstance(hints_raw, list) else ()
    return InputItem(line_no, obj.get("id"), title, summary, lang, hints, obj)


def read_items(lines: Iterable[str]) -> Iterator[InputItem | InputError]:
    for n, line in enumerate(lines, start=1):
        try:
            item = parse_line(n, line)
        except InputError as exc:
            yield exc
            continue
        if item is not None:
            yield item


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add_sets(self, predicted: Iterable[str], gold: Iterable[str]) -> None:
        ps, gs = set(predicted), set(gold)
        self.tp += len(ps & gs)
        self.fp += len(ps - gs)
        self.fn += len(gs - ps)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True, slots=True)
class Case:
    id: Any
    lang: str | None
    title: str
    gold_relevant: bool
    verdict: Verdict
    gold_jurisdictions: tuple[str, ...]
    gold_topics: tuple[str, ...]


@dataclass
class EvalReport:
    n: int = 0
    relevance: PRF = field(default_factory=PRF)
    jurisdictions: PRF = field(default_factory=PRF)
    topics: PRF = field(default_factory=PRF)
    per_language: dict[str, PRF] = field(default_factory=dict)
    misses: list[Case] = field(default_factory=list)
    false_alarms: list[Case] = field(default_factory=list)
    tag_errors: list[Case] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def language_recall(self) -> dict[str, tuple[float, int]]:
        return {
            lang: (prf.recall, prf.tp + prf.fn)
            for lang, prf in sorted(self.per_language.items())
            if prf.tp + prf.fn
        }

    def as_dict(self) -> dict[str, Any]:
        def case(c: Case) -> dict[str, Any]:
            return {
                "id": c.id,
                "lang": c.lang,
                "title": c.title,
                "score": c.verdict.score,
                "gold_jurisdictions": list(c.gold_jurisdictions),
                "jurisdictions": list(c.verdict.jurisdictions),
                "gold_topics": list(c.gold_topics),
                "topics": list(c.verdict.topics),
            }

        return {
            "items": self.n,
            "relevance": self.relevance.as_dict(),
            "jurisdictions": self.jurisdictions.as_dict(),
            "topics": self.topics.as_dict(),
            "recall_by_language": {
                lang: {"recall": round(r, 4), "relevant": n}
                for lang, (r, n) in self.language_recall().items()
            },
            "misses": [case(c) for c in self.misses],
            "false_alarms": [case(c) for c in self.false_alarms],
            "skipped": self.skipped,
        }


def _codes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def evaluate(classifier: Classifier, items: Iterable[InputItem | InputError]) -> EvalReport:
    report = EvalReport()
    for item in items:
        if isinstance(item, InputError):
            report.skipped.append(str(item))
            continue
        gold = item.raw.get("relevant")
        if not isinstance(gold, bool):
            report.skipped.append(f"line {item.line}: no boolean `relevant` label")
            continue
        v = classifier.classify(item.title, item.summary, lang=item.lang, hints=item.hints)
        case = Case(
            id=item.id,
            lang=item.lang,
            title=item.title,
            gold_relevant=gold,
            verdict=v,
            gold_jurisdictions=_codes(item.raw.get("jurisdictions")),
            gold_topics=_codes(item.raw.get("topics")),
        )
        report.n += 1
        lang_prf = report.per_language.setdefault(item.lang or "?", PRF())
        if gold and v.relevant:
            report.relevance.tp += 1
            lang_prf.tp += 1
        elif gold:
            report.relevance.fn += 1
            lang_prf.fn += 1
            report.misses.append(case)
        elif v.relevant:
            report.relevance.fp += 1
            lang_prf.fp += 1
            report.false_alarms.append(case)
        if gold:
            report.jurisdictions.add_sets(v.jurisdictions, case.gold_jurisdictions)
            report.topics.add_sets(v.topics, case.gold_topics)
            if set(v.jurisdictions) != set(case.gold_jurisdictions) or set(v.topics) != set(
                case.gold_topics
            ):
                report.tag_errors.append(case)
    return report


def evaluate_file(classifier: Classifier, path: Path) -> EvalReport:
    with path.open(encoding="utf-8") as fh:
        return evaluate(classifier, read_items(fh))


def quality_failures(
    report: EvalReport,
    *,
    min_f1: float = 0.92,
    min_precision: float = 0.92,
    min_jurisdiction_f1: float = 0.90,
    min_topic_f1: float = 0.75,
    min_language_recall: float = 0.85,
    min_language_items: int = 5,
) -> list[str]:
    """The project's quality targets; an empty list means all are met."""
    out = []
    if report.relevance.f1 < min_f1:
        out.append(f"relevance F1 {report.relevance.f1:.3f} < {min_f1}")
    if report.relevance.precision < min_precision:
        out.append(f"relevance precision {report.relevance.precision:.3f} < {min_precision}")
    if report.jurisdictions.f1 < min_jurisdiction_f1:
        out.append(f"jurisdiction micro-F1 {report.jurisdictions.f1:.3f} < {min_jurisdiction_f1}")
    if report.topics.f1 < min_topic_f1:
        out.append(f"topic micro-F1 {report.topics.f1:.3f} < {min_topic_f1}")
    for lang, (recall, n) in report.language_recall().items():
        if n >= min_language_items and recall < min_language_recall:
            out.append(f"recall in {lang} {recall:.3f} < {min_language_recall} ({n} relevant)")
    return out


def verdict_record(item_id: Any, v: Verdict, evidence: bool = True) -> dict[str, Any]:
    """The output record of one item: its id, then the verdict's fields as Verdict.to_dict()
    gives them (without the evidence when `evidence` is false)."""
    rec = {
        "id": item_id,
        "relevant": v.relevant,
        "score": v.score,
        "jurisdictions": list(v.jurisdictions),
        "topics": list(v.topics),
        "instruments": list(v.instruments),
    }
    if evidence:
        rec["evidence"] = evidence_dicts(v.evidence)
    return rec
