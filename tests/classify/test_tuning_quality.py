"""Quality on the tuning sets (tests/classify/data/tuning*.jsonl, see README.md there).

Each was written as a held-out set, scored once, then used to find general gaps: they are
tuning sets now, and these targets guard against regressions, not estimate quality on unseen
news (the first runs recorded in the README, and fresh-2026-12.md, do that). The targets sit
a little below what the classifier reaches; do not add rules for single items to pass them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.classify import TOPICS, Classifier
from bot.classify.evaluate import evaluate_file, quality_failures

HOLDOUT = Path(__file__).parent / "data" / "tuning1.jsonl"

# Reached when the set was last scored: relevance F1 0.985 (precision 0.971), jurisdiction
# micro-F1 0.972, topic micro-F1 0.896, recall 1.0 in every language.
MIN_F1 = 0.96
MIN_PRECISION = 0.95
MIN_JURISDICTION_F1 = 0.95
MIN_TOPIC_F1 = 0.86
MIN_LANGUAGE_RECALL = 0.85  # in every language with 5+ relevant items


def _rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()]


def test_tuning1_is_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 250
    assert len({r["id"] for r in rows}) == len(rows)
    langs = Counter(str(r["lang"]) for r in rows)
    for lang in ("zh", "ja", "ko", "es", "fr", "de", "pt", "it"):
        assert langs[lang] >= 15, lang
    share = sum(bool(r["relevant"]) for r in rows) / len(rows)
    assert 0.35 <= share <= 0.55
    for r in rows:
        assert isinstance(r["title"], str) and r["title"]
        assert isinstance(r["jurisdictions"], list) and isinstance(r["topics"], list)
        assert set(r["topics"]) <= set(TOPICS), r["id"]
        # tags belong to relevant items only, and every relevant item has some
        assert bool(r["relevant"]) == bool(r["jurisdictions"]) == bool(r["topics"]), r["id"]


def test_tuning1_quality_targets(clf: Classifier) -> None:
    report = evaluate_file(clf, HOLDOUT)
    assert report.n == len(_rows()) and not report.skipped
    problems = quality_failures(
        report,
        min_f1=MIN_F1,
        min_precision=MIN_PRECISION,
        min_jurisdiction_f1=MIN_JURISDICTION_F1,
        min_topic_f1=MIN_TOPIC_F1,
        min_language_recall=MIN_LANGUAGE_RECALL,
        min_language_items=5,
    )
    detail = [f"miss {c.id}: {c.title}" for c in report.misses] + [
        f"false alarm {c.id}: {c.title}" for c in report.false_alarms
    ]
    assert not problems, "\n".join(problems + detail)


# Later sets, each written by someone who had not read the lexicons, labelled and hashed, scored
# once as they were, then tuned on (general rules only); they guard those rules the way the
# first set does. First-run figures are the honest ones for unseen items (README.md there).
LATER_SETS = {
    # first run: relevance F1 0.884, jurisdiction F1 0.883, topic F1 0.575
    # last scored: 0.993 (precision 1.0), 0.958, 0.880; language recall >= 0.97
    "tuning2.jsonl": {"f1": 0.96, "precision": 0.95, "jur": 0.93, "topic": 0.83, "lang": 0.85},
    # first run: relevance F1 0.889 (P 0.933, R 0.848), jurisdiction F1 0.865, topic F1 0.626
    # last scored: 0.959 (precision 0.979), 0.904, 0.811; language recall >= 0.83 (de, es, fr
    # have 6-7 relevant items: one miss is 0.14)
    "tuning3.jsonl": {"f1": 0.93, "precision": 0.94, "jur": 0.88, "topic": 0.75, "lang": 0.8},
    # 17 languages; first run (fresh-2026-12.md, the estimate for unseen news): relevance F1
    # 0.809, jurisdiction F1 0.752, topic F1 0.679; last scored: 0.972 (precision 0.954),
    # 0.950, 0.866; language recall >= 0.89 (zh: 9 relevant items, one borderline miss)
    "fresh-2026-12.jsonl": {
        "f1": 0.95,
        "precision": 0.93,
        "jur": 0.92,
        "topic": 0.83,
        "lang": 0.85,
    },
}


@pytest.mark.parametrize("name", sorted(LATER_SETS))
def test_later_tuning_sets_are_well_formed(name: str) -> None:
    path = HOLDOUT.with_name(name)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150
    assert len({r["id"] for r in rows}) == len(rows)
    others = {r["id"] for r in _rows()}
    for other in LATER_SETS:
        if other != name:
            text = HOLDOUT.with_name(other).read_text(encoding="utf-8")
            others |= {json.loads(line)["id"] for line in text.splitlines()}
    assert not others & {r["id"] for r in rows}
    for r in rows:
        assert set(r["topics"]) <= set(TOPICS), r["id"]
        assert bool(r["relevant"]) == bool(r["jurisdictions"]) == bool(r["topics"]), r["id"]


@pytest.mark.parametrize("name", sorted(LATER_SETS))
def test_later_tuning_set_quality_targets(clf: Classifier, name: str) -> None:
    path, target = HOLDOUT.with_name(name), LATER_SETS[name]
    report = evaluate_file(clf, path)
    assert report.n >= 150 and not report.skipped
    problems = quality_failures(
        report,
        min_f1=target["f1"],
        min_precision=target["precision"],
        min_jurisdiction_f1=target["jur"],
        min_topic_f1=target["topic"],
        min_language_recall=target["lang"],
        min_language_items=5,
    )
    detail = [f"miss {c.id}: {c.title}" for c in report.misses] + [
        f"false alarm {c.id}: {c.title}" for c in report.false_alarms
    ]
    assert not problems, "\n".join(problems + detail)
